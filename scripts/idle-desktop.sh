#!/usr/bin/env bash
# idle-desktop.sh: what the desktop app costs when nothing happens.
#
#   scripts/idle-desktop.sh build/keypool          (make bench runs it)
#   IDLE_SECONDS=10 scripts/idle-desktop.sh build/keypool   (a quick look)
#
# A measurement, not a test: it prints figures beside their targets and exits
# 0 whether or not they are met (non-zero only when it could not measure).
#
# Under Xvfb (1280x800x24, Mesa's software renderer), in a private D-Bus
# session (dbus-run-session) with a throwaway, unlocked gnome-keyring, HOME,
# XDG dirs and data dir in a new temp dir, it adds an idle pool of 8 accounts
# (4 kinds, a bearer mirror, 2 disabled, one with a daily budget; every URL
# is http://127.0.0.1:9, and no request is ever sent), then runs the app
# three times:
#   hidden   started --hidden, never shown
#   shown    started without --hidden, window on screen
#   closed   started shown, then closed the way a window manager closes it
#            (a WM_DELETE_WINDOW client message; the app hides to the tray)
# Each time it waits SETTLE_SECONDS (8), then over IDLE_SECONDS (60) reads:
#   CPU      utime+stime of /proc/PID/stat (all threads) at both ends, in
#            clock ticks (getconf CLK_TCK), as % of one core; Xvfb's too
#   RSS      VmRSS of /proc/PID/status at the end; "private" is the sum of
#            the Private_* lines of /proc/PID/smaps_rollup (the process's own
#            pages, not the shared libraries and binary it maps)
#   tray     whether its StatusNotifierItem is on the bus at the end
#   signals  dbus-monitor --session "type=signal" over the window: signals
#            not sent by the bus itself (org.freedesktop.DBus), by member
# and once, after the first window, reads the tray over D-Bus
# (StatusNotifierItem Id, Title, Status, ToolTip; the dbusmenu labels) and
# shows what holds the hidden app's memory (RSS by mapping, from smaps).
#
# Everything it starts (app, Xvfb, dbus-monitor, dbus-daemon, keyring) is
# stopped on every exit path; at the end it checks that no process is left.
#
# Needs, on Debian 12: xvfb xauth x11-utils dbus-daemon dbus-bin dbus-x11
# gnome-keyring libglib2.0-bin, and python3 (ctypes, for the close). Missing
# ones are installed (through sudo when not root), as make deps does.
set -u

IDLE_SECONDS=${IDLE_SECONDS:-60}
SETTLE_SECONDS=${SETTLE_SECONDS:-8}

log() { printf '%s\n' "idle-desktop: $*" >&2; }

