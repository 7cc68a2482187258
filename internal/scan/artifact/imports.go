package artifact

import (
	"strings"
)

// verdict is what an imported name means for a loader.
type verdict uint8

const (
	verdictUnknown   verdict = iota // not known either way: reported low
	verdictSafe                     // what real checkpoints import: not reported
	verdictNested                   // a loader of nested serialized bytes we scan ourselves
	verdictDangerous                // reaches processes, files, network, code or imports
	verdictEcosystem                // a name of a model ecosystem's package: safe unless called as a function
)

// classification is the verdict on one import with the reason shown in findings.
type classification struct {
	verdict  verdict
	category string // process, filesystem, network, code_execution, import_machinery, indirection, deserialization, introspection
	name     string // the name as judged, after Python 2 compatibility mapping
}

// dangerousPrefixes maps dotted prefixes (a module, or module.attribute) to their
// category. A name matches when it equals the prefix or continues it with ".".
// Whole modules are listed when nothing in them belongs in model weights.
var dangerousPrefixes = map[string]string{
	// processes and the host
	"os": "process", "posix": "process", "nt": "process", "subprocess": "process",
	"_posixsubprocess": "process", "pty": "process", "commands": "process", "popen2": "process",
	"multiprocessing": "process", "_multiprocessing": "process", "concurrent.futures.process": "process",
	"asyncio": "process", "signal": "process", "platform.popen": "process", "platform._syscmd_file": "process",
	"platform._syscmd_ver": "process", "sys": "process", "ctypes": "process", "_ctypes": "process",
	"cffi": "process", "_osx_support": "process", "_aix_support": "process", "uuid._get_command_stdout": "process",
	"threading": "process", "_thread": "process", "thread": "process", "resource": "process",
	"atexit": "process", "weakref.finalize": "process", "gc": "introspection", "inspect": "introspection",
	"tracemalloc": "introspection", "faulthandler": "process", "crypt": "process", "spwd": "process",
	"pwd": "process", "grp": "process", "syslog": "process", "posixpath.expanduser": "filesystem",
	"_winapi": "process", "winreg": "process", "_winreg": "process", "msvcrt": "process", "_overlapped": "process",
	"mailcap": "process", "pipes": "process", "platform._syscmd_uname": "process", "platform.architecture": "process",
	"platform.uname": "process", "platform.processor": "process", "uuid._popen": "process", "uuid._find_mac": "process",
	"torch.testing": "process", "torch.utils.bottleneck": "code_execution", "test.support": "process",
	"_signal": "process", "_testcapi": "process", "_testinternalcapi": "process", "_tkinter": "code_execution",
	"_xxsubinterpreters": "code_execution", "_interpreters": "code_execution", "_sqlite3": "filesystem",
	"_frozen_importlib": "import_machinery", "_frozen_importlib_external": "import_machinery", "_imp": "import_machinery",
	// file system
	"shutil": "filesystem", "tempfile": "filesystem", "glob": "filesystem", "io.open": "filesystem",
	"io.open_code": "filesystem", "io.FileIO": "filesystem", "_io": "filesystem", "codecs.open": "filesystem",
	"pathlib": "filesystem", "fileinput": "filesystem", "linecache": "filesystem", "tarfile": "filesystem",
	"zipfile": "filesystem", "shelve": "filesystem", "dbm": "filesystem", "sqlite3": "filesystem",
	"mmap": "filesystem", "fcntl": "filesystem", "filecmp": "filesystem", "logging.config": "code_execution",
	"logging.FileHandler": "filesystem", "logging.handlers": "network", "mailbox": "filesystem",
	"numpy.fromfile": "filesystem", "numpy.memmap": "filesystem", "numpy.tofile": "filesystem",
	"numpy.save": "filesystem", "numpy.savez": "filesystem", "numpy.savetxt": "filesystem",
	"numpy.loadtxt": "filesystem", "numpy.genfromtxt": "filesystem", "numpy.lib._datasource": "network",
	"numpy.DataSource": "network", "pandas.read_csv": "network", "pandas.read_json": "network",
	"pandas.read_html": "network", "pandas.read_sql": "network", "pandas.read_excel": "filesystem",
	"pandas.io": "filesystem", "scipy.io": "filesystem", "h5py": "filesystem",
	"scipy.weave": "code_execution", "scipy._lib._testutils": "code_execution", "scipy.datasets": "network",
	"py_compile": "filesystem", "compileall": "filesystem", "_pyio": "filesystem",
	// network
	"socket": "network", "_socket": "network", "ssl": "network", "_ssl": "network", "http": "network",
	"urllib": "network", "urllib2": "network", "urllib3": "network", "requests": "network", "httpx": "network",
	"aiohttp": "network", "ftplib": "network", "smtplib": "network", "poplib": "network", "imaplib": "network",
	"nntplib": "network", "telnetlib": "network", "xmlrpc": "network", "xmlrpclib": "network", "socketserver": "network",
	"SocketServer": "network", "webbrowser": "network", "httplib": "network", "select": "network",
	"selectors": "network", "paramiko": "network", "torch.hub": "network", "torch.distributed": "network",
	"huggingface_hub": "network", "transformers.utils.hub": "network", "torch.utils.model_zoo": "network",
	"antigravity": "network", "transformers.dynamic_module_utils": "code_execution",
	"IPython": "code_execution", "ipykernel": "code_execution",
	// code execution
	"builtins.eval": "code_execution", "builtins.exec": "code_execution", "builtins.compile": "code_execution",
	"builtins.execfile": "code_execution", "builtins.input": "code_execution", "builtins.breakpoint": "code_execution",
	"builtins.open": "filesystem", "builtins.file": "filesystem", "builtins.apply": "indirection",
	"builtins.exit": "process", "builtins.quit": "process", "builtins.help": "process", "builtins.copyright": "process",
	"builtins.credits": "process", "builtins.license": "process", "builtins.memoryview": "introspection",
	"code": "code_execution", "codeop": "code_execution", "timeit": "code_execution", "cProfile": "code_execution",
	"profile": "code_execution", "trace": "code_execution", "pdb": "code_execution", "bdb": "code_execution",
	"doctest": "code_execution", "pydoc": "code_execution", "idlelib": "code_execution", "lib2to3": "code_execution",
	"types.FunctionType": "code_execution", "types.CodeType": "code_execution", "types.LambdaType": "code_execution",
	"types.MethodType": "code_execution", "types.ModuleType": "import_machinery", "marshal": "code_execution",
	"dis": "code_execution", "jinja2": "code_execution", "mako": "code_execution", "tkinter": "code_execution",
	"Tkinter": "code_execution", "turtle": "code_execution", "torch.jit": "code_execution",
	"torch.utils.cpp_extension": "code_execution", "torch.ops.load_library": "code_execution",
	"torch.classes.load_library": "code_execution", "torch.package": "import_machinery", "torch.fx": "code_execution",
	"torch._dynamo": "code_execution", "torch._inductor": "code_execution", "torch.compile": "code_execution",
	"torch.utils.collect_env": "process", "torch._C._jit": "code_execution", "torch.library": "code_execution",
	"numpy.f2py": "code_execution", "numpy.distutils": "process", "numpy.testing": "code_execution",
	"numpy.ctypeslib": "process", "numexpr": "code_execution", "sympy.sympify": "code_execution",
	"sympy.parsing": "code_execution", "pandas.eval": "code_execution", "pandas.core.computation": "code_execution",
	"keras.config.enable_unsafe_deserialization":                       "code_execution",
	"keras.src.saving.serialization_lib.enable_unsafe_deserialization": "code_execution",
	"keras.utils.get_file":                                             "network",
	"keras.src.utils.file_utils":                                       "network",
	"tensorflow.io":                                                    "filesystem",
	"tensorflow.keras.utils.get_file":                                  "network",
	"tensorflow.py_function":                                           "code_execution",
	"tensorflow.numpy_function":                                        "code_execution",
	"tensorflow.compat.v1.py_func":                                     "code_execution",
	"tensorflow.raw_ops":                                               "filesystem",
	"yaml.load":                                                        "deserialization",
	"yaml.unsafe_load":                                                 "deserialization",
	"yaml.full_load":                                                   "deserialization",
	"yaml.load_all":                                                    "deserialization",
	"yaml.unsafe_load_all":                                             "deserialization",
	"yaml.UnsafeLoader":                                                "deserialization",
	"yaml.Loader":                                                      "deserialization",
	// import machinery
	"builtins.__import__": "import_machinery", "importlib": "import_machinery", "imp": "import_machinery",
	"pkgutil": "import_machinery", "runpy": "import_machinery", "zipimport": "import_machinery",
	"modulefinder": "import_machinery", "site": "import_machinery", "sysconfig": "import_machinery",
	"distutils": "process", "setuptools": "process", "pip": "process", "ensurepip": "process", "venv": "process",
	"pkg_resources": "import_machinery", "zipapp": "import_machinery",
	"builtins.__loader__": "import_machinery", "builtins.__spec__": "import_machinery",
	// indirections that reach the above
	"builtins.getattr": "indirection", "builtins.setattr": "indirection", "builtins.delattr": "indirection",
	"builtins.globals": "indirection", "builtins.locals": "indirection", "builtins.vars": "indirection",
	"builtins.dir": "introspection", "builtins.map": "indirection", "builtins.filter": "indirection",
	"builtins.classmethod": "indirection", "builtins.staticmethod": "indirection", "builtins.property": "indirection",
	"builtins.super": "indirection", "builtins.__build_class__": "indirection", "builtins.object.__reduce__": "indirection",
	"builtins.object.__reduce_ex__": "indirection", "builtins.object.__getattribute__": "indirection",
	"builtins.sorted": "indirection", "builtins.min": "indirection", "builtins.max": "indirection",
	"builtins.next": "indirection", "builtins.iter": "indirection", "builtins.print": "side_effect",
	"operator": "indirection", "_operator": "indirection", "functools": "indirection", "_functools": "indirection",
	"copyreg.add_extension": "import_machinery", "copyreg._inverted_registry": "import_machinery",
	"copyreg.dispatch_table": "indirection", "itertools.starmap": "indirection", "contextlib": "indirection",
	"string.Formatter": "indirection", "types.SimpleNamespace.__init__": "indirection",
	// nested deserialization of data we cannot see
	"pickle": "deserialization", "_pickle": "deserialization", "cPickle": "deserialization",
	"pickletools": "deserialization", "cloudpickle": "deserialization", "dill": "deserialization",
	"jsonpickle": "deserialization", "joblib.load": "deserialization", "joblib.numpy_pickle.load": "deserialization",
	"joblib.numpy_pickle.NumpyUnpickler": "deserialization", "joblib.numpy_pickle_compat": "deserialization",
	"sklearn.externals.joblib.load": "deserialization", "sklearn.externals.joblib.numpy_pickle.load": "deserialization",
	"numpy.load": "deserialization", "numpy.lib.npyio": "deserialization", "numpy.lib._npyio_impl": "deserialization",
	"numpy.lib.format.read_array": "deserialization", "numpy.lib.format.open_memmap": "filesystem",
	"numpy.core.multiarray.loads": "deserialization", "numpy.loads": "deserialization",
	"torch.load": "deserialization", "torch.serialization": "deserialization", "torch._weights_only_unpickler": "deserialization",
	"pandas.read_pickle": "deserialization", "shelve.open": "deserialization", "copy_reg.add_extension": "import_machinery",
	// standard-library helpers that eval or exec strings taken from their arguments,
	// or import any dotted name they are given
	"typing.get_type_hints": "code_execution", "typing._eval_type": "code_execution",
	"typing.ForwardRef._evaluate": "code_execution", "typing.ForwardRef.evaluate": "code_execution",
	"typing._type_check": "code_execution", "typing.evaluate_forward_ref": "code_execution",
	"typing._eval_type_with_forward_refs": "code_execution", "typing._evaluate_forward_ref": "code_execution",
	"typing_extensions.get_type_hints": "code_execution", "typing_extensions.evaluate_forward_ref": "code_execution",
	"typing_extensions._eval_type": "code_execution", "annotationlib": "code_execution",
	"dataclasses._create_fn": "code_execution", "dataclasses._FuncBuilder": "code_execution",
	"dataclasses.make_dataclass": "code_execution", "dataclasses._process_class": "code_execution",
	"dataclasses.dataclass": "code_execution", "collections.namedtuple": "code_execution",
	"typing.NamedTuple": "code_execution", "typing.TypedDict": "code_execution",
	"warnings._getcategory": "import_machinery", "unittest.mock": "import_machinery",
	"logging.basicConfig": "filesystem", "cgitb": "filesystem",
	"rlcompleter": "code_execution", "_pyrepl": "code_execution",
	"torch._utils._import_dotted_name": "import_machinery", "torch._jit_internal": "code_execution",
	"torch._ops": "code_execution", "torch._classes": "code_execution",
	// standard-library and array-library openers that create or truncate the file
	// named by their argument (bz2.open("/root/.bashrc", "w")), bind or fetch from
	// the network, or open a pager (help)
	"argparse.FileType": "filesystem", "gzip.open": "filesystem", "gzip.GzipFile": "filesystem",
	"bz2.open": "filesystem", "bz2.BZ2File": "filesystem", "lzma.open": "filesystem", "lzma.LZMAFile": "filesystem",
	"wave.open": "filesystem", "aifc.open": "filesystem", "sunau.open": "filesystem", "uu": "filesystem",
	"binhex": "filesystem", "xml.etree.ElementTree.ElementTree.write": "filesystem",
	"numpy.core.memmap": "filesystem", "numpy._core.memmap": "filesystem", "numpy.core.records.fromfile": "filesystem",
	"numpy._core.records.fromfile": "filesystem", "numpy.rec.fromfile": "filesystem",
	"numpy.core.multiarray.fromfile": "filesystem", "numpy._core.multiarray.fromfile": "filesystem",
	"numpy.ndarray.tofile": "filesystem", "numpy.ndarray.dump": "filesystem", "torch.save": "filesystem",
	"torch.from_file": "filesystem", "_sitebuiltins": "process", "wsgiref": "network", "asyncore": "network",
	"asynchat": "network", "smtpd": "network", "xml.sax": "network", "xml.dom.minidom.parse": "network",
	"xml.dom.pulldom": "network", "xml.dom.xmlbuilder": "network",
	// gadgets inside torch that the advisories list: both unpickle bytes the
	// file supplies (GHSA-h3qp-7fh3-f8h4, GHSA-vv6j-3g6g-2pvj), and their
	// neighbours that read, write or compile files
	"torch.utils.data.datapipes": "deserialization", "torch.utils._config_module": "deserialization",
	"torch.utils.data.datapipes.utils.decoder.basichandlers": "deserialization",
	"torch.export": "deserialization", "torch._export": "deserialization", "torch.utils.tensorboard": "filesystem",
	"torch.utils.hooks": "indirection", "torch.multiprocessing": "process", "torch.utils.data.dataloader": "process",
	"torch.utils.file_baton": "filesystem", "torch.utils._cpp_extension_versioner": "code_execution",
	"torch.utils.benchmark": "code_execution", "torch._C._import_ir_module": "import_machinery",
	"torch.autograd.profiler": "filesystem", "torch.profiler": "filesystem", "torch.onnx": "filesystem",
	"torch.cuda.memory._record_memory_history": "filesystem", "torch.distributed.checkpoint": "filesystem",
	"cloudpickle.cloudpickle": "code_execution", "uuid._get_command_stdout_": "process",
	"gensim.utils.unpickle": "deserialization", "gensim.utils.pickle": "filesystem", "gensim.utils.SaveLoad.load": "deserialization",
}

