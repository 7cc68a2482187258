"""Side-by-side run of picklescan, modelscan, fickling and Mirror on the peer
corpus (scripts/peers/make_peer_corpus.py) and on the real-library corpus, in
one run: per-file verdicts and whole-process times. Prints a Markdown report.

    .cache/venv-peers/bin/python scripts/peers/compare.py MIRROR_BIN CORPUS REAL_DIR > report.md

A tool "flags" a file when: picklescan prints "dangerous import" for it;
modelscan reports an issue of severity HIGH or CRITICAL for it; fickling
--check-safety exits non-zero; Mirror has a finding at high or above.
Whole-process times are wall-clock seconds of the tools' own commands, run one
after the other on the same files on this machine.
"""
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

MIRROR, CORPUS, REAL = sys.argv[1], sys.argv[2], sys.argv[3]
BIN = os.path.dirname(sys.executable)


def run(cmd, cwd=None):
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    return p, time.perf_counter() - t


def files_under(d):
    out = []
    for root, _, fs in os.walk(d):
        out += [os.path.join(root, f) for f in fs]
    return sorted(out)


def picklescan(d, files):
    p, t = run([f"{BIN}/picklescan", "-p", d])
    flagged = set()
    for line in p.stdout.splitlines():
        if "dangerous import" in line:
            path = line.split(": dangerous import")[0]
            flagged.add(os.path.abspath(path.split(":")[0]) if not os.path.exists(path) else os.path.abspath(path))
    return {f: os.path.abspath(f) in flagged for f in files}, t


def modelscan(d, files):
    out = tempfile.mktemp(suffix=".json")
    _, t = run([f"{BIN}/modelscan", "-p", d, "-r", "json", "-o", out])
    flagged = set()
    try:
        rep = json.load(open(out))
        for i in rep.get("issues", []):
            if i.get("severity") in ("HIGH", "CRITICAL"):
                flagged.add(i.get("source", "").split(":")[0])
    except (OSError, ValueError):
        pass
    res = {}
    for f in files:
        rel = os.path.relpath(f, d)
        res[f] = rel in flagged or os.path.basename(f) in flagged
    return res, t


def fickling(files):
    res, total = {}, 0.0
    with tempfile.TemporaryDirectory() as cwd:
        for f in files:
            p, t = run([f"{BIN}/fickling", "--check-safety", os.path.abspath(f)], cwd=cwd)
            res[f] = p.returncode != 0
            total += t
    return res, total


def mirror(d, files):
    p, t = run([MIRROR, "scan", "--format", "json", d])
    sev = collections.defaultdict(int)
    order = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
    try:
        rep = json.loads(p.stdout)
        for x in rep.get("findings") or []:
            f = x["evidence"]["file"]
            sev[f] = max(sev[f], order[x["severity"]])
    except ValueError:
        pass
    return {f: sev[f] >= 3 for f in files}, t


tools = ["picklescan", "modelscan", "fickling", "mirror"]
rows, wrong = [], collections.defaultdict(list)
groups = [(os.path.join(CORPUS, v, s), v, s) for v in ("malicious", "benign")
          for s in sorted(os.listdir(os.path.join(CORPUS, v)))]
groups.append((REAL, "benign", "real libraries"))
for d, verdict, suite in groups:
    files = files_under(d)
    if not files:
        continue
    results = {"picklescan": picklescan(d, files), "modelscan": modelscan(d, files),
               "fickling": fickling(files), "mirror": mirror(d, files)}
    cells = []
    for tool in tools:
        res, t = results[tool]
        ok = sum(1 for f in files if res[f] == (verdict == "malicious"))
        cells.append(f"{ok}/{len(files)} ({t:.2f} s)")
        for f in files:
            if res[f] != (verdict == "malicious"):
                wrong[tool].append(os.path.relpath(f, CORPUS if d != REAL else os.path.dirname(REAL)))
    rows.append(f"| {suite} | {verdict} | {len(files)} | " + " | ".join(cells) + " |")

print("| suite | expected | files | " + " | ".join(tools) + " |")
print("|---|---|---|" + "---|" * len(tools))
print("\n".join(rows))
print()
for tool in tools:
    w = wrong[tool]
    print(f"- **{tool}** wrong on {len(w)}: " + (", ".join(f"`{x}`" for x in w[:40]) + (" …" if len(w) > 40 else "") if w else "none"))
