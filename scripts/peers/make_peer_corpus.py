"""Builds the peers' test corpora into OUT/{malicious,benign}/<suite>/…, for
internal/scan/artifact's TestPeerCorpus (MIRROR_PEER_CORPUS=OUT) and for
scripts/peers/compare.sh.

- fickling: one pickle per entry of the installed fickling's own lists of unsafe
  imports (fickle.UNSAFE_IMPORTS, analysis.UnsafeImportsML.UNSAFE_MODULES and
  .UNSAFE_IMPORTS), built the way its test_bypasses suite builds them
  (PROTO 4, GLOBAL module name, EMPTY_TUPLE, REDUCE, STOP), plus payloads
  injected with fickling's own API into real torch/numpy files.
- modelscan: the kinds of files its test suite builds (reduce payloads in
  protocols 0-5, dill, nested pickle.loads, memo tricks, zip, torch, numpy
  object arrays, joblib, Keras Lambda), written here with the real libraries.
- picklescan: its tests/data and tests/data2 files and the ones its
  test_scanner.py builds, kept (MIT) in internal/scan/artifact/testdata/picklescan
  and sorted by its expect.tsv (written from test_scanner.py's expectations).
"""
import io
import os
import pickle
import shutil
import sys
import zipfile

os.environ.setdefault("KERAS_BACKEND", "torch")
OUT = sys.argv[1]


def put(verdict, suite, name, data):
    p = os.path.join(OUT, verdict, suite, name)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data)
    return p


def reduce_pickle(module, name, proto=4):
    return (b"\x80" + bytes([proto]) + b"c" + module.encode() + b"\n" + name.encode() + b"\n"
            + b")R.")


# ---------------------------------------------------------------- fickling
def fickling_suite():
    from fickling import fickle
    from fickling.analysis import UnsafeImportsML
    builtin = {"builtins", "__builtins__", "__builtin__"}
    for mod in sorted(fickle.UNSAFE_IMPORTS):
        func = "eval" if mod in builtin else "dangerous"
        put("malicious", "fickling", f"unsafe_import_{mod}.{func}.pkl", reduce_pickle(mod, func))
    for mod in sorted(UnsafeImportsML.UNSAFE_MODULES):
        func = "eval" if mod in builtin else "dangerous"
        put("malicious", "fickling", f"unsafe_module_{mod}.{func}.pkl", reduce_pickle(mod, func))
    for mod, funcs in sorted(UnsafeImportsML.UNSAFE_IMPORTS.items()):
        for func in sorted(funcs):
            put("malicious", "fickling", f"unsafe_ml_{mod}.{func}.pkl", reduce_pickle(mod, func))
    # payloads injected with fickling's API into real pickles
    benign = pickle.dumps({"weights": [0.1, 0.2], "name": "m"}, protocol=4)
    p = fickle.Pickled.load(benign)
    p.insert_python_exec("import os; os.system('id')")
    put("malicious", "fickling", "injected_exec.pkl", p.dumps())
    p = fickle.Pickled.load(benign)
    p.insert_python_eval("__import__('os').system('id')", run_first=False, use_output_as_unpickle_result=False)
    put("malicious", "fickling", "injected_eval_last.pkl", p.dumps())
    put("benign", "fickling", "plain_dict.pkl", benign)
    try:
        import torch
        from fickling.pytorch import PyTorchModelWrapper
        src = os.path.join(OUT, "tmp_model.pt")
        torch.save(torch.nn.Linear(2, 2).state_dict(), src)
        w = PyTorchModelWrapper(src)
        dst = os.path.join(OUT, "malicious", "fickling", "torch_injected.pt")
        w.inject_payload("import os; os.system('id')", dst, injection="insertion")
        shutil.copy(src, os.path.join(OUT, "benign", "fickling", "torch_state_dict.pt"))
        os.remove(src)
    except Exception as e:  # torch or the wrapper missing
        print("fickling torch injection skipped:", e)