// safeExact lists the imports real checkpoints and data pickles make. They build
// tensors, arrays, containers and plain values and run nothing the file controls.
var safeExact = setOf(
	// PyTorch
	"torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3",
	"torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state", "torch._utils._rebuild_parameter_v2",
	"torch._utils._rebuild_sparse_tensor", "torch._utils._rebuild_sparse_csr_tensor", "torch._utils._rebuild_device_tensor_from_numpy",
	"torch._utils._rebuild_meta_tensor_no_storage", "torch._utils._rebuild_wrapper_subclass", "torch._utils._rebuild_qtensor",
	"torch._utils._rebuild_nested_tensor", "torch._utils._rebuild_xla_tensor", "torch._utils._rebuild_mps_tensor",
	"torch._utils._rebuild_device_tensor_from_cpu_tensor", "torch._tensor._rebuild_from_type", "torch._tensor._rebuild_from_type_v2",
	"torch._utils._rebuild_tensor_v2_wrapper",
	"torch.FloatStorage", "torch.DoubleStorage", "torch.HalfStorage", "torch.BFloat16Storage", "torch.LongStorage",
	"torch.IntStorage", "torch.ShortStorage", "torch.CharStorage", "torch.ByteStorage", "torch.BoolStorage",
	"torch.ComplexFloatStorage", "torch.ComplexDoubleStorage", "torch.QUInt8Storage", "torch.QInt8Storage",
	"torch.QInt32Storage", "torch.QUInt4x2Storage", "torch.QUInt2x4Storage", "torch.UntypedStorage",
	"torch.storage.UntypedStorage", "torch.storage.TypedStorage", "torch.storage._TypedStorage",
	"torch.cuda.FloatStorage", "torch.cuda.HalfStorage", "torch.cuda.DoubleStorage", "torch.cuda.LongStorage",
	"torch.cuda.IntStorage", "torch.cuda.ByteStorage", "torch.cuda.BoolStorage", "torch.cuda.BFloat16Storage",
	"torch.Size", "torch.device", "torch.Tensor", "torch.nn.parameter.Parameter", "torch.nn.Parameter",
	"torch.nn.parameter.Buffer", "torch.serialization._get_layout", "torch.strided", "torch.sparse_coo",
	"torch.sparse_csr", "torch.sparse_csc", "torch.sparse_bsr", "torch.sparse_bsc", "torch._mkldnn",
	"torch.per_tensor_affine", "torch.per_channel_affine", "torch.per_tensor_symmetric", "torch.per_channel_symmetric",
	"torch.per_channel_affine_float_qparams", "torch.memory_format", "torch.contiguous_format", "torch.channels_last",
	"torch.preserve_format", "torch.dtype", "torch.layout",
	"torch.utils.hooks.RemovableHandle", // a hook's handle kept on a module (weak references to its hook dicts)
	"torch.ScriptObject",                // torchbind objects of dynamically quantized modules (NEWOBJ, then their registered __setstate__)
	"torch.float32", "torch.float", "torch.float64", "torch.double", "torch.float16", "torch.half", "torch.bfloat16",
	"torch.complex32", "torch.complex64", "torch.complex128", "torch.cfloat", "torch.cdouble", "torch.uint8",
	"torch.int8", "torch.int16", "torch.short", "torch.int32", "torch.int", "torch.int64", "torch.long", "torch.bool",
	"torch.qint8", "torch.quint8", "torch.qint32", "torch.quint4x2", "torch.quint2x4", "torch.float8_e4m3fn",
	"torch.float8_e5m2", "torch.float8_e4m3fnuz", "torch.float8_e5m2fnuz", "torch.uint16", "torch.uint32", "torch.uint64",
	// NumPy
	"numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct", "numpy.ndarray", "numpy.dtype",
	"numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "numpy.core.numeric._frombuffer",
	"numpy._core.numeric._frombuffer", "numpy.ma.core._mareconstruct", "numpy.ma.core.MaskedArray",
	"numpy.matrixlib.defmatrix.matrix", "numpy.random._pickle.__randomstate_ctor", "numpy.random._pickle.__generator_ctor",
	"numpy.random._pickle.__bit_generator_ctor", "numpy.random.mtrand.RandomState", "numpy.random._mt19937.MT19937",
	"numpy.random._pcg64.PCG64", "numpy.random._generator.Generator", "numpy.random.bit_generator.SeedSequence",
	"numpy.core.multiarray._reconstruct_array", "numpy.dtypes.Float32DType", "numpy.dtypes.Float64DType",
	"numpy.dtypes.Int64DType", "numpy.dtypes.Int32DType", "numpy.dtypes.ObjectDType",
	// the name NumPy 1.0-era object arrays pickled (numpy/lib/tests/data/py2-np0-objarr.npy);
	// NumPy keeps it as an alias of multiarray._reconstruct
	"numpy.core._internal._reconstruct",
	// time zones as pandas and datetime pickle them (pandas 2.3 frames and
	// Timestamps): zoneinfo's cached-key constructor (by getattr below protocol
	// 4), pytz's, dateutil's fixed zones; none reads a path the pickle names
	"zoneinfo.ZoneInfo", "zoneinfo.ZoneInfo._unpickle", "zoneinfo._zoneinfo.ZoneInfo", "zoneinfo._zoneinfo.ZoneInfo._unpickle",
	"pytz._p", "pytz._UTC", "pytz.UTC", "pytz.utc", "dateutil.tz.tz.tzutc", "dateutil.tz.tz.tzoffset",
	"dateutil.tz.tz.tzlocal", "dateutil.tz.tz.tzstr", "dateutil.tz.tz.tzrange",
	// NumPy before 1.17 pickled RandomState through these (gensim's test models)
	"numpy.random.__RandomState_ctor", "numpy.random.mtrand.__RandomState_ctor",
	// Python data types, and the two reconstructors protocol 0-2 pickles use
	"builtins.set", "builtins.frozenset", "builtins.dict", "builtins.list", "builtins.tuple", "builtins.bytearray",
	"builtins.bytes", "builtins.int", "builtins.float", "builtins.complex", "builtins.str", "builtins.bool",
	"builtins.object", "builtins.slice", "builtins.range", "builtins.type", "builtins.NotImplemented", "builtins.Ellipsis",
	"builtins.reversed", "builtins.enumerate", "builtins.zip", "_io.BytesIO", "io.BytesIO",
	// pure functions of their arguments (fickling's suite expects len and dict to
	// pass): they reach no object, module or file the pickle did not already hold
	"builtins.len", "builtins.abs", "builtins.round", "builtins.divmod", "builtins.hash", "builtins.ord",
	"builtins.chr", "builtins.bin", "builtins.hex", "builtins.oct", "builtins.isinstance", "builtins.issubclass",
	"builtins.callable", "builtins.all", "builtins.any", "builtins.sum", "builtins.ascii",
	// compiler feature flags (_Feature records), what `from __future__ import annotations` leaves in classes
	"__future__.annotations", "__future__.division", "__future__.absolute_import", "__future__.print_function",
	"__future__.unicode_literals", "__future__.generator_stop", "__future__.with_statement",
	"__future__.nested_scopes", "__future__.generators",
	"copyreg._reconstructor", "copyreg.__newobj__", "copyreg.__newobj_ex__", "copyreg._reduce_ex",
	"_codecs.encode", "codecs.encode", "collections.OrderedDict", "collections.defaultdict", "collections.deque",
	"collections.Counter", "collections.ChainMap", "_collections.OrderedDict", "_collections.defaultdict",
	"_collections.deque", "datetime.datetime", "datetime.date", "datetime.time", "datetime.timedelta",
	"datetime.timezone", "decimal.Decimal", "fractions.Fraction", "uuid.UUID", "re._compile", "enum.Enum",
	"argparse.Namespace", "types.SimpleNamespace", "pathlib.Path", "pathlib.PosixPath", "pathlib.WindowsPath",
	"pathlib.PurePath", "pathlib.PurePosixPath", "pathlib.PureWindowsPath", "ipaddress.IPv4Address",
	"ipaddress.IPv6Address", "array.array", "array._array_reconstructor",
	// TorchScript archives: the typed-list helpers of torch.jit._pickle, which
	// return their argument (TorchScript's own unpickler allows only these)
	"torch.jit._pickle.build_intlist", "torch.jit._pickle.build_tensorlist", "torch.jit._pickle.build_doublelist",
	"torch.jit._pickle.build_boollist", "torch.jit._pickle.build_tensor_from_id", "torch.jit._pickle.restore_type_tag",
	// joblib's array wrapper (its raw data is skipped exactly, see joblib handling)
	"joblib.numpy_pickle.NumpyArrayWrapper", "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper",
	// joblib before 0.10 (its own test data): the wrappers name the sibling
	// .npy or .npy.z file (written with the pickle, scanned as files of their
	// own) that joblib.load reads the array from
	"joblib.numpy_pickle.NDArrayWrapper", "joblib.numpy_pickle.ZNDArrayWrapper",
	"joblib.numpy_pickle_compat.NDArrayWrapper", "joblib.numpy_pickle_compat.ZNDArrayWrapper",
	"sklearn.externals.joblib.numpy_pickle.NDArrayWrapper", "sklearn.externals.joblib.numpy_pickle.ZNDArrayWrapper",
)

