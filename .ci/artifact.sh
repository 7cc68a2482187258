#!/usr/bin/env bash
# CI step for the model-file scanner.
# 1. picklescan's own suite (kept in internal/scan/artifact/testdata/picklescan):
#    the built binary on every file, checking the exit code test_scanner.py's
#    verdict implies (malicious: 1; benign: not 1 even with --fail-on medium).
# 2. The peers' corpora built with their libraries from PyPI (scripts/peers/setup.sh)
#    and the artifact tests that need them. Torch and transformers are large;
#    PEERS_TORCH=0 skips them (the torch-based peer files are then not built).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(mktemp -d)/mirror"
go build -o "$bin" ./cmd/mirror
d=internal/scan/artifact/testdata/picklescan
n=0 bad=0
while IFS=$'\t' read -r rel verdict; do
  case "$rel" in ''|'#'*) continue ;; esac
  n=$((n + 1))
  rc=0; "$bin" scan -q "$d/$rel" >/dev/null 2>&1 || rc=$?
  rcm=0; "$bin" scan -q --fail-on medium "$d/$rel" >/dev/null 2>&1 || rcm=$?
  if { [ "$verdict" = malicious ] && [ "$rc" != 1 ]; } || { [ "$verdict" = benign ] && [ "$rcm" = 1 ]; }; then
    echo "picklescan suite: $rel ($verdict): exit $rc (with --fail-on medium: $rcm)" >&2
    bad=$((bad + 1))
  fi
done < "$d/expect.tsv"
echo "picklescan suite through the binary: $((n - bad)) passed, $bad failed"
[ "$bad" = 0 ]
bash scripts/peers/setup.sh
MIRROR_REQUIRE_PEERS=1 go test ./internal/scan/artifact/ -run 'TestPeerCorpus|TestPicklescanSuite|TestRealLibraryFilesAreClean|Test7z' -count=1 -v 2>&1 | grep -E '^(=== RUN|--- |ok|FAIL|PASS)|files checked'
