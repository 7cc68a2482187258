"""pytest plugin: keeps every pickle that fickling's own test suite analyses.

Loaded with `-p capture_fickling` while fickling's tests run unchanged
(scripts/peers/upstream_suites.sh). Each call of fickling.analysis.check_safety
writes the analysed pickle to $CAPTURE_DIR/<test>-<n>.pkl and a line to
$CAPTURE_DIR/verdicts.tsv: file, test id, the severity fickling gave it. After
the run, the script keeps only files from tests that passed, so the severity
recorded is the one fickling's test asserts.
"""
import os
import re

import fickling.analysis as analysis
import fickling.fickle as fickle

_out = os.environ["CAPTURE_DIR"]
_orig = analysis.check_safety
_count = {}


def _test_id():
    cur = os.environ.get("PYTEST_CURRENT_TEST", "unknown").split(" ")[0]
    return cur


_orig_load = fickle.Pickled.load  # a staticmethod


def _load(data, *args, **kwargs):
    # keep the bytes a test parsed: dumps() would write them anew, repairing
    # the malformed frames some tests are about
    p = _orig_load(data, *args, **kwargs)
    if isinstance(data, (bytes, bytearray)):
        p._capture_raw, p._capture_n = bytes(data), len(p)
    return p


fickle.Pickled.load = staticmethod(_load)


def check_safety(pickled, *args, **kwargs):
    result = _orig(pickled, *args, **kwargs)
    try:
        raw = getattr(pickled, "_capture_raw", None)
        # a test that changed the parsed pickle (insert_python_eval…) checks
        # the changed one
        data = raw if raw is not None and len(pickled) == pickled._capture_n else pickled.dumps()
    except Exception as e:  # an unserialisable Pickled is skipped, said on stderr
        print(f"capture_fickling: cannot dump {_test_id()}: {e}")
        return result
    tid = _test_id()
    n = _count[tid] = _count.get(tid, 0) + 1
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", tid.split("::", 1)[-1]) + f"-{n}.pkl"
    with open(os.path.join(_out, name), "wb") as f:
        f.write(data)
    with open(os.path.join(_out, "verdicts.tsv"), "a") as f:
        f.write(f"{name}\t{tid}\t{result.severity.name}\n")
    return result


analysis.check_safety = check_safety
# fickling's own modules bound the name at import (fickling.loader, the hooks)
import sys  # noqa: E402

for _name, _mod in list(sys.modules.items()):
    if _name.startswith("fickling") and getattr(_mod, "check_safety", None) is _orig:
        _mod.check_safety = check_safety


def pytest_runtest_logreport(report):
    if report.when == "call":
        with open(os.path.join(_out, "outcomes.tsv"), "a") as f:
            f.write(f"{report.nodeid}\t{report.outcome}\n")
