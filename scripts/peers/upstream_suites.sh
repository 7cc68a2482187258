#!/usr/bin/env bash
# Runs fickling's and modelscan's own test suites, unchanged, from checkouts of
# their repositories, keeps every file they build, and compares Mirror's verdict
# on each with what the suite expects (upstream_verdicts.py).
#   scripts/peers/upstream_suites.sh MIRROR FICKLING_CHECKOUT MODELSCAN_CHECKOUT
# Their code is run, never copied here. Needs a venv (VENV, default
# .cache/venv-upstream) with torch, torchvision, tensorflow-cpu, tf_keras, dill,
# py7zr, aiohttp, requests, pytest, fickling and modelscan from PyPI; the suites'
# few tests that need something else fail without changing what is kept.
# Measured 2026-12-05: fickling 854c99a (141 tests passed, 134 pickles kept),
# modelscan 8b8ed4b (10 passed, 44 labelled files): see docs/MODEL_SCANNERS.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
mirror="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
fickling="$(cd "$2" && pwd)" modelscan="$(cd "$3" && pwd)"
py="${VENV:-$root/.cache/venv-upstream}/bin/python"
out="$root/.cache/peers/upstream"
rm -rf "$out" && mkdir -p "$out/fickling"
(cd "$fickling" && CAPTURE_DIR="$out/fickling" PYTHONPATH="$root/scripts/peers" \
  "$py" -m pytest -q -p capture_fickling -p no:cacheprovider test) | tail -1 || true
(cd "$modelscan" && "$py" -m pytest -q -p no:cacheprovider --basetemp="$out/modelscan" \
  -k "not test_main" tests/test_modelscan.py) | tail -1 || true
python3 "$root/scripts/peers/upstream_verdicts.py" "$mirror" "$out/fickling" "$out/modelscan"