# ---------------------------------------------------------------- modelscan
class R:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def modelscan_suite():
    import http.client
    import os as _os
    import socket
    import subprocess
    import bdb
    payloads = {
        "eval": R(eval, ("print('456')",)),
        "os_system": R(_os.system, ("ls -la",)),
        "https_connection": R(http.client.HTTPSConnection, ("example.invalid",)),
        "create_connection": R(socket.create_connection, (("example.invalid", 80),)),
        "subprocess_run": R(subprocess.run, (["ls", "-l"],)),
        "sys_exit": R(sys.exit, (0,)),
        "bdb_run": R(bdb.Bdb.run, (bdb.Bdb(), "import os\nos.system('whoami')")),
        "exec": R(exec, ("import os",)),
    }
    for name, obj in payloads.items():
        for proto in range(0, 6):
            put("malicious", "modelscan", f"{name}_v{proto}.pkl", pickle.dumps(obj, protocol=proto))
    try:
        import dill
        for proto in (0, 3, 4):
            put("malicious", "modelscan", f"eval_v{proto}.dill", dill.dumps(payloads["eval"], protocol=proto))
    except ImportError:
        print("dill missing: dill files skipped")
    inner = b"\x80\x05cos\nsystem\nVecho pwned\n\x85R."
    put("malicious", "modelscan", "nested_pickle_loads.pkl",
        b"\x80\x05cpickle\nloads\nB" + len(inner).to_bytes(4, "little") + inner + b"\x85R0N.")
    put("malicious", "modelscan", "eval_dunder_call.pkl", b"\x80\x05cbuiltins\neval.__call__\nV__import__('os').system('id')\n\x85R.")
    put("malicious", "modelscan", "memo_stack_global.pkl",
        b"Vos\np2\n0Vsystem\np3\n0Vtorch\np0\n0VLongStorage\np1\n0g2\ng3\n\x93(Vcat flag.txt\ntR.\n\n\t\t")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("data.pkl", pickle.dumps(payloads["eval"]))
    put("malicious", "modelscan", "zip_with_pickle.zip", buf.getvalue())
    put("benign", "modelscan", "plain_v4.pkl", pickle.dumps({"a": [1, 2, 3], "b": "text"}, protocol=4))
    try:
        import numpy as np
        arr = np.array([payloads["os_system"], 1], dtype=object)
        b = io.BytesIO()
        np.save(b, arr, allow_pickle=True)
        put("malicious", "modelscan", "object_array.npy", b.getvalue())
        b = io.BytesIO()
        np.save(b, np.arange(10))
        put("benign", "modelscan", "int_array.npy", b.getvalue())
        b = io.BytesIO()
        np.save(b, np.array(["a", 1, None], dtype=object), allow_pickle=True)
        put("benign", "modelscan", "benign_object_array.npy", b.getvalue())
    except ImportError:
        print("numpy missing")
    try:
        import torch
        b = io.BytesIO()
        torch.save({"w": torch.ones(2), "x": payloads["os_system"]}, b)
        put("malicious", "modelscan", "torch_with_reduce.pt", b.getvalue())
        b = io.BytesIO()
        torch.save({"w": torch.ones(2), "x": payloads["os_system"]}, b, _use_new_zipfile_serialization=False)
        put("malicious", "modelscan", "torch_legacy_with_reduce.pt", b.getvalue())
        b = io.BytesIO()
        torch.save(torch.nn.Linear(3, 2).state_dict(), b)
        put("benign", "modelscan", "torch_state_dict.pt", b.getvalue())
    except ImportError:
        print("torch missing")
    try:
        import joblib
        b = io.BytesIO()
        joblib.dump({"model": payloads["exec"]}, b)
        put("malicious", "modelscan", "joblib_exec.joblib", b.getvalue())
    except ImportError:
        print("joblib missing")
    try:
        import keras
        m = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda x: x * 2)])
        d = os.path.join(OUT, "malicious", "modelscan")
        m.save(os.path.join(d, "keras_lambda.keras"))
        m.save(os.path.join(d, "keras_lambda.h5"))
    except Exception as e:
        print("keras lambda skipped:", e)


# ---------------------------------------------------------------- picklescan
def picklescan_suite():
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                       "internal", "scan", "artifact", "testdata", "picklescan")
    expect = os.path.join(src, "expect.tsv")
    n = 0
    for line in open(expect):
        if not line.strip() or line.startswith("#"):
            continue
        rel, verdict = line.split()[:2]
        if verdict not in ("malicious", "benign"):
            continue
        p = os.path.join(src, rel)
        if os.path.exists(p):
            dst = os.path.join(OUT, verdict, "picklescan", rel.replace("/", "_"))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy(p, dst)
            n += 1
    print("picklescan files:", n)


for suite in (fickling_suite, modelscan_suite, picklescan_suite):
    suite()
for v in ("malicious", "benign"):
    for root, _, files in os.walk(os.path.join(OUT, v)):
        print(v, root, len(files))
