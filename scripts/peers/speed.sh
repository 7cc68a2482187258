#!/usr/bin/env bash
# Whole-process speed of mirror against picklescan (and modelscan, fickling) in
# one run: a dense pickle made by CPython's pickler and a multi-GB PyTorch
# checkpoint made by torch.save, and a multi-GB pickle of NumPy arrays (weights
# or embeddings kept with pickle.dump, as many projects do). Needs scripts/peers/setup.sh's venv and a built
# mirror binary: scripts/peers/speed.sh ./mirror [REPS]. mirror-scan (the
# file-only build, cmd/mirror-scan) is built beside the data and timed with it,
# and so is a Go hello-world: the floor of any Go process on this machine.
# Each line printed: mean, standard deviation, median, min (seconds), runs, command.
# Mirror runs 20 times per file (table report, and JSON, which hashes the file);
# picklescan 20 times on the checkpoint, 5 on the arrays and REPS times (default
# 3) on the dense pickle; then 10 times with the file evicted from the page cache (picklescan
# only on the checkpoint).
# PEERS_ALL=1 adds one run each of modelscan and fickling.
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
# the two 3 GiB files: runs of zeros become holes (sparse files), so they take
# little disk and read back byte for byte as torch and pickle wrote them
[ -f "$d/checkpoint.pt" ] && [ -f "$d/arrays.pkl" ] || "$v/python" - "$d" <<'PY'
import os, pickle, sys, numpy as np, torch
class Sparse:
    def __init__(self, f):
        self.f = f
    def write(self, b):
        b = memoryview(b)
        if len(b) >= 4096 and not np.frombuffer(b, dtype=np.uint8).any():
            self.f.seek(len(b), 1)
        else:
            self.f.write(b)
        return len(b)
    def flush(self):
        self.f.flush()
def write(name, dump):
    with open(os.path.join(sys.argv[1], name), "wb") as f:
        dump(Sparse(f))
        f.truncate(f.tell())
# a torch.save checkpoint: 24 float32 tensors of 128 MiB plus small ones
sd = {f"block{i}.weight": torch.zeros(32 * 1024 * 1024) for i in range(24)}
sd.update({f"block{i}.bias": torch.zeros(1024) for i in range(400)})
write("checkpoint.pt", lambda f: torch.save(sd, f))
# the same as a pickle of NumPy arrays, protocol 4: the arrays' bytes are
# BINBYTES8 operands inside the pickle, so a scanner steps over 3 GiB of them
arrays = {k: v.numpy() for k, v in sd.items()}
write("arrays.pkl", lambda f: pickle.dump(arrays, f, protocol=4))
PY
ls -la "$d" >&2
(cd "$root" && go build -o "$d/mirror-scan" ./cmd/mirror-scan)
mscan="$d/mirror-scan"
mkdir -p "$d/hello" && printf 'package main\n\nimport "os"\n\nfunc main() { os.Stdout.WriteString("hi\\n") }\n' > "$d/hello/main.go"
(cd "$d/hello" && GO111MODULE=off go build -o "$d/go-hello" main.go)
if ! command -v hyperfine >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -q hyperfine >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q hyperfine >/dev/null; }
  else
    echo "speed.sh needs hyperfine (apt-get install -y hyperfine)" >&2; exit 1
  fi
fi
# cold: the model file's pages are dropped from the page cache before each run
# (posix_fadvise DONTNEED on that file only; the binaries stay cached)
evict() { printf 'python3 -c "import os; fd = os.open(\\"%s\\", os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)"' "$1"; }
# hf OUT RUNS [--prepare CMD] CMD…: hyperfine, -N (no shell), failures ignored
hf() { local out="$1" runs="$2"; shift 2; hyperfine -N -i -w 1 -r "$runs" --export-json "$out" "$@" >/dev/null 2>&1; }
stats() { # stats JSON: "mean ± sd (median, min)" per command, one line each
  python3 - "$1" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f'{r["mean"]:.4f}\t{r["stddev"] or 0:.4f}\t{r["median"]:.4f}\t{r["min"]:.4f}\t{len(r["times"])}\t{r["command"]}')
PY
}
for f in dense.pkl checkpoint.pt arrays.pkl; do
  p="$d/$f"
  runs=20; prs=20
  [ "$f" = dense.pkl ] && prs="$reps"  # picklescan takes a minute or more per run on it
  [ "$f" = arrays.pkl ] && prs=5        # and seconds per run on this one
  echo "== $f ($(stat -c %s "$p") bytes)"
  hf "$d/$f.mirror.json" "$runs" "$mirror scan -q $p" "$mscan -q $p" "$mirror scan -q --format json $p" "$d/go-hello"
  hf "$d/$f.picklescan.json" "$prs" "$v/picklescan -p $p"
  cold=("$mirror scan -q $p" "$mscan -q $p")  # picklescan is CPU-bound on the dense pickle (2 MB/s): cold runs only on the checkpoint
  [ "$f" = checkpoint.pt ] && cold+=("$v/picklescan -p $p")
  hf "$d/$f.cold.json" 10 --prepare "$(evict "$p")" "${cold[@]}"
  stats "$d/$f.mirror.json"; stats "$d/$f.picklescan.json"; echo "cold page cache:"; stats "$d/$f.cold.json"
  if [ "${PEERS_ALL:-0}" = 1 ]; then
    hf "$d/$f.others.json" 1 "$v/modelscan -p $p" "timeout 300 $v/fickling --check-safety $p"
    stats "$d/$f.others.json"
  fi
done