// safePrefixes are modules whose classes make up ordinary model objects. Anything in
// dangerousPrefixes still wins over them.
var safePrefixes = []string{
	"__future__.", // feature flags, inert objects
	"torch.nn.modules.", "torch.optim.", "torch.nn.utils.parametrize.", "torch.ao.quantization.",
	"numpy.dtypes.",
}

// ecosystemClassPrefixes are the packages whose classes real model files of each
// ecosystem pickle (scikit-learn and joblib estimators, XGBoost and LightGBM
// boosters, TorchScript's __torch__ types, SciPy sparse matrices, pandas frames,
// OmegaConf configs). A class (a capitalised name, not a dotted attribute path)
// under one of them is allowed; a function under them is not, nor is anything on
// the dangerous lists, which are checked first. The lists come from scanning what
// scripts/peers/make_real_corpus.py writes with each library.
var ecosystemClassPrefixes = []string{
	"sklearn.", "xgboost.", "lightgbm.", "catboost.", "__torch__.", "scipy.sparse.", "pandas.", "keras.", "tf_keras.",
	"omegaconf.", "typing.", "numpy.", "torch.nn.", "torch.optim.", "torch.ao.", "torch.distributions.",
	"transformers.", "accelerate.", "peft.", "trl.", "datasets.", "diffusers.", "timm.", "sentence_transformers.",
	"tokenizers.", "collections.", "io.BytesIO", "io.StringIO",
	"networkx.classes.", // graphs (networkx's .gpickle test data: DiGraph)
	"statsmodels.",      // fitted models and results (statsmodels' sm-0.9-sarimax.pkl test data)
	"gensim.",           // word2vec, doc2vec, LDA, TF-IDF … models (gensim/test/test_data, gensim 0.x-4.x)
	"scipy.",            // splines and the like in scikit-learn models (SplineTransformer holds a BSpline)
	// whole modules saved with torch.save (torchvision models and transforms,
	// torchmetrics metrics, Lightning's AttributeDict hyper-parameters),
	// seen in files those libraries write
	"torchvision.", "torchaudio.", "torchmetrics.", "lightning_fabric.", "pytorch_lightning.", "lightning.", "ultralytics.",
	"morfessor.", // Morfessor 2 models (gensim's test data)
}

