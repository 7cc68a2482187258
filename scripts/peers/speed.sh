#!/usr/bin/env bash
# Whole-process speed of mirror against picklescan (and modelscan, fickling) in
# one run: a dense pickle made by CPython's pickler and a multi-GB PyTorch
# checkpoint made by torch.save. Needs scripts/peers/setup.sh's venv and a built
# mirror binary: scripts/peers/speed.sh ./mirror [REPS]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
mirror="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
reps="${2:-3}"
v="$root/.cache/venv-peers/bin"
d="$root/.cache/peers/speed"
mkdir -p "$d"
[ -f "$d/dense.pkl" ] || "$v/python" - "$d/dense.pkl" <<'PY'
import pickle, sys
# a dense pickle: 2 M small containers, strings, ints and floats (~100 MB)
data = {f"layer{i}": [i, float(i) / 3, f"name{i}", (i, i + 1), {"k": i}] for i in range(2_000_000)}
with open(sys.argv[1], "wb") as f:
    pickle.dump(data, f, protocol=4)
PY
[ -f "$d/checkpoint.pt" ] || "$v/python" - "$d/checkpoint.pt" <<'PY'
import sys, numpy as np, torch
# a 3 GiB checkpoint: 24 float32 tensors of 128 MiB plus small ones, written by
# torch.save; runs of zeros become holes (a sparse file), so it takes little disk
# and reads back byte for byte as torch wrote it
class Sparse:
    def __init__(self, f):
        self.f = f
    def write(self, b):
        if len(b) >= 4096 and not np.frombuffer(b, dtype=np.uint8).any():
            self.f.seek(len(b), 1)
        else:
            self.f.write(b)
        return len(b)
    def flush(self):
        self.f.flush()
sd = {f"block{i}.weight": torch.zeros(32 * 1024 * 1024) for i in range(24)}
sd.update({f"block{i}.bias": torch.zeros(1024) for i in range(400)})
with open(sys.argv[1], "wb") as f:
    torch.save(sd, Sparse(f))
    f.truncate(f.tell())
PY
ls -la "$d" >&2
t() { # t N CMD…: prints the best wall time of N runs of CMD, in seconds
  local n="$1" best=""
  shift
  for _ in $(seq "$n"); do
    local s e
    s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N)
    best=$(python3 -c "import sys; a=float(sys.argv[1]); b=sys.argv[2]; print(f'{min(a, float(b)) if b else a:.3f}')" "$(python3 -c "print($e-$s)")" "$best")
  done
  echo "$best"
}
printf '| file | size | mirror | picklescan | modelscan | fickling | picklescan / mirror |\n|---|---|---|---|---|---|---|\n'
for f in dense.pkl checkpoint.pt; do
  size=$(stat -c %s "$d/$f")
  m=$(t "$reps" "$mirror" scan "$d/$f")
  p=$(t "$reps" "$v/picklescan" -p "$d/$f")
  # modelscan and fickling are slow on the dense pickle: one run each, fickling
  # stopped after 300 s (its time then reads 300)
  ms=$(t 1 "$v/modelscan" -p "$d/$f")
  fk=$(t 1 timeout 300 "$v/fickling" --check-safety "$d/$f")
  printf '| %s | %s | %s s | %s s | %s s | %s s | %sx |\n' "$f" "$size" "$m" "$p" "$ms" "$fk" "$(python3 -c "print(round($p/$m))")"
done
