#!/usr/bin/env bash
# The tools branch's CI step: the node tests of the real-model wrapper's function
# calling (scripts/realmodel/tools.mjs). Needs only Node.js (no model, no npm
# packages).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v node >/dev/null || { echo "tools.sh: node is not installed" >&2; exit 1; }
node --test scripts/realmodel/tools.test.mjs