// ecosystemReconstructors are the functions that model ecosystems' pickles call
// to rebuild their objects (pandas frames and indexes), seen in files that
// pandas writes; any other function of those packages called on load is not
// allowed.
var ecosystemReconstructors = setOf(
	"pandas._libs.internals._unpickle_block", "pandas._libs.arrays.__pyx_unpickle_NDArrayBacked",
	"pandas.core.indexes.base._new_Index", "pandas._libs.tslibs.timestamps._unpickle_timestamp",
	"pandas._libs.tslibs.timedeltas._timedelta_unpickle", "pandas.core.internals.blocks.new_block",
	"pandas._libs.tslibs.nattype.__nat_unpickle", "pandas.core.internals.blocks._unpickle_block",
)

// ecosystemLoaders are classes of model ecosystems whose constructor, called on
// load (REDUCE, or copyreg._reconstructor's base.__init__), fetches a model
// from a path or the Hub and may run its code (trust_remote_code), or opens,
// creates or truncates the file it is given. Pickled instances of them (made
// with NEWOBJ or object as the reconstructor's base) stay allowed.
var ecosystemLoaders = setOf(
	"sentence_transformers.SentenceTransformer", "sentence_transformers.SentenceTransformer.SentenceTransformer",
	"sentence_transformers.CrossEncoder", "sentence_transformers.cross_encoder.CrossEncoder",
	"sentence_transformers.cross_encoder.CrossEncoder.CrossEncoder", "sentence_transformers.SparseEncoder",
	"sentence_transformers.sparse_encoder.SparseEncoder", "sentence_transformers.sparse_encoder.SparseEncoder.SparseEncoder",
	"pandas.HDFStore", "pandas.ExcelWriter", "pandas.ExcelFile",
	"datasets.DatasetBuilder", "datasets.DownloadManager", "datasets.StreamingDownloadManager",
	"transformers.Trainer", "transformers.Seq2SeqTrainer",
	"ultralytics.YOLO", "ultralytics.RTDETR", "ultralytics.SAM", "ultralytics.NAS", "ultralytics.FastSAM", "ultralytics.YOLOWorld",
	"ultralytics.engine.model.Model", "ultralytics.models.yolo.model.YOLO",
	"pytorch_lightning.Trainer", "lightning.Trainer", "lightning.pytorch.Trainer",
)

