#!/bin/sh
# After the keypool package is removed or upgraded (.deb postrm, .rpm
# %postun): systemd forgets the units that went. The service's database in
# /var/lib/keypool stays: it holds the usage history.
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
