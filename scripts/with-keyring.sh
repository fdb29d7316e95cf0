#!/bin/sh
# with-keyring.sh: run a command against a real, throwaway OS keychain.
#
#   scripts/with-keyring.sh go test -count=1 ./app/secrets/
#
# The command runs inside a private D-Bus session (dbus-run-session) whose
# Secret Service is a fresh gnome-keyring with an unlocked login keyring.
# HOME and XDG_RUNTIME_DIR point into a new temp dir (mode 700) and the XDG
# base dirs are unset, so neither the user's keyring nor their session bus is
# touched; Go's caches and settings stay where they were (GO names the go
# command, default "go"). KEYPOOL_REQUIRE_KEYRING=1 is exported: a keychain
# test that finds no Secret Service then fails instead of skipping. The keyring
# daemon is stopped and the temp dir removed afterwards; the exit status is
# the command's. Works as root and as a normal user. Linux only.
#
# Needs, on Debian 12: dbus-daemon (dbus-run-session), dbus-bin (dbus-send),
# gnome-keyring. `make deps` installs them.
set -u

if [ $# -eq 0 ]; then
  echo "usage: $0 command [arg...]" >&2
  exit 2
fi

missing=
command -v dbus-run-session >/dev/null 2>&1 || missing="$missing dbus-daemon"
command -v dbus-send >/dev/null 2>&1 || missing="$missing dbus-bin"
command -v gnome-keyring-daemon >/dev/null 2>&1 || missing="$missing gnome-keyring"
if [ -n "$missing" ]; then
  echo "$0: a private keyring needs these Debian packages:$missing" >&2
  echo "install them with: sudo apt-get install -y$missing   (or: make deps)" >&2
  exit 1
fi

# Go keeps its caches and its settings file under HOME by default: pin them
# before HOME moves.
GO=${GO:-go}
if command -v "$GO" >/dev/null 2>&1; then
  GOCACHE=$("$GO" env GOCACHE) &&
    GOMODCACHE=$("$GO" env GOMODCACHE) &&
    GOPATH=$("$GO" env GOPATH) &&
    GOENV=$("$GO" env GOENV) || exit 1
  export GOCACHE GOMODCACHE GOPATH GOENV
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/keypool-keyring.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
chmod 700 "$tmp" && mkdir -m 700 "$tmp/home" "$tmp/run" || exit 1

export HOME="$tmp/home" XDG_RUNTIME_DIR="$tmp/run" KEYPOOL_REQUIRE_KEYRING=1
unset XDG_DATA_HOME XDG_CONFIG_HOME XDG_CACHE_HOME XDG_STATE_HOME \
  DBUS_SESSION_BUS_ADDRESS GNOME_KEYRING_CONTROL

# Inside the session: start and unlock the keyring, wait until it owns the
# Secret Service name (gnome-keyring-daemon returns a little before that, and
# a call in between would D-Bus-activate a second, locked daemon), run the
# command, then stop the daemon by its pid so its files are closed before the
# temp dir goes.
# shellcheck disable=SC2016 # expanded by the inner shell
inner='
bus() {
  dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus \
    /org/freedesktop/DBus "org.freedesktop.DBus.$1" string:org.freedesktop.secrets 2>/dev/null
}
alive() { # running, not a zombie
  [ -r "/proc/$1/stat" ] && ! sed "s/.*) //" "/proc/$1/stat" | grep -q "^[ZX]"
}
if ! printf %s keypool-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null; then
  echo "with-keyring.sh: gnome-keyring-daemon failed to start" >&2
  exit 1
fi
n=0
until bus NameHasOwner | grep -q true; do
  n=$((n + 1))
  if [ "$n" -ge 100 ]; then
    echo "with-keyring.sh: gnome-keyring did not take the Secret Service name within 10 s" >&2
    exit 1
  fi
  sleep 0.1
done
pid=$(bus GetConnectionUnixProcessID | awk "{print \$2}")
"$@"
rc=$?
if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
  n=0
  while alive "$pid" && [ "$n" -lt 50 ]; do
    n=$((n + 1))
    sleep 0.1
  done
fi
exit "$rc"
'
dbus-run-session -- sh -c "$inner" with-keyring "$@"
rc=$?
exit "$rc"