// ecosystemLoaderPrefixes are packages of loader classes: dataset classes
// download and write files when constructed (torchvision.datasets.MNIST(root,
// download=True)); gensim 3's wrappers run the external binary they are given
// through a shell (LdaMallet(mallet_path, corpus) runs "mallet_path import-file …").
var ecosystemLoaderPrefixes = []string{"torchvision.datasets.", "torchaudio.datasets.", "torchtext.datasets.",
	"gensim.models.wrappers."}

// ecosystemLoaderNames are class names that load or fetch in whatever module
// of an ecosystem they are exported from: Keras' TFSMLayer(filepath) loads and
// runs a SavedModel graph from outside the file; trainers (transformers, trl,
// ultralytics, Lightning) fetch models and datasets (ultralytics' dataset check
// runs the dataset YAML's download script); LightningCLI parses a command line
// and instantiates the classes it names.
var ecosystemLoaderNames = setOf("TFSMLayer", "LightningCLI")

// isEcosystemLoader reports whether a class's constructor loads or fetches.
func isEcosystemLoader(name string) bool {
	if ecosystemLoaders[name] {
		return true
	}
	for _, p := range ecosystemLoaderPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	last := name[strings.LastIndexByte(name, '.')+1:]
	return ecosystemLoaderNames[last] || strings.HasSuffix(last, "Trainer")
}

// ecosystemClass reports whether name is a plain (not dotted) name of a package
// on ecosystemClassPrefixes: a class, or (scipy's csr_matrix) a lower-case
// class. Whether it is called as a function is judged where calls are known.
func ecosystemClass(module, name string) bool {
	if name == "" || strings.Contains(name, ".") {
		return false
	}
	full := module + "." + name
	for _, p := range ecosystemClassPrefixes {
		if strings.HasPrefix(full, p) {
			return true
		}
	}
	return false
}

