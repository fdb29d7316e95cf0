#!/bin/sh
# After the keypool package is installed or upgraded (.deb postinst, .rpm
# %post): systemd reads the units anew. Nothing is enabled or started.
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
