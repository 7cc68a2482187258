"""Mirror's verdicts on the files that the peers' own test suites build.

scripts/peers/upstream_suites.sh runs fickling's and modelscan's test suites,
unchanged, from checkouts of their repositories; this compares Mirror with what
each suite expects:

  fickling: every pickle its tests pass to check_safety (kept by
    capture_fickling.py), from tests that passed; the severity fickling gave it
    is what the test asserts. Above LIKELY_SAFE means it must be flagged.
  modelscan: every file its session fixtures write (pytest --basetemp); a file
    is malicious when its name says so (malicious*, unsafe*), as the suite
    names them, and benign when it says safe or benign (MODELSCAN_NAMED for
    the rest).

Prints one line per disagreement and a summary; exit 1 when any.
usage: upstream_verdicts.py MIRROR FICKLING_CAPTURE_DIR MODELSCAN_BASETEMP
"""
import json
import os
import subprocess
import sys

RANK = ["info", "low", "medium", "high", "critical"]


def mirror(binary, path):
    r = subprocess.run([binary, "scan", "--format", "json", path], capture_output=True, text=True)
    try:
        fs = json.loads(r.stdout).get("findings", [])
    except ValueError:
        return r.returncode, "unreadable", []
    top = max((f["severity"] for f in fs), key=RANK.index, default="none")
    return r.returncode, top, fs


def fickling(binary, d):
    outcome = dict(l.rstrip("\n").split("\t") for l in open(os.path.join(d, "outcomes.tsv")))
    for line in open(os.path.join(d, "verdicts.tsv")):
        name, test, severity = line.rstrip("\n").split("\t")
        if outcome.get(test) == "passed":
            yield os.path.join(d, name), "malicious" if severity != "LIKELY_SAFE" else "benign", f"fickling {severity}"


# modelscan fixtures whose names do not say: the zip fixture holds a pickle of
# its Malicious1 (os.system); the others are not model files at all (a PNG named
# .pt, an encrypted zip), which modelscan reports as errors. Mirror must not
# flag them: it may say what they are (PNG data, exit 0) or that it could not
# read them (the encrypted member, exit 2), never exit 1.
MODELSCAN_NAMED = {"test.zip": "malicious", "bad_pytorch.pt": "not a model", "password_protected.zip": "not a model"}


def modelscan(d):
    for root, _, files in os.walk(d):
        for f in sorted(files):
            low = f.lower()
            kind = MODELSCAN_NAMED.get(f)
            if kind is None and ("malicious" in low or "unsafe" in low):
                kind = "malicious"
            elif kind is None and ("safe" in low or "benign" in low):
                kind = "benign"
            if kind is not None:
                yield os.path.join(root, f), kind, "modelscan fixture"


def main():
    binary, fdir, mdir = sys.argv[1:4]
    bad, total = 0, {"fickling": [0, 0], "modelscan": [0, 0]}
    for suite, items in (("fickling", fickling(binary, fdir)), ("modelscan", modelscan(mdir))):
        for path, kind, why in items:
            rc, top, fs = mirror(binary, path)
            if kind == "malicious":
                ok = rc == 1
            elif kind == "benign":
                ok = rc == 0 and top in ("none", "info", "low")
            else:
                ok = rc in (0, 2) and top in ("none", "info", "low")
            total[suite][0] += ok
            total[suite][1] += 1
            if not ok:
                bad += 1
                rules = sorted({(f["severity"], f.get("rule_id", "")) for f in fs})[:3]
                print(f"{suite}\t{os.path.relpath(path, fdir if suite == 'fickling' else mdir)}\t{kind} ({why})\texit {rc}, top {top}\t{rules}")
    for suite, (ok, n) in total.items():
        print(f"# {suite}: {ok}/{n} as the suite expects")
    sys.exit(1 if bad else 0)


main()