// nestedLoaders read a nested serialized blob that this scanner scans itself.
// Keras' pickle support (a model given to pickle.dump) reduces to
// deserialize_model_from_bytecode of the model saved as a .keras zip (a
// SavedModel tar in older releases), which is scanned like any nested archive.
var nestedLoaders = setOf("torch.storage._load_from_bytes",
	"tf_keras.src.saving.pickle_utils.deserialize_model_from_bytecode",
	"keras.src.saving.pickle_utils.deserialize_model_from_bytecode",
	"keras.saving.pickle_utils.deserialize_model_from_bytecode",
	"tensorflow.python.keras.saving.pickle_utils.deserialize_model_from_bytecode",
	"keras.src.saving.saving_lib.deserialize_model_from_bytecode",
	// Keras 3: getattr(Model class, "_unpickle_model")(io.BytesIO(zip bytes))
	"keras.src.models.functional.Functional._unpickle_model", "keras.src.models.sequential.Sequential._unpickle_model",
	"keras.src.models.model.Model._unpickle_model", "keras.src.saving.keras_saveable.KerasSaveable._unpickle_model")

// numpyScalars are NumPy's scalar type names (numpy.float32 …), pickled as classes.
var numpyScalars = setOf("bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
	"float16", "float32", "float64", "longdouble", "complex64", "complex128", "clongdouble", "str_", "bytes_",
	"void", "object_", "datetime64", "timedelta64", "intc", "uintc", "intp", "uintp", "longlong", "ulonglong",
	"half", "single", "double", "csingle", "cdouble", "bool", "float_", "int_", "uint", "complex_", "unicode_", "string_")

// dangerousModuleNames are top-level modules whose appearance in the middle of an
// attribute path (torch.os.system, numpy.sys.modules) means the chain reaches them.
var dangerousModuleNames = setOf("os", "sys", "subprocess", "builtins", "__builtins__", "__builtin__", "posix",
	"nt", "shutil", "socket", "importlib", "pickle", "_pickle", "marshal", "ctypes", "runpy", "pty", "io", "_io",
	"codecs", "multiprocessing", "pathlib", "tempfile", "urllib", "requests", "http", "webbrowser", "operator", "functools")

// reexportRoots are modules that model code imports into its own namespace
// (often under an alias); a path through them reaches their attributes.
var reexportRoots = map[string]string{"torch": "torch", "numpy": "numpy", "np": "numpy", "pandas": "pandas",
	"pd": "pandas", "joblib": "joblib", "dill": "dill", "yaml": "yaml", "keras": "keras", "tf": "tensorflow",
	"tensorflow": "tensorflow", "transformers": "transformers", "huggingface_hub": "huggingface_hub"}

// compatModules is CPython's _compat_pickle.IMPORT_MAPPING for the names that
// matter here: a pickle may write Python 2 names and the unpickler maps them.
var compatModules = map[string]string{
	"__builtin__": "builtins", "exceptions": "builtins", "copy_reg": "copyreg", "cPickle": "pickle",
	"commands": "subprocess", "UserDict": "collections", "UserList": "collections", "UserString": "collections",
	"urllib2": "urllib.request", "httplib": "http.client", "SocketServer": "socketserver",
	"cStringIO": "io", "StringIO": "io", "Tkinter": "tkinter", "Queue": "queue", "thread": "_thread",
	"dummy_thread": "_dummy_thread", "xmlrpclib": "xmlrpc.client", "BaseHTTPServer": "http.server",
	"SimpleHTTPServer": "http.server", "CGIHTTPServer": "http.server", "cookielib": "http.cookiejar",
	"urlparse": "urllib.parse", "robotparser": "urllib.robotparser", "_winreg": "winreg", "__main__": "__main__",
	"_abcoll": "collections.abc", "_bisect": "bisect", "_elementtree": "xml.etree.ElementTree",
	"anydbm": "dbm", "dbhash": "dbm.bsd", "dumbdbm": "dbm.dumb", "gdbm": "dbm.gnu", "whichdb": "dbm",
	"htmlentitydefs": "html.entities", "HTMLParser": "html.parser", "Cookie": "http.cookies",
	"repr": "reprlib", "md5": "hashlib", "sha": "hashlib", "itertools": "itertools",
}

// compatNames is _compat_pickle.NAME_MAPPING's entries that change a dangerous verdict.
var compatNames = map[string]string{
	"__builtin__.xrange": "builtins.range", "__builtin__.reduce": "functools.reduce",
	"__builtin__.intern": "sys.intern", "__builtin__.unichr": "builtins.chr", "__builtin__.unicode": "builtins.str",
	"__builtin__.long": "builtins.int", "__builtin__.basestring": "builtins.str", "__builtin__.raw_input": "builtins.input",
	"__builtin__.execfile": "builtins.execfile", "__builtin__.apply": "builtins.apply", "__builtin__.file": "builtins.file",
	"itertools.izip": "builtins.zip", "itertools.imap": "builtins.map", "itertools.ifilter": "builtins.filter",
	"itertools.ifilterfalse": "itertools.filterfalse", "itertools.izip_longest": "itertools.zip_longest",
	"UserDict.UserDict": "collections.UserDict", "UserList.UserList": "collections.UserList",
	"socket._socketobject": "socket.SocketType", "__builtin__.buffer": "builtins.memoryview",
}

func setOf(items ...string) map[string]bool {
	m := make(map[string]bool, len(items))
	for _, it := range items {
		m[it] = true
	}
	return m
}

// canonicalName maps a (module, name) import to the dotted name the unpickler
// resolves, applying Python 2 compatibility mappings.
func canonicalName(module, name string) string {
	if name == "" {
		if mapped, ok := compatModules[module]; ok {
			return mapped
		}
		return module
	}
	full := module + "." + name
	if mapped, ok := compatNames[full]; ok {
		return mapped
	}
	if mapped, ok := compatModules[module]; ok {
		return mapped + "." + name
	}
	return full
}