# ---------------------------------------------------------------- inside ---
# The part that runs inside dbus-run-session (the script calls itself).
if [ "${1:-}" = --inside ]; then
  shift
  BIN=$1
  T=$KEYPOOL_IDLE_TMP
  DATA=$T/data
  PIDS=$T/pids # everything started here, one pid a line
  exec 2>&3 3>&- # our stderr; the session's dbus-daemon talks into a file
  : >"$PIDS"

  alive() { [ -r "/proc/$1/stat" ] && ! sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | grep -q '^[ZX]'; }
  stop_pid() { # TERM, up to 5 s, then KILL
    local p=$1 n=0
    alive "$p" || return 0
    kill -TERM "$p" 2>/dev/null
    while alive "$p" && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
    alive "$p" && kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    return 0
  }
  cleanup() {
    local p
    for p in $(tac "$PIDS" 2>/dev/null); do stop_pid "$p"; done
  }
  trap cleanup EXIT
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 143' TERM

  bus() { # bus METHOD NAME: a call to the bus about a name
    dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus \
      /org/freedesktop/DBus "org.freedesktop.DBus.$1" "string:$2" 2>/dev/null
  }
  ticks() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}'; }
  threads() { # tid, CPU ticks and name of each of a process's threads
    awk '{
      p = 0; while ((j = index(substr($0, p + 1), ")")) > 0) p += j
      o = index($0, "("); split(substr($0, p + 2), f, " "); c = substr($0, o + 1, p - o - 1); gsub(/ /, "_", c)
      print $1, f[12] + f[13], c
    }' /proc/"$1"/task/*/stat 2>/dev/null
  }
  now() { date +%s.%N; }

  # The keyring: unlocked, and owning the Secret Service name before anyone
  # asks (a call in between would D-Bus-activate a second, locked daemon).
  if ! printf %s keypool-idle | gnome-keyring-daemon --unlock --components=secrets >/dev/null; then
    log "gnome-keyring-daemon failed to start"
    exit 1
  fi
  n=0
  until bus NameHasOwner org.freedesktop.secrets | grep -q true; do
    n=$((n + 1))
    if [ $n -ge 100 ]; then log "gnome-keyring did not take org.freedesktop.secrets within 10 s"; exit 1; fi
    sleep 0.1
  done
  kr=$(bus GetConnectionUnixProcessID org.freedesktop.secrets | awk '{print $2}')
  [ -n "$kr" ] && echo "$kr" >>"$PIDS"

  # Xvfb on a free display number, with its own cookie.
  export XAUTHORITY=$T/Xauthority
  : >"$XAUTHORITY"
  XPID= DISP=
  for d in $(seq 90 189); do
    [ -e "/tmp/.X$d-lock" ] || [ -e "/tmp/.X11-unix/X$d" ] && continue
    xauth -q -f "$XAUTHORITY" add ":$d" . "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    Xvfb ":$d" -screen 0 1280x800x24 -nolisten tcp -auth "$XAUTHORITY" >"$T/xvfb.log" 2>&1 &
    XPID=$!
    echo "$XPID" >>"$PIDS"
    n=0
    while alive "$XPID" && ! DISPLAY=:$d xdpyinfo >/dev/null 2>&1 && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    if alive "$XPID" && DISPLAY=:$d xdpyinfo >/dev/null 2>&1; then DISP=:$d; break; fi
    stop_pid "$XPID"
    XPID=
  done
  if [ -z "$DISP" ]; then log "Xvfb did not start on any display :90-:189"; cat "$T/xvfb.log" >&2; exit 1; fi
  export DISPLAY=$DISP LIBGL_ALWAYS_SOFTWARE=1

  # The idle pool: 8 accounts, every upstream on 127.0.0.1:9 (discard; none
  # is ever called). Keys are fake and go to the throwaway keyring.
  add() { # add ID KEY flags...
    local id=$1 key=$2
    shift 2
    printf '%s\n' "$key" | "$BIN" accounts add --data-dir "$DATA" --id "$id" "$@" >>"$T/accounts.log" 2>&1 ||
      { log "keypool accounts add --id $id failed:"; cat "$T/accounts.log" >&2; exit 1; }
  }
  add anthropic-main sk-ant-api03-idle-main --type claude-api --name "Anthropic main" --priority 10 --api-url http://127.0.0.1:9/anthropic
  add anthropic-team sk-ant-api03-idle-team --type claude-api --name "Anthropic team" --priority 5 --daily-budget 5 --api-url http://127.0.0.1:9/anthropic
  add anthropic-old sk-ant-api03-idle-old --type claude-api --name "Anthropic (old key)" --disabled --api-url http://127.0.0.1:9/anthropic
  add mirror sk-idle-mirror --type claude-api --name "Claude mirror" --auth-header bearer --api-url http://127.0.0.1:9/mirror
  add openai sk-proj-idle-openai --type openai-responses --name "OpenAI" --api-url http://127.0.0.1:9/openai/v1
  add openai-spare sk-proj-idle-spare --type openai-responses --name "OpenAI spare" --disabled --api-url http://127.0.0.1:9/openai/v1
  add compat sk-idle-compat --type openai-compatible --name "OpenAI-compatible" --api-url http://127.0.0.1:9/compat/v1
  add gemini AIza-idle-gemini --type gemini-api --name "Gemini" --api-url http://127.0.0.1:9/gemini

  free_port() { # a port nothing listens on
    local p i
    for i in $(seq 1 50); do
      p=$((20000 + RANDOM % 40000))
      (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo $p; return; }
    done
    echo 0
  }
  win_id() { xwininfo -root -tree 2>/dev/null | awk '/"Keypool"/ {print $1; exit}'; }
  win_state() { # none, IsUnMapped, IsViewable…
    local w
    w=$(win_id)
    [ -z "$w" ] && { echo none; return; }
    xwininfo -id "$w" 2>/dev/null | awk '/Map State:/ {print $3}'
  }
  close_window() { # what a window manager does when the close button is clicked
    python3 - "$1" <<'EOF'
import ctypes, sys
x = ctypes.CDLL("libX11.so.6")
x.XOpenDisplay.restype = ctypes.c_void_p
x.XOpenDisplay.argtypes = [ctypes.c_char_p]
x.XInternAtom.restype = ctypes.c_ulong
x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
x.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
x.XFlush.argtypes = x.XCloseDisplay.argtypes = [ctypes.c_void_p]
class ClientMessage(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                ("format", ctypes.c_int), ("l", ctypes.c_long * 5)]
class XEvent(ctypes.Union):
    _fields_ = [("xclient", ClientMessage), ("pad", ctypes.c_long * 24)]
d = x.XOpenDisplay(None)
if not d:
    sys.exit("cannot open display")
w = int(sys.argv[1], 0)
e = XEvent()
e.xclient.type = 33  # ClientMessage
e.xclient.window = w
e.xclient.message_type = x.XInternAtom(d, b"WM_PROTOCOLS", 0)
e.xclient.format = 32
e.xclient.l[0] = x.XInternAtom(d, b"WM_DELETE_WINDOW", 0)
x.XSendEvent(d, w, 0, 0, ctypes.byref(e))
x.XFlush(d)
x.XCloseDisplay(d)
EOF
  }
  read_tray() { # the tray as a panel would see it
    local name=$1 p v menu layout
    echo "Tray, as read over D-Bus ($name):"
    for p in Id Title Status ToolTip; do
      v=$(gdbus call --session --dest "$name" --object-path /StatusNotifierItem \
        --method org.freedesktop.DBus.Properties.Get org.kde.StatusNotifierItem "$p" 2>&1)
      if [ "$p" = ToolTip ]; then # (icon name, pixmaps, title, text): the strings only
        v=$(printf '%s' "$v" | grep -oP "'[^']*'|\"[^\"]*\"" | paste -sd' ' -)
      else
        v=$(printf '%s' "$v" | head -c 300)
      fi
      printf '  %-8s %s\n' "$p" "$v"
    done
    menu=$(gdbus call --session --dest "$name" --object-path /StatusNotifierItem \
      --method org.freedesktop.DBus.Properties.Get org.kde.StatusNotifierItem Menu 2>/dev/null | grep -oP "objectpath '\K[^']+")
    layout=$(gdbus call --session --dest "$name" --object-path "${menu:-/StatusNotifierMenu}" \
      --method com.canonical.dbusmenu.GetLayout -- 0 -1 '[]' 2>&1)
    printf '  %-8s %s\n' Menu "${menu:-?} (layout revision $(printf '%s' "$layout" | grep -oP '^\(uint32 \K\d+'))"
    printf '  %-8s %s\n' labels "$(printf '%s' "$layout" | grep -oP "'label': <(?:'\K[^']*|\"\K[^\"]*)" | paste -sd'|' - | sed 's/|/ | /g')"
    echo
  }

  memory_map() { # RSS and private by mapping (file, or [anon], [heap]…), largest first
    awk '
      /^[0-9a-f]+-[0-9a-f]+ / { n = ($6 == "" ? "[anonymous]" : $6); sub(/.*\//, "", n); next }
      /^Rss:/ { rss[n] += $2 }
      /^Private_(Clean|Dirty):/ { priv[n] += $2 }
      END { for (k in rss) if (rss[k] > 0) printf "%.1f\t%.1f\t%s\n", rss[k] / 1024, priv[k] / 1024, k }
    ' "/proc/$1/smaps" 2>/dev/null | sort -k1,1nr | head -10 |
      awk -F '\t' 'BEGIN {printf "  %8s %8s  %s\n", "RSS", "private", "mapping"} {printf "  %8s %8s  %s\n", $1, $2, $3}'
  }

  CLK=$(getconf CLK_TCK)
  RESULTS=$T/results
  : >"$RESULTS"
  # phase NAME: start the app, settle, measure over the window, stop it.
  phase() {
    local name=$1 args=() port app mon n w xs0 xs1 t0 t1 w0 w1 cpu xcpu rss priv state tray trayon sig
    port=$(free_port)
    [ "$name" = hidden ] && args=(--hidden)
    "$BIN" --data-dir "$DATA" --port "$port" "${args[@]}" >"$T/app-$name.log" 2>&1 &
    app=$!
    echo "$app" >>"$PIDS"
    tray=org.kde.StatusNotifierItem-$app-1
    n=0
    until bus NameHasOwner "$tray" | grep -q true; do
      n=$((n + 1))
      if [ $n -ge 100 ] || ! alive "$app"; then log "$name: the tray never appeared on the bus"; break; fi
      sleep 0.1
    done
    if [ "$name" = closed ]; then
      n=0
      until [ "$(win_state)" = IsViewable ] || [ $n -ge 100 ]; do sleep 0.1; n=$((n + 1)); done
      sleep 1 # let it draw once, as a person would look before closing
      w=$(win_id)
      if [ -n "$w" ]; then close_window "$w" || log "closed: sending WM_DELETE_WINDOW failed"; fi
      n=0
      until [ "$(win_state)" != IsViewable ] || [ $n -ge 50 ]; do sleep 0.1; n=$((n + 1)); done
    fi
    sleep "$SETTLE_SECONDS"
    state=$(win_state)

    dbus-monitor --session "type=signal" >"$T/signals-$name.txt" 2>"$T/monitor-$name.err" &
    mon=$!
    echo "$mon" >>"$PIDS"
    n=0 # it is listening once it has printed the bus's greeting to itself
    until [ -s "$T/signals-$name.txt" ] || [ $n -ge 30 ]; do sleep 0.1; n=$((n + 1)); done

    threads "$app" >"$T/threads0-$name"
    w0=$(now) t0=$(ticks "$app") xs0=$(ticks "$XPID")
    sleep "$IDLE_SECONDS"
    w1=$(now) t1=$(ticks "$app") xs1=$(ticks "$XPID")
    threads "$app" >"$T/threads1-$name"
    # Where the CPU went, by thread name (Go's threads carry the binary's
    # name, Mesa's are llvmpipe-N): ticks over the window.
    awk -v c="$CLK" -v s="$w0" -v e="$w1" '
      FNR == NR { a[$1] = $2; next }
      { d = $2 - ($1 in a ? a[$1] : 0); by[$3] += d; n[$3]++ }
      END { for (k in by) if (by[k] > 0) printf "%.2f\t%s (%d)\n", by[k] / c / (e - s) * 100, k, n[k] }
    ' "$T/threads0-$name" "$T/threads1-$name" | sort -k1,1nr | head -6 |
      awk -F '\t' '{printf "%s%s %s%%", (NR > 1 ? ", " : ""), $2, $1}' >"$T/cpu-threads-$name"
    trayon=no
    bus NameHasOwner "$tray" | grep -q true && trayon=yes
    rss=$(awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$app/status" 2>/dev/null)
    priv=$(awk '/^Private_/ {s += $2} END {printf "%.1f", s / 1024}' "/proc/$app/smaps_rollup" 2>/dev/null)
    [ "$name" = hidden ] && memory_map "$app" >"$T/memory-$name.txt"
    sleep 0.2 # the monitor prints what arrived until now
    stop_pid "$mon"

    if [ -z "$t1" ] || ! alive "$app"; then
      log "$name: the app is not running at the end of the window; its log:"
      tail -20 "$T/app-$name.log" >&2
      echo "$name|${state:-?}|-|-|-|-|-|-|(the app exited)" >>"$RESULTS"
      return
    fi
    cpu=$(awk -v a="$t0" -v b="$t1" -v c="$CLK" -v s="$w0" -v e="$w1" 'BEGIN {printf "%.2f", (b - a) / c / (e - s) * 100}')
    xcpu=$(awk -v a="$xs0" -v b="$xs1" -v c="$CLK" -v s="$w0" -v e="$w1" 'BEGIN {printf "%.2f", (b - a) / c / (e - s) * 100}')
    # Signals not from the bus itself, by member (PropertiesChanged by path).
    sig=$(awk '
      /^signal / {
        s = ""; m = ""; p = ""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^sender=/) s = substr($i, 8)
          if ($i ~ /^member=/) m = substr($i, 8)
          if ($i ~ /^path=/) { p = substr($i, 6); sub(/;$/, "", p) }
        }
        if (s == "org.freedesktop.DBus") next
        if (m == "PropertiesChanged") m = m " " p
        total++; by[m]++
      }
      END {
        print total + 0
        for (k in by) print by[k] "\t" k
      }' "$T/signals-$name.txt")
    sig="$(printf '%s\n' "$sig" | head -1)|$(printf '%s\n' "$sig" | tail -n +2 | sort -k1,1nr -k2 |
      awk -F '\t' '{printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1}')"
    echo "$name|$state|$trayon|$cpu|$xcpu|$rss|$priv|$sig" >>"$RESULTS"

    if [ "$name" = hidden ]; then
      read_tray "$tray"
      echo "What holds the memory (started --hidden, from /proc/PID/smaps; MiB):"
      cat "$T/memory-$name.txt"
      echo
    fi
    stop_pid "$app"
  }

  echo "Keypool desktop app at rest: $("$BIN" version 2>/dev/null | head -1)"
  echo "8 accounts (6 enabled: 3 claude-api incl. a bearer mirror and one with a \$5 daily budget," \
    "openai-responses, openai-compatible, gemini-api; 2 disabled), no request"
  echo "Xvfb $DISPLAY 1280x800x24, LIBGL_ALWAYS_SOFTWARE=1, private D-Bus session, unlocked gnome-keyring;" \
    "${SETTLE_SECONDS} s to settle, then ${IDLE_SECONDS} s measured per phase; CPU as % of one core (1 tick = $(awk -v c="$CLK" -v s="$IDLE_SECONDS" 'BEGIN {printf "%.3f", 100 / c / s}')%)"
  echo
  for ph in hidden shown closed; do phase "$ph"; done

  label() { case $1 in hidden) echo "started --hidden" ;; shown) echo "window shown" ;; closed) echo "window closed" ;; esac; }
  printf '%-17s %-11s %-4s %7s %7s %8s %8s %8s  %s\n' phase window tray "CPU %" "Xvfb %" "RSS MiB" "private" signals "by member"
  while IFS='|' read -r name state trayon cpu xcpu rss priv total by; do
    printf '%-17s %-11s %-4s %7s %7s %8s %8s %8s  %s\n' "$(label "$name")" "$state" "$trayon" "$cpu" "$xcpu" "$rss" "$priv" "$total" "${by:--}"
  done <"$RESULTS"
  printf '%-17s %-11s %-4s %7s %7s %8s %8s %8s\n' targets "" "" "≤0.2/0.5" "" "≤100" "" 0
  echo "CPU by thread name (thread count):"
  for ph in hidden shown closed; do
    printf '  %-17s %s\n' "$(label "$ph")" "$(cat "$T/cpu-threads-$ph" 2>/dev/null)"
  done
  echo "(targets: ≤ 0.2% of a core hidden, ≤ 0.5% shown; RSS ≤ 100 MiB started --hidden and never shown; 0 D-Bus signals while idle)"
  exit 0
