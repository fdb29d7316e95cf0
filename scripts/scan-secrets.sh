#!/bin/sh
# scan-secrets.sh: fail if any fake secret the tests use appears in the given
# files or directories (searched recursively, binary files too). Keyring
# files are skipped: the keychain is where secrets belong.
#
#   scripts/scan-secrets.sh build/test-output.log "$HOME"
#
# The pattern matches the tests' fake credentials: API keys and tokens named
# sk-ant-…secret…, …s3cr3t…, rt-/at-secret…, proxy-secret, the local client
# key "local-key", and the like. A new test secret should follow one of these
# forms.
set -u

pattern='sk-ant-[A-Za-z0-9-]*(secret|SECRET|s3cr3t|test-)|s3cr3t|(rt|at)-secret|secret-(rt|at)|proxy-secret|google-refresh-secret|local-key|local-client-key|sk-bad-key-value|sk-must-never'
found=$(grep -rlaE --exclude-dir=keyrings "$pattern" "$@" 2>/dev/null)
if [ -n "$found" ]; then
  echo "scan-secrets.sh: test secrets found in:" >&2
  for f in $found; do
    echo "  $f: $(grep -aoE "$pattern" "$f" | sort -u | tr '\n' ' ')" >&2
  done
  exit 1
fi
echo "scan-secrets.sh: no test secret in $*"
