#!/usr/bin/env bash
# CI step for the model-file scanner: builds the peers' corpus with their libraries
# from PyPI (scripts/peers/setup.sh) and runs the artifact tests that need it.
# Torch and transformers are large; PEERS_TORCH=0 skips them (the torch-based
# peer files are then not built).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/peers/setup.sh
MIRROR_REQUIRE_PEERS=1 go test ./internal/scan/artifact/ -run 'TestPeerCorpus|TestRealLibraryFilesAreClean|Test7z' -count=1 -v 2>&1 | grep -E '^(=== RUN|--- |ok|FAIL|PASS)|files checked' 
