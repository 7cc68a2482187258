"""Baseline for the artifact scanner's benchmarks, standard library only.

  genops_baseline.py generate DIR N   writes realistic pickles made by CPython's pickler
                                      (N records; 6000 is about 4 MB per file)
  genops_baseline.py walk FILE...     walks every pickle opcode with pickletools.genops,
                                      collecting imports as the Python pickle scanners do,
                                      and prints {"seconds", "bytes", "opcodes", "maxrss_kb"}

For zip checkpoints only the .pkl members are walked (what picklescan/modelscan do);
raw files are walked pickle after pickle to the end.
"""
import io
import json
import os
import pickle
import pickletools
import random
import resource
import sys
import time
import zipfile


def generate(d, n):
    random.seed(1)
    recs = [{"name": "layer.%d.weight" % i, "shape": (i % 7 + 1, 64),
             "values": [random.random() for _ in range(64)],
             "ids": list(range(i, i + 16)), "tag": "t%d" % (i % 100)} for i in range(n)]
    for proto in (2, 4):
        with open(os.path.join(d, "dense_p%d.pkl" % proto), "wb") as f:
            pickle.dump(recs, f, protocol=proto)
    vocab = {("tok%06d" % i): i for i in range(n * 8)}
    with open(os.path.join(d, "vocab_p5.pkl"), "wb") as f:
        pickle.dump(vocab, f, protocol=5)


def walk_stream(f, end, imports):
    ops = 0
    while f.tell() < end:
        for op, arg, pos in pickletools.genops(f):
            ops += 1
            if op.name in ("GLOBAL", "INST"):
                imports.add(arg)
            if op.name == "STOP":
                break
        else:
            break
    return ops


def walk_once(paths):
    total = 0
    ops = 0
    imports = set()
    start = time.perf_counter()
    for p in paths:
        total += os.path.getsize(p)
        if zipfile.is_zipfile(p):
            with zipfile.ZipFile(p) as z:
                for info in z.infolist():
                    if info.filename.endswith(".pkl"):
                        with z.open(info) as f:
                            data = f.read()
                        b = io.BytesIO(data)
                        ops += walk_stream(b, len(data), imports)
        else:
            with open(p, "rb") as f:
                ops += walk_stream(f, os.path.getsize(p), imports)
    return time.perf_counter() - start, total, ops


def walk(paths):
    # Two passes, the faster one reported: the Go side is timed warm (after one
    # untimed scan), so the baseline gets its warm run too.
    seconds, total, ops = min(walk_once(paths), walk_once(paths))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "bytes": total, "opcodes": ops, "maxrss_kb": rss}))


if __name__ == "__main__":
    if sys.argv[1] == "generate":
        generate(sys.argv[2], int(sys.argv[3]))
    else:
        walk(sys.argv[2:])
