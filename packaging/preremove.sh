#!/bin/sh
# Before the keypool package is removed (.deb prerm remove, .rpm %preun
# with 0), not before an upgrade: the system service is stopped, and the
# links that enabled it, or the user service for every user, are removed.
case "$1" in
remove | 0)
  if [ -d /run/systemd/system ]; then
    systemctl stop keypool.service >/dev/null 2>&1 || true
  fi
  systemctl --no-reload disable keypool.service >/dev/null 2>&1 || true
  systemctl --global disable keypool.service >/dev/null 2>&1 || true
  ;;
esac
exit 0
