#!/usr/bin/env bash
# CI step for the model-file scanner on files its peers' suites do not have.
# 1. The built binary's exit code on every committed hostile file (advisory
#    gadgets, promptfoo ModelAudit's malicious assets, skops and YAML files):
#    1 for each; and on the benign ones (ModelAudit's, skops, YAML, real
#    library files): never 1, even with --fail-on medium.
# 2. The data files of ten pinned PyPI wheels (scripts/peers/fetch_wheel_testdata.sh:
#    about 210 MB downloaded, 500 MB unpacked, under a minute) scanned by
#    TestWheelTestData: nothing at medium or above.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(mktemp -d)/mirror"
go build -o "$bin" ./cmd/mirror
a=internal/scan/artifact/testdata
bad=0 n=0
check() { # verdict file
  n=$((n + 1))
  local rc=0 rcm=0
  "$bin" scan -q "$2" >/dev/null 2>&1 || rc=$?
  "$bin" scan -q --fail-on medium "$2" >/dev/null 2>&1 || rcm=$?
  if { [ "$1" = malicious ] && [ "$rc" != 1 ]; } || { [ "$1" = benign ] && [ "$rcm" = 1 ]; }; then
    echo "unseen: $2 ($1): exit $rc (with --fail-on medium: $rcm)" >&2
    bad=$((bad + 1))
  fi
}
for f in "$a"/gadgets/* "$a"/modelaudit/malicious/* "$a"/skops/malicious/* "$a"/yaml/malicious/*; do check malicious "$f"; done
for f in "$a"/modelaudit/benign/* "$a"/skops/benign/* "$a"/yaml/benign/*; do check benign "$f"; done
while IFS= read -r f; do check benign "$f"; done < <(find "$a/real" -type f ! -name 'variables.data-*' | LC_ALL=C sort)
echo "unseen files through the binary: $((n - bad)) passed, $bad failed"
[ "$bad" = 0 ]
dest=.cache/wheel-testdata
bash scripts/peers/fetch_wheel_testdata.sh "$dest"
MIRROR_WHEEL_TESTDATA="$PWD/$dest" go test ./internal/scan/artifact/ -run 'TestWheelTestData' -count=1 -v 2>&1 | grep -E '^(=== RUN|--- |ok|FAIL|PASS)|files scanned|unseen_test'