// classify judges an import of name from module. The order matters: exact
// allow-list entries, then dangerous prefixes (of the mapped and the raw name),
// then attribute chains, then broad safe prefixes; all else is unknown.
func classify(module, name string) classification {
	full := canonicalName(module, name)
	raw := module + "." + name
	if name == "" {
		raw = module
	}
	if safeExact[full] {
		return classification{verdict: verdictSafe, name: full}
	}
	if nestedLoaders[full] {
		return classification{verdict: verdictNested, category: "deserialization", name: full}
	}
	for _, candidate := range []string{full, raw} {
		if cat, ok := dangerousMatch(candidate); ok {
			return classification{verdict: verdictDangerous, category: cat, name: full}
		}
	}
	if cat, ok := attributeChain(full); ok {
		return classification{verdict: verdictDangerous, category: cat, name: full}
	}
	if cat, ok := aliasedTarget(full); ok {
		return classification{verdict: verdictDangerous, category: cat, name: full}
	}
	if module == "numpy" && numpyScalars[name] {
		return classification{verdict: verdictSafe, name: full}
	}
	if strings.HasPrefix(full, "builtins.") {
		// Builtins not on the safe list have no business in model data.
		return classification{verdict: verdictDangerous, category: "indirection", name: full}
	}
	if v, ok := dottedName(module, name); ok {
		return v
	}
	for _, p := range safePrefixes {
		if strings.HasPrefix(full, p) {
			// A module of a safe package re-exports what it imported:
			// torch.optim.lr_scheduler.partial is functools.partial.
			last := full[strings.LastIndexByte(full, '.')+1:]
			if target, ok := reexportedNames[last]; ok {
				if cat, ok := judgeTarget(target); ok {
					return classification{verdict: verdictDangerous, category: cat, name: full}
				}
			}
			if cat, ok := dangerousCallables[last]; ok {
				return classification{verdict: verdictDangerous, category: cat, name: full}
			}
			return classification{verdict: verdictSafe, name: full}
		}
	}
	if ecosystemReconstructors[full] {
		return classification{verdict: verdictSafe, name: full}
	}
	if name == "newObj" && strings.HasPrefix(module, "sklearn.") {
		// scikit-learn's Cython trees and distance metrics reduce to
		// newObj(cls), which returns cls.__new__(cls) (KNeighbors*, Isomap …)
		return classification{verdict: verdictSafe, name: full}
	}
	if strings.HasPrefix(name, "__pyx_unpickle_") && ecosystemClass(module, name) {
		// Cython's generated reconstructor of a cdef class of the same module
		// (pandas._libs.interval.__pyx_unpickle_IntervalMixin): it only
		// builds that class (TypeError for any other) and sets its state
		return classification{verdict: verdictSafe, name: full}
	}
	if ecosystemClass(module, name) {
		return classification{verdict: verdictEcosystem, name: full}
	}
	return classification{verdict: verdictUnknown, name: full}
}

// dottedName judges an attribute path in the name of a protocol 4 import (the
// unpickler walks it with getattr from the module): it leads wherever its suffixes
// lead, so each suffix that could be a module path plus attribute is checked. A
// dotted name no suffix explains is never allow-listed by the module's prefix.
func dottedName(module, name string) (classification, bool) {
	if !strings.Contains(name, ".") {
		return classification{}, false
	}
	full := canonicalName(module, name)
	parts := strings.Split(name, ".")
	for i := range parts {
		suffix := strings.Join(parts[i:], ".")
		if i == len(parts)-1 {
			break // the bare attribute alone says nothing
		}
		mapped := suffix
		if j := strings.IndexByte(suffix, '.'); j > 0 {
			mapped = canonicalName(suffix[:j], suffix[j+1:])
		}
		for _, c := range []string{mapped, suffix} {
			if cat, ok := dangerousMatch(c); ok {
				return classification{verdict: verdictDangerous, category: cat, name: full}, true
			}
		}
	}
	// A class nested in a class of a safe module (Outer.Inner) is plausible, but
	// not known: reported as unknown rather than passed by the module's prefix.
	for i := range parts {
		if i < len(parts)-1 && safeExact[strings.Join(parts[i:], ".")] {
			return classification{verdict: verdictSafe, name: full}, true
		}
	}
	return classification{verdict: verdictUnknown, name: full}, true
}