fi

# --------------------------------------------------------------- outside ---
BIN=${1:-}
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then
  echo "usage: $0 path/to/keypool   (the desktop binary: make bench passes build/keypool)" >&2
  exit 2
fi
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac
if [ "$(uname -s)" != Linux ]; then
  echo "$0: Linux only (Xvfb, D-Bus, /proc)" >&2
  exit 2
fi

# What is missing, installed as make deps does.
need="xvfb:Xvfb xauth:xauth x11-utils:xwininfo x11-utils:xdpyinfo dbus-daemon:dbus-run-session dbus-bin:dbus-send
  dbus-bin:dbus-monitor dbus-x11:dbus-launch gnome-keyring:gnome-keyring-daemon libglib2.0-bin:gdbus python3:python3"
missing=
for pc in $need; do
  command -v "${pc#*:}" >/dev/null 2>&1 || case " $missing " in *" ${pc%%:*} "*) ;; *) missing="$missing ${pc%%:*}" ;; esac
done
command -v python3 >/dev/null 2>&1 && ! python3 -c 'import ctypes' 2>/dev/null && missing="$missing python3"
if [ -n "$missing" ]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=
    [ "$(id -u)" = 0 ] || SUDO=sudo
    log "installing Debian packages:$missing"
    $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null ||
      { log "could not install:$missing"; exit 1; }
  else
    log "not a Debian system: install these first:$missing"
    exit 1
  fi
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/keypool-idle.XXXXXX") || exit 1
chmod 700 "$tmp" && mkdir -m 700 "$tmp/home" "$tmp/run" "$tmp/data" || exit 1
# Every process started below carries this in its environment: at the end,
# any of them still running is found by it (and only they are).
token="KEYPOOL_IDLE_TMP=$tmp"
leftovers() { grep -lzx -- "$token" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 | grep -vx "$$"; }
drs=
finish() {
  local p n=0
  [ -n "$drs" ] && kill -TERM "$drs" 2>/dev/null
  for p in $(leftovers); do kill -TERM "$p" 2>/dev/null; done
  while [ -n "$(leftovers)" ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
  for p in $(leftovers); do kill -KILL "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap finish EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# A throwaway home: nothing of the user's (keyring, bus, Fyne settings) is
# touched, and Fyne goes to X11.
env -u DBUS_SESSION_BUS_ADDRESS -u GNOME_KEYRING_CONTROL -u WAYLAND_DISPLAY -u DISPLAY -u XAUTHORITY \
  HOME="$tmp/home" XDG_RUNTIME_DIR="$tmp/run" XDG_CONFIG_HOME="$tmp/home/.config" \
  XDG_DATA_HOME="$tmp/home/.local/share" XDG_CACHE_HOME="$tmp/home/.cache" XDG_STATE_HOME="$tmp/home/.local/state" \
  KEYPOOL_IDLE_TMP="$tmp" IDLE_SECONDS="$IDLE_SECONDS" SETTLE_SECONDS="$SETTLE_SECONDS" \
  dbus-run-session -- bash "$0" --inside "$BIN" 3>&2 2>"$tmp/session.err" &
drs=$!
wait "$drs"
rc=$?
drs=
sleep 0.5 # the keyring and dbus-daemon go as the session ends
# What the session's dbus-daemon said, but for its notes on dbus-monitor and
# on a file limit it may not raise.
grep -v -e 'Failed to set fd limit' -e 'became a monitor' -e 'Monitoring connection' "$tmp/session.err" >&2

left=$(leftovers)
if command -v pgrep >/dev/null 2>&1; then
  left="$left $(pgrep -f -- "$tmp" | grep -vx "$$")"
fi
left=$(echo $left | tr ' ' '\n' | sort -u | paste -sd' ' -)
if [ -n "$left" ]; then
  log "still running after the session ended, now stopped: $(for p in $left; do tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | head -c 80; echo -n "($p); "; done)"
else
  echo "Processes left behind: none."
fi
exit "$rc"
