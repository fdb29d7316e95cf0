#!/bin/bash
# test-suite.sh: the Go test suite as `make test` runs it, then a scan of
# everything the suite wrote for the fake secrets the tests use.
#
#   scripts/with-keyring.sh scripts/test-suite.sh build/test-output.log
#
# Run it under with-keyring.sh: HOME is then a throwaway dir. Temp files go
# under HOME too, so whatever a test leaves behind is scanned along with the
# tests' full -v output, which is kept in the named log file. Tests make
# their scratch dirs with internal/dirtest, in their artifact dirs, and the
# suite runs with -artifacts: every database, usage journal and log file any
# test wrote is still there afterwards, and is scanned too.
# The relay runs under the race detector (its allocation tests without).
# Exit status: the tests' if they fail, 1 if a secret is found.
set -u -o pipefail

log=${1:?usage: $0 output-log}
GO=${GO:-go}
export TMPDIR="$HOME/tmp"
artifacts="$HOME/test-artifacts"
mkdir -p "$TMPDIR" "$artifacts" "$(dirname "$log")" || exit 1
: >"$log" || exit 1

# The full output goes to the log; the console gets it without the per-test
# RUN/PASS lines.
run() {
  "$GO" test -v -count=1 -artifacts -outputdir "$artifacts" "$@" 2>&1 | tee -a "$log" |
    grep -vE '^ *(=== (RUN|PAUSE|CONT|NAME|ARTIFACTS)|--- PASS|PASS$)'
}
rc=0
run -race ./relay/... || rc=1
# The race detector allocates on its own: the relay's allocation tests run
# again without it.
run -run 'Allocate' ./relay/ || rc=1
run $("$GO" list ./... | grep -v '/relay') || rc=1
# Nested modules (./... stops at their go.mod).
(cd internal/envfix && "$GO" test -count=1 ./...) 2>&1 | tee -a "$log" || rc=1
[ "$rc" = 0 ] || exit "$rc"

scan="$(dirname "$0")/scan-secrets.sh"
"$scan" "$log" "$HOME" || exit 1
exec "$scan" --stores "$artifacts"