// dangerousMatch finds the longest listed prefix of the dotted name.
func dangerousMatch(full string) (string, bool) {
	for p := full; p != ""; {
		if cat, ok := dangerousPrefixes[p]; ok {
			return cat, true
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return "", false
}

// attributeChain flags dotted names whose later parts walk through dunder
// attributes (__globals__, __builtins__, __subclasses__ …) or through a dangerous
// module re-exported by another one. Pickle protocol 4 resolves such paths with
// getattr, so safe-looking modules become a door to anything.
func attributeChain(full string) (string, bool) {
	parts := strings.Split(full, ".")
	for i, p := range parts {
		if i == 0 {
			continue
		}
		if len(p) > 4 && strings.HasPrefix(p, "__") && strings.HasSuffix(p, "__") {
			return "indirection", true
		}
		if dangerousModuleNames[p] {
			return "indirection", true
		}
		// A module re-exported by another (torch.optim.sgd.torch, x.np) leads on
		// to that module's own dangerous names: torch.load, numpy.load, torch.hub.
		if root, ok := reexportRoots[p]; ok {
			rest := root + strings.TrimPrefix(strings.Join(parts[i:], "."), p)
			if cat, ok := dangerousMatch(rest); ok {
				return cat, true
			}
		}
	}
	return "", false
}

// moduleAliases are the names under which standard-library modules keep other
// modules or dangerous callables in their namespace (import os as _os; from
// builtins import open as _builtin_open). An attribute path reaching one of them
// (random._os.system, enum.bltns.eval) leads to the target. The table comes from
// reading CPython 3.8-3.13's Lib/ for "import X as _x" and "from X import Y as _y"
// and from a red-team sweep over sys.stdlib_module_names that listed every module
// attribute that is a dangerous module or callable under another name (random,
// argparse, curses, tempfile, threading, ctypes, _frozen_importlib_external: _os;
// pprint, collections, threading, argparse: _sys; enum 3.11+: bltns; bz2,
// tokenize: _builtin_open; tarfile: bltn_open; tempfile, zipimport, io: _io;
// tempfile: _shutil; ssl: _socket). Keys are attribute names at any position but
// the first; values are dotted targets.
var moduleAliases = map[string]string{
	"_os": "os", "_sys": "sys", "bltns": "builtins", "_builtins": "builtins", "_bltns": "builtins",
	"_builtin":      "builtins",
	"_builtin_open": "builtins.open", "bltn_open": "builtins.open", "builtin_open": "builtins.open",
	"_io": "_io", "_pyio": "_pyio", "_shutil": "shutil", "_socket": "_socket", "_subprocess": "subprocess",
	"_posixsubprocess": "_posixsubprocess", "_posix": "posix", "_nt": "nt", "_thread": "_thread",
	"_imp": "_imp", "_bootstrap": "importlib._bootstrap", "_bootstrap_external": "importlib._bootstrap_external",
	"_importlib": "importlib", "_pickle": "_pickle", "_marshal": "marshal", "_signal": "_signal",
	"_ctypes": "_ctypes", "_tempfile": "tempfile", "_warnings": "warnings", "_weakref": "_weakref",
	"_multiprocessing": "_multiprocessing", "_winapi": "_winapi", "_overlapped": "_overlapped",
	"_pty": "pty", "_code": "code", "_runpy": "runpy", "_shlex": "shlex", "_pdb": "pdb",
	"_linecache": "linecache", "_glob": "glob", "_fnmatch": "fnmatch",
}

// dangerousCallables are attribute names that run code, processes or the file
// system wherever they are found. A path that reaches one of them through a
// private or aliased attribute (x._y.system) or under an allow-listed prefix is
// judged dangerous without knowing the intermediate module.
var dangerousCallables = map[string]string{
	"system": "process", "popen": "process", "popen2": "process", "popen3": "process", "popen4": "process",
	"Popen": "process", "check_output": "process", "check_call": "process", "getoutput": "process",
	"getstatusoutput": "process", "execl": "process", "execle": "process", "execlp": "process",
	"execlpe": "process", "execv": "process", "execve": "process", "execvp": "process", "execvpe": "process",
	"spawnl": "process", "spawnle": "process", "spawnlp": "process", "spawnlpe": "process", "spawnv": "process",
	"spawnve": "process", "spawnvp": "process", "spawnvpe": "process", "posix_spawn": "process",
	"posix_spawnp": "process", "fork": "process", "forkpty": "process", "fork_exec": "process",
	"_fork_exec": "process", "startfile": "process", "kill": "process", "killpg": "process", "_exit": "process",
	"putenv": "process", "breakpointhook": "code_execution", "breakpoint": "code_execution",
	"eval": "code_execution", "exec": "code_execution", "execfile": "code_execution",
	"compile": "code_execution", "__import__": "import_machinery", "import_module": "import_machinery",
	"getattr": "indirection", "setattr": "indirection", "delattr": "indirection",
	"attrgetter": "indirection", "methodcaller": "indirection", "partial": "indirection",
	"rmtree": "filesystem", "unlink": "filesystem", "remove": "filesystem", "removedirs": "filesystem",
	"rename": "filesystem", "symlink": "filesystem", "chmod": "filesystem", "chown": "filesystem",
	"open_code": "filesystem", "_builtin_open": "filesystem", "bltn_open": "filesystem", "builtin_open": "filesystem",
	"create_connection": "network", "urlopen": "network", "urlretrieve": "network",
	"from_file": "filesystem", "tofile": "filesystem",
}

// privateContextCallables are generic names (open, run, call, load, loads) that are
// dangerous only when the path says where they come from: through a private or
// aliased attribute (tempfile._os.open), or named after the module that holds
// them (x.subprocess.run, y.pickle.loads).
var privateContextCallables = map[string]string{
	"open": "filesystem", "run": "process", "call": "process", "load": "deserialization",
	"loads": "deserialization", "write": "filesystem", "modules": "import_machinery",
}

// reexportedNames are callables that modules of allow-listed packages import
// with "from X import Y" and so re-export (torch.optim.lr_scheduler.partial,
// torch.nn.modules.module.partial); such a name is judged by its target.
var reexportedNames = map[string]string{
	"partial": "functools.partial", "reduce": "functools.reduce", "partialmethod": "functools.partialmethod",
	"wraps": "functools.wraps", "update_wrapper": "functools.update_wrapper", "import_module": "importlib.import_module",
	"getattr": "builtins.getattr", "eval": "builtins.eval", "exec": "builtins.exec", "compile": "builtins.compile",
	"open": "builtins.open", "__import__": "builtins.__import__", "starmap": "itertools.starmap",
	"attrgetter": "operator.attrgetter", "methodcaller": "operator.methodcaller", "itemgetter": "operator.itemgetter",
	"contextmanager": "contextlib.contextmanager", "load": "torch.load", "urlopen": "urllib.request.urlopen",
}

// judgeTarget reports whether the dotted target of an alias is dangerous: a listed
// prefix, an attribute chain, a builtin outside the safe list, or one of the
// dangerous modules itself (reaching os is enough: getattr does the rest).
func judgeTarget(target string) (string, bool) {
	if safeExact[target] {
		return "", false
	}
	if cat, ok := dangerousMatch(target); ok {
		return cat, true
	}
	if cat, ok := attributeChain(target); ok {
		return cat, true
	}
	if strings.HasPrefix(target, "builtins.") || target == "builtins" {
		return "indirection", true
	}
	if dangerousModuleNames[target] {
		return "indirection", true
	}
	return "", false
}

// aliasedTarget judges a dotted name by where it leads: each module alias on its
// path (after the first component) is replaced by its target and the rest judged
// from there; failing that, a dangerous callable name reached through a private
// or aliased attribute is dangerous in any module.
func aliasedTarget(full string) (string, bool) {
	parts := strings.Split(full, ".")
	for i := len(parts) - 1; i >= 1; i-- {
		target, ok := moduleAliases[parts[i]]
		if !ok {
			continue
		}
		resolved := target
		if i+1 < len(parts) {
			resolved += "." + strings.Join(parts[i+1:], ".")
		}
		if cat, ok := judgeTarget(resolved); ok {
			return cat, true
		}
	}
	if len(parts) < 2 {
		return "", false
	}
	last := parts[len(parts)-1]
	private := false
	for i := 1; i < len(parts)-1; i++ {
		p := parts[i]
		if strings.HasPrefix(p, "_") || moduleAliases[p] != "" {
			private = true
		}
	}
	if cat, ok := dangerousCallables[last]; ok && (private || strings.HasPrefix(last, "_")) {
		return cat, true
	}
	if cat, ok := privateContextCallables[last]; ok && private {
		return cat, true
	}
	if cat, ok := dangerousCallables[last]; ok && len(parts) > 2 {
		// module.something.system: a dangerous name reached through an attribute
		// of a module (a re-exported module or class) rather than the module's own
		// top-level function.
		return cat, true
	}
	return "", false
}
