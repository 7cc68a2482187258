#!/usr/bin/env bash
# Makes the peers' venv (.cache/venv-peers: picklescan, modelscan, fickling and the
# model libraries, from PyPI) and builds the peer corpus (.cache/peers/corpus) and,
# with --real, rewrites internal/scan/artifact/testdata/real.
# Idempotent: a second run reuses the venv.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$root/.cache/venv-peers"
py="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  "$py" -m venv "$venv"
fi
pkgs=(picklescan modelscan fickling numpy safetensors scikit-learn joblib onnx xgboost lightgbm py7zr dill gguf keras h5py)
if [ "${PEERS_TORCH:-1}" = 1 ]; then pkgs+=(torch transformers); fi
"$venv/bin/pip" install -q --disable-pip-version-check "${pkgs[@]}"
rm -rf "$root/.cache/peers/corpus"
"$venv/bin/python" "$root/scripts/peers/make_peer_corpus.py" "$root/.cache/peers/corpus"
if [ "${1:-}" = "--real" ]; then
  "$venv/bin/python" "$root/scripts/peers/make_real_corpus.py" "$root/internal/scan/artifact/testdata/real"
fi
echo "peer corpus: $root/.cache/peers/corpus"
