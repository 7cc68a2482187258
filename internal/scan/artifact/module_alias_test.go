package artifact

import (
	"testing"
)

// Module aliases: a protocol 4 name walks attributes with
// getattr, so a standard-library module's private alias of another module
// (random._os, enum.bltns, pprint._sys) or of a builtin (bz2._builtin_open)
// reaches dangerous callables from a module nobody lists.

// aliasNames are dotted names (module, attribute path) that reach a dangerous
// callable through a standard-library alias, one or more per family.
var aliasNames = [][2]string{
	// import os as _os
	{"random", "_os.system"}, {"argparse", "_os.system"}, {"curses", "_os.system"}, {"random", "_os.execv"},
	{"random", "_os.popen"}, {"argparse", "_os.open"}, {"curses", "_os.execv"}, {"tempfile", "_os.system"},
	{"_frozen_importlib_external", "_os.system"}, {"random", "_os"},
	// import builtins as bltns (enum, Python 3.11+)
	{"enum", "bltns.eval"}, {"enum", "bltns.exec"}, {"enum", "bltns.open"}, {"enum", "bltns.getattr"},
	{"enum", "bltns.__import__"}, {"enum", "bltns.compile"},
	// from builtins import open as _builtin_open
	{"bz2", "_builtin_open"}, {"tokenize", "_builtin_open"}, {"tarfile", "bltn_open"},
	// the pure-Python io
	{"_pyio", "open"}, {"_pyio", "open_code"}, {"_pyio", "FileIO"},
	// import sys as _sys
	{"pprint", "_sys.breakpointhook"}, {"collections", "_sys.modules"}, {"argparse", "_sys.breakpointhook"},
	// other aliases: _io, _shutil, _socket, _subprocess
	{"tempfile", "_io.open"}, {"tempfile", "_shutil.rmtree"}, {"ssl", "_socket.create_connection"},
	{"asyncio.base_events", "_subprocess.run"},
	// no table entry: a dangerous name through a private attribute of any module
	{"somepkg", "_helpers.system"}, {"somepkg.mod", "_impl.check_output"}, {"somepkg", "_x.open"},
	{"somepkg", "_loader.loads"}, {"somepkg", "_exit"}, {"somepkg", "_fork_exec"},
	// re-exports under allow-listed prefixes are judged by their target
	{"torch.optim.lr_scheduler", "partial"}, {"torch.nn.modules.module", "partial"},
	{"torch.optim", "lr_scheduler.partial"}, {"torch.optim.sgd", "getattr"}, {"torch.optim.optimizer", "import_module"},
	// openers that create or truncate the file they are given, or reach the network
	{"argparse", "FileType"}, {"gzip", "open"}, {"bz2", "BZ2File"}, {"lzma", "open"}, {"wave", "open"},
	{"uu", "decode"}, {"numpy.core.memmap", "memmap"}, {"numpy", "ndarray.tofile"}, {"numpy", "ndarray.dump"},
	{"torch", "save"}, {"torch", "from_file"}, {"torch", "UntypedStorage.from_file"}, {"_sitebuiltins", "_Helper"},
	{"wsgiref.simple_server", "make_server"}, {"xml.sax", "parse"}, {"xml.dom.minidom", "parse"},
}

// aliasBenignNames are what real checkpoints import: they must stay below medium.
var aliasBenignNames = [][2]string{
	{"torch._utils", "_rebuild_tensor_v2"}, {"torch._utils", "_rebuild_parameter"}, {"collections", "OrderedDict"},
	{"numpy.core.multiarray", "_reconstruct"}, {"numpy", "dtype"}, {"_codecs", "encode"}, {"argparse", "Namespace"},
	{"pathlib", "PosixPath"}, {"collections", "defaultdict"}, {"torch.optim.adam", "Adam"}, {"typing", "Any"},
	{"torch.optim.lr_scheduler", "LambdaLR"}, {"torch.nn.modules.linear", "Linear"},
	{"numpy.random._pickle", "__randomstate_ctor"}, {"omegaconf.dictconfig", "DictConfig"},
	{"omegaconf.nodes", "AnyNode"}, {"sklearn.linear_model._logistic", "LogisticRegression"},
	{"io", "BytesIO"}, {"re", "_compile"}, {"enum", "Enum"},
}

func TestClassifyModuleAliases(t *testing.T) {
	for _, n := range aliasNames {
		if c := classify(n[0], n[1]); c.verdict != verdictDangerous {
			t.Errorf("classify(%q, %q) = %+v, want dangerous", n[0], n[1], c)
		}
	}
	for _, n := range aliasBenignNames {
		if c := classify(n[0], n[1]); c.verdict == verdictDangerous {
			t.Errorf("classify(%q, %q) = %+v, want not dangerous", n[0], n[1], c)
		}
	}
}

// TestModuleAliasFiles: the alias families end to end, in every container that
// holds a pickle (raw, text GLOBAL under PROTO 4, torch zip, object .npy,
// joblib, legacy torch), and benign look-alikes that must stay quiet.
func TestModuleAliasFiles(t *testing.T) {
	call4 := func(mod, name string) []byte { return newPK(4).stackGlobal(mod, name).callStr("id").stop() }
	var cases []evasionCase
	for _, n := range aliasNames {
		cases = append(cases, evasionCase{name: "mal_" + n[0] + "." + n[1] + ".pkl", data: call4(n[0], n[1]), malicious: true})
	}
	// enum.bltns.getattr(random._os, "system")("id")
	chain := newPK(4).stackGlobal("enum", "bltns.getattr").stackGlobal("random", "_os").binunicode("system").
		op(opTUPLE2, opREDUCE).callStr("id").stop()
	// text GLOBAL with a dotted name, resolved with getattr under PROTO 4
	global4 := newPK(4).global("random", "_os.system").callStr("id").stop()
	// memoized, popped and fetched again
	memo := newPK(4).stackGlobal("argparse", "_os.system").memoize().op(opPOP).binget(0).callStr("id").stop()
	payload := call4("random", "_os.system")
	cases = append(cases,
		evasionCase{name: "mal_chain.pkl", data: chain, malicious: true},
		evasionCase{name: "mal_global4.pkl", data: global4, malicious: true},
		evasionCase{name: "mal_memo.pkl", data: memo, malicious: true},
		evasionCase{name: "mal_zip.pt", data: torchZip(t, payload, false), malicious: true},
		evasionCase{name: "mal_obj.npy", data: npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }",
			numpyObjectArrayPickle(func(p *pk) { p.stackGlobal("enum", "bltns.exec").callStr("x") })), malicious: true},
		evasionCase{name: "mal.joblib", data: joblibPickle(2, func(p *pk) {
			p.str("x").stackGlobal("argparse", "_os.system").callStr("id")
		}), malicious: true},
		evasionCase{name: "mal_legacy.pt", data: legacyTorch(payload), malicious: true},
	)
	for _, n := range aliasBenignNames {
		cases = append(cases, evasionCase{name: "ok_" + n[0] + "." + n[1] + ".pkl",
			data: newPK(4).stackGlobal(n[0], n[1]).op(opPOP).op(opNONE).stop()})
	}
	cases = append(cases, evasionCase{name: "ok_zip.pt", data: torchZip(t, torchDataPKL(), false)})
	runEvasionCases(t, cases)
}
