#!/bin/sh
# scan-secrets.sh: fail if any fake secret the tests use appears in the given
# files or directories (searched recursively, binary files too). Keyring
# files are skipped: the keychain is where secrets belong; so is the
# test-artifacts dir, which --stores scans.
#
#   scripts/scan-secrets.sh build/test-output.log "$HOME"
#   scripts/scan-secrets.sh --stores "$HOME/test-artifacts"
#
# With --stores, only the databases (bbolt files, found by their magic
# number), usage journals and log files under the dirs are scanned: the
# tests' artifacts also hold config files and CLI settings, where a secret
# is expected.
#
# The pattern matches the tests' fake credentials: API keys and tokens named
# sk-ant-…secret…, …s3cr3t…, rt-/at-secret…, proxy-secret, the local client
# key "local-key", and the like. A new test secret should follow one of these
# forms.
set -u

pattern='sk-ant-[A-Za-z0-9-]*(secret|SECRET|s3cr3t|test-)|s3cr3t|(rt|at)-secret|secret-(rt|at)|proxy-secret|google-refresh-secret|local-key|local-client-key|sk-bad-key-value|sk-must-never'

if [ "${1:-}" = "--stores" ]; then
  shift
  list=$(mktemp) || exit 1
  trap 'rm -f "$list"' EXIT
  find "$@" -type f \( -name '*.journal-*' -o -name '*.log' -o -size +15c \) -print |
    while IFS= read -r f; do
      case $f in
      *.journal-* | *.log) echo "$f" ;;
      *) [ "$(od -An -tx1 -j16 -N4 "$f" 2>/dev/null | tr -d ' ')" = "edda0ced" ] && echo "$f" ;;
      esac
    done >"$list"
  n=$(wc -l <"$list")
  found=$(tr '\n' '\0' <"$list" | xargs -0 -r grep -laE "$pattern")
  what="$n databases, journals and logs under $*"
else
  found=$(grep -rlaE --exclude-dir=keyrings --exclude-dir=test-artifacts "$pattern" "$@" 2>/dev/null)
  what="$*"
fi
if [ -n "$found" ]; then
  echo "scan-secrets.sh: test secrets found in:" >&2
  echo "$found" | while IFS= read -r f; do
    echo "  $f: $(grep -aoE "$pattern" "$f" | sort -u | tr '\n' ' ')" >&2
  done
  exit 1
fi
echo "scan-secrets.sh: no test secret in $what"
