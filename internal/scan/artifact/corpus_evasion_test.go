package artifact

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"

	"mirror/internal/scan"
)

// evasionSamples are published ways around picklescan, modelscan and fickling
// (denylist gaps, names hidden in attribute paths of allow-listed modules,
// payloads behind a point where scanners stop, archives that Python's zipfile
// rejects but torch's miniz reader loads, pickles under other names and inside
// other formats), each built byte by byte, with benign look-alikes.
func evasionSamples(t testing.TB) []sample {
	call := func(mod, name, arg string) []byte { return newPK(2).global(mod, name).callStr(arg).stop() }
	call4 := func(mod, name, arg string) []byte { return newPK(4).stackGlobal(mod, name).callStr(arg).stop() }
	evil := call("os", "system", "id")
	var out []sample
	// Callables that run code, processes, files or network, spelled as the
	// bypass reports spell them.
	for _, c := range []struct{ mod, name, want string }{
		{"pydoc", "locate", "pydoc.locate"},
		{"runpy", "run_path", "runpy.run_path"},
		{"runpy", "run_module", "runpy.run_module"},
		{"profile", "run", "profile.run"},
		{"pdb", "run", "pdb.run"},
		{"lib2to3.main", "main", "lib2to3.main.main"},
		{"numpy.testing._private.utils", "runstring", "numpy.testing._private.utils.runstring"},
		{"torch.utils.bottleneck.__main__", "run_cprofile", "torch.utils.bottleneck"},
		{"torch", "load", "torch.load"},
		{"torch.serialization", "load", "torch.serialization.load"},
		{"pickle", "loads", "pickle.loads"},
		{"dill", "loads", "dill.loads"},
		{"joblib", "load", "joblib.load"},
		{"marshal", "loads", "marshal.loads"},
		{"types", "CodeType", "types.CodeType"},
		{"ctypes", "cdll", "ctypes.cdll"},
		{"pty", "spawn", "pty.spawn"},
		{"asyncio", "create_subprocess_shell", "asyncio.create_subprocess_shell"},
		{"multiprocessing.popen_fork", "Popen", "multiprocessing.popen_fork.Popen"},
		{"shutil", "copyfile", "shutil.copyfile"},
		{"urllib.request", "urlopen", "urllib.request.urlopen"},
		{"requests", "get", "requests.get"},
		{"httpx", "get", "httpx.get"},
		{"smtplib", "SMTP", "smtplib.SMTP"},
		{"ftplib", "FTP", "ftplib.FTP"},
		{"operator", "methodcaller", "operator.methodcaller"},
		{"operator", "itemgetter", "operator.itemgetter"},
		{"functools", "reduce", "functools.reduce"},
		{"builtins", "compile", "builtins.compile"},
		{"builtins", "open", "builtins.open"},
		{"builtins", "breakpoint", "builtins.breakpoint"},
		{"builtins", "input", "builtins.input"},
		{"builtins", "globals", "builtins.globals"},
		{"builtins", "vars", "builtins.vars"},
		{"builtins", "setattr", "builtins.setattr"},
		{"builtins", "delattr", "builtins.delattr"},
		{"__builtin__", "open", "builtins.open"},
		{"posix", "popen", "posix.popen"},
		{"nt", "spawnv", "nt.spawnv"},
		{"_winapi", "CreateProcess", "_winapi.CreateProcess"},
		{"py_compile", "compile", "py_compile.compile"},
		{"torch.utils.model_zoo", "load_url", "torch.utils.model_zoo.load_url"},
		{"torch.testing._internal.common_utils", "shell", "torch.testing"},
		{"transformers.dynamic_module_utils", "get_class_from_dynamic_module", "transformers.dynamic_module_utils"},
		{"IPython.core.interactiveshell", "InteractiveShell", "IPython"},
		{"_frozen_importlib_external", "SourceFileLoader", "_frozen_importlib_external.SourceFileLoader"},
		{"test.support.script_helper", "assert_python_ok", "test.support.script_helper.assert_python_ok"},
		{"_xxsubinterpreters", "run_string", "_xxsubinterpreters.run_string"},
		{"imaplib", "IMAP4_stream", "imaplib.IMAP4_stream"},
	} {
		out = append(out, sample{"ev_call_" + c.mod + "." + c.name + ".pkl", call(c.mod, c.name, "x"), true, "pickle.dangerous_call", c.want})
	}
	// Importing antigravity opens a web browser: the import alone acts.
	out = append(out, sample{"ev_import_antigravity.pkl", newPK(2).global("antigravity", "geohash").stop(), true, "pickle.dangerous_import", "antigravity"})
	// Methods reached through a class attribute path (protocol 4 resolves dots).
	out = append(out,
		sample{"ev_bdb_run.pkl", call4("bdb", "Bdb.run", "import os"), true, "pickle.dangerous_call", "bdb.Bdb.run"},
		sample{"ev_trace_runctx.pkl", call4("trace", "Trace.runctx", "import os"), true, "pickle.dangerous_call", "trace.Trace.runctx"},
		// Allow-listed module prefixes re-export torch, whose loaders run code.
		sample{"ev_safe_prefix_torch_load.pkl", call4("torch.optim.sgd", "torch.load", "/tmp/x.pt"), true, "pickle.dangerous_call", "torch.load"},
		sample{"ev_safe_prefix_torch_hub.pkl", call4("torch.nn.modules.module", "torch.hub.load", "evil/repo"), true, "pickle.dangerous_call", "torch.hub.load"},
		sample{"ev_safe_prefix_numpy_load.pkl", call4("torch.ao.quantization", "np.load", "/tmp/x.npy"), true, "pickle.dangerous_call", "np.load"},
		// getattr(importlib.import_module("os"), "system")("id"), names from the memo.
		sample{"ev_import_module_getattr.pkl", newPK(4).str("os").memoize().op('0').stackGlobal("builtins", "getattr").
			stackGlobal("importlib", "import_module").binget(0).op(opTUPLE1, opREDUCE).str("system").op(opTUPLE2, opREDUCE).callStr("id").stop(),
			true, "pickle.dangerous_call", "os.system"},
		// operator.attrgetter("system")(__import__("os"))("id")
		sample{"ev_attrgetter_chain.pkl", newPK(2).global("operator", "attrgetter").callStr("system").
			global("builtins", "__import__").callStr("os").op(opTUPLE1, opREDUCE).callStr("id").stop(), true, "pickle.dangerous_call", "operator.attrgetter"},
	)
	// Payloads where scanners stop: after damage, after an invalid opcode, and a
	// second pickle behind bytes that are not a pickle.
	payloadThenJunk := append(newPK(2).global("os", "system").callStr("id").bytesNoStop(), 0xff, 0xfe, 'x')
	afterInvalid := append(append(newPK(2).op('}').bytesNoStop(), 0xff), call("subprocess", "getoutput", "id")...)
	afterJunk := append(append(newPK(2).op('}').stop(), []byte("\xff\xfe\x00junk")...), call("os", "popen", "id")...)
	out = append(out,
		sample{"ev_payload_before_corruption.pkl", payloadThenJunk, true, "pickle.dangerous_call", "os.system"},
		sample{"ev_global_after_invalid_opcode.pkl", afterInvalid, true, "pickle.dangerous_import", "subprocess.getoutput"},
		sample{"ev_pickle_after_junk.pkl", afterJunk, true, "pickle.dangerous_import", "os.popen"},
		// Text after a pickle that happens to look like GLOBAL operands through
		// attribute paths (logic\nsys\n) is not reported.
		sample{name: "b_ev_trailing_text.pkl", data: append(newPK(2).op('}').stop(), []byte("\xff notes: logic\nsys\nbasic\nos\npath\n")...)},
	)
	// PyTorch zips that Python's zipfile rejects or misreads but miniz loads.
	storage := make([]byte, 16)
	torchRaw := func(pkl rawMember) []byte {
		pkl.pointAt = -1
		return buildRawZip([]rawMember{pkl, {name: "archive/data/0", data: storage, pointAt: -1}, {name: "archive/version", data: []byte("3\n"), pointAt: -1}})
	}
	deflated := deflateBytes(evil)
	eocdTrailer := append(torchZip(t, evil, false), bytes.Repeat([]byte{0}, 64)...)
	multiDisk := torchZip(t, evil, false)
	binary.LittleEndian.PutUint16(multiDisk[len(multiDisk)-22+4:], 1) // number of this disk
	binary.LittleEndian.PutUint16(multiDisk[len(multiDisk)-22+6:], 1) // disk where the directory starts
	out = append(out,
		sample{"ev_zip_bad_crc.pt", torchRaw(rawMember{name: "archive/data.pkl", data: evil, badCRC: true}), true, "pickle.dangerous_call", "os.system"},
		sample{"ev_zip_local_says_deflated.pt", torchRaw(rawMember{name: "archive/data.pkl", data: evil, localMethod: 8, setLocalMethod: true}), true, "pickle.dangerous_call", "os.system"},
		sample{"ev_zip_local_says_stored.pt", torchRaw(rawMember{name: "archive/data.pkl", data: deflated, method: 8, uncompSize: uint32(len(evil)), setLocalMethod: true}), true, "pickle.dangerous_call", "os.system"},
		sample{"ev_zip_encrypted_flag_lies.pt", torchRaw(rawMember{name: "archive/data.pkl", data: evil, flags: 1}), true, "pickle.dangerous_call", "os.system"},
		sample{"ev_zip_patch_flag.pt", torchRaw(rawMember{name: "archive/data.pkl", data: evil, flags: 0x20}), true, "pickle.dangerous_call", "os.system"},
		sample{"ev_zip_unusual_prefix.pt", buildZip(t, []zipFile{{name: "weights/v2/data.pkl", data: evil}, {name: "weights/v2/data/0", data: storage}, {name: "weights/v2/version", data: []byte("3\n")}}), true, "pickle.dangerous_call", "os.system"},
		sample{"ev_zip_uppercase_name.pt", buildZip(t, []zipFile{{name: "archive/DATA.PKL", data: []byte("cposix\nsystem\n(S'id'\ntR.")}, {name: "archive/version", data: []byte("3\n")}}), true, "pickle.dangerous_call", "posix.system"},
		sample{"ev_zip_case_duplicate.pt", buildZip(t, []zipFile{{name: "archive/data.pkl", data: torchDataPKL()}, {name: "archive/Data.pkl", data: evil}, {name: "archive/data/0", data: storage}, {name: "archive/data/1", data: storage}}), true, "container.duplicate_name", "archive/Data.pkl"},
		sample{"ev_zip_duplicate_second_evil.pt", buildRawZip([]rawMember{{name: "archive/data.pkl", data: torchDataPKL(), pointAt: -1}, {name: "archive/data.pkl", data: evil, pointAt: -1}}), true, "pickle.dangerous_call", "os.system"},
		sample{"ev_zip_storage_local_name.pt", buildRawZip([]rawMember{{name: "archive/data.pkl", data: torchDataPKL(), pointAt: -1}, {name: "archive/data/0", localName: "../../.bashrc", data: storage, pointAt: -1}, {name: "archive/data/1", data: storage, pointAt: -1}}), true, "container.header_mismatch", "../../.bashrc"},
		sample{"ev_zip_eocd_trailer.pt", eocdTrailer, true, "pickle.dangerous_call", "os.system"},
		// zipfile and miniz follow the zip64 end record; other readers the classic one.
		sample{"ev_zip64_record_disagrees.pt", zip64Disagree(torchDataPKL(), evil), true, "pickle.dangerous_call", "os.system"},
		sample{"ev_zip_multidisk_fields.pt", multiDisk, true, "pickle.dangerous_call", "os.system"},
		sample{name: "b_ev_zip_unusual_prefix.pt", data: buildZip(t, []zipFile{{name: "weights/v2/data.pkl", data: torchDataPKL()}, {name: "weights/v2/data/0", data: storage}, {name: "weights/v2/data/1", data: storage}, {name: "weights/v2/version", data: []byte("3\n")}})},
		sample{name: "b_ev_torch_many_storages.pt", data: torchZipN(t, 40, 70000)},
	)
	// Pickles under other names; the format is found from the content.
	proto1 := []byte("]q\x00(cos\nsystem\nq\x01(X\x02\x00\x00\x00idq\x02tRe.")
	for _, n := range []string{"model.bin", "model.pt", "model.pth", "model.ckpt", "notes.txt", "weights"} {
		out = append(out, sample{"ev_ext_" + n, evil, true, "pickle.dangerous_call", "os.system"})
	}
	out = append(out,
		sample{"ev_ext_proto0.txt", []byte("cos\nsystem\n(S'id'\ntR."), true, "pickle.dangerous_call", "os.system"},
		sample{"ev_ext_proto1_noext", proto1, true, "pickle.dangerous_call", "os.system"},
	)
	// NumPy and joblib carrying pickles.
	objHeader := "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
	evilArr := numpyObjectArrayPickle(func(p *pk) { p.global("os", "system").callStr("id") })
	out = append(out,
		sample{"ev_npy_v2_object.npy", npyV(2, objHeader, evilArr), true, "pickle.dangerous_call", "os.system"},
		sample{"ev_npy_v3_object.npy", npyV(3, objHeader, evilArr), true, "pickle.dangerous_call", "os.system"},
		sample{"ev_joblib_object_array.joblib", joblibObjectArray(call("os", "system", "id")), true, "pickle.dangerous_call", "os.system"},
		sample{"ev_joblib_gzip.joblib", gzipBytes(joblibObjectArray(call("os", "system", "id"))), true, "pickle.dangerous_call", "os.system"},
		// dtype u1 whose pickled state claims 8-byte items: joblib reads 4 bytes of
		// array data and runs what follows; a scanner trusting elsize skips it.
		sample{"ev_joblib_elsize_desync.joblib", joblibElsizeDesync(), true, "pickle.dangerous_call", "os.system"},
		sample{name: "b_ev_npy_v2_object.npy", data: npyV(2, objHeader, numpyObjectArrayPickle(func(p *pk) { p.binunicode("ok") }))},
		sample{name: "b_ev_joblib_object_array.joblib", data: joblibObjectArray(newPK(2).op(']').binunicode("a").op(opAPPEND).stop())},
	)
	// Legacy torch: the payload in another of the five pickles.
	out = append(out,
		sample{"ev_legacy_sysinfo_evil.pt", legacyTorchParts(nil, evil, nil), true, "pickle.dangerous_call", "os.system"},
		sample{"ev_legacy_keys_evil.pt", legacyTorchParts(nil, nil, evil), true, "pickle.dangerous_call", "os.system"},
		sample{"ev_legacy_protocol_evil.pt", legacyTorchParts(evil, nil, nil), true, "pickle.dangerous_call", "os.system"},
	)
	return out
}

// npyV writes a NumPy file of format version 2 or 3 (4-byte header length).
func npyV(major byte, header string, body []byte) []byte {
	h := header
	total := 12 + len(h) + 1
	h += strings.Repeat(" ", (64-total%64)%64) + "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY")
	b.WriteByte(major)
	b.WriteByte(0)
	_ = binary.Write(&b, binary.LittleEndian, uint32(len(h)))
	b.WriteString(h)
	b.Write(body)
	return b.Bytes()
}

// joblibObjectArray is a joblib dump of an object array: the NumpyArrayWrapper
// with dtype O, then the array as a nested pickle right after the BUILD.
func joblibObjectArray(inner []byte) []byte {
	p := newPK(4)
	p.stackGlobal("joblib.numpy_pickle", "NumpyArrayWrapper")
	p.op(')').memoize().op(opNEWOBJ).memoize().op('}').memoize().op(opMARK)
	p.str("subclass").memoize().stackGlobal("numpy", "ndarray")
	p.str("shape").memoize().binint1(1).op(opTUPLE1).memoize()
	p.str("order").memoize().str("C").memoize()
	p.str("dtype").memoize().stackGlobal("numpy", "dtype").str("O8").memoize().op(opNEWFALSE, opNEWTRUE, opTUPLE3).memoize().op(opREDUCE).memoize()
	p.op(opMARK).binint1(3).str("|").memoize().op(opNONE, opNONE, opNONE).binint(-1).binint(-1).binint1(63).op(opTUPLE, opBUILD)
	p.str("allow_mmap").memoize().op(opNEWFALSE)
	p.op(opSETITEMS, opBUILD)
	p.Write(inner)
	return p.stop()
}

// legacyTorchParts is the legacy format with the protocol, sys_info or storage
// keys pickle replaced (nil keeps the honest one).
func legacyTorchParts(protocol, sysInfo, keys []byte) []byte {
	var b bytes.Buffer
	b.Write(newPK(2).op(opLONG1, 10).raw(legacyTorchMagic).stop())
	if protocol == nil {
		protocol = newPK(2).op(opBININT2, 0xe9, 0x03).stop()
	}
	b.Write(protocol)
	if sysInfo == nil {
		sysInfo = newPK(2).op('}').binunicode("little_endian").op(opNEWTRUE, opSETITEM).stop()
	}
	b.Write(sysInfo)
	b.Write(torchDataPKL())
	if keys == nil {
		keys = newPK(2).op(']').binunicode("0").op(opAPPEND).stop()
	}
	b.Write(keys)
	_ = binary.Write(&b, binary.LittleEndian, int64(4))
	b.Write(make([]byte, 16))
	return b.Bytes()
}

// torchZipN is a checkpoint with n storages of size bytes each, written by
// archive/zip with data descriptors, so local headers are far apart.
func torchZipN(t testing.TB, n, size int) []byte {
	files := []zipFile{{name: "archive/data.pkl", data: torchDataPKLN(n)}, {name: "archive/version", data: []byte("3\n")}}
	for i := 0; i < n; i++ {
		files = append(files, zipFile{name: fmt.Sprintf("archive/data/%d", i), data: make([]byte, size)})
	}
	return buildZip(t, files)
}

// TestCorruptPickleIsPartiallyScanned: a payload before damage is flagged, and
// the file is reported as only partly scanned, never as clean.
func TestCorruptPickleIsPartiallyScanned(t *testing.T) {
	data := append(newPK(2).global("os", "system").callStr("id").bytesNoStop(), 0xff, 0x00)
	findings, notScanned, err := ScanReaderAt(context.Background(), bytes.NewReader(data), int64(len(data)), "c.pkl", Options{})
	if err != nil {
		t.Fatal(err)
	}
	flagged := false
	for _, f := range findings {
		flagged = flagged || (f.Evidence["rule"] == "pickle.dangerous_call" && f.Severity.Rank() >= scan.High.Rank())
	}
	if !flagged {
		t.Errorf("payload before the damage not flagged: %v", findings)
	}
	if len(notScanned) == 0 || !strings.Contains(notScanned[0].Reason, "partially scanned") {
		t.Errorf("not reported as partially scanned: %+v", notScanned)
	}
}

// joblibElsizeDesync is a joblib dump of a 4-element uint8 array whose dtype
// state declares elsize 8, followed by a payload inside the 28 bytes that a
// scanner using elsize would skip as array data.
func joblibElsizeDesync() []byte {
	p := newPK(4)
	p.stackGlobal("joblib.numpy_pickle", "NumpyArrayWrapper")
	p.op(')').memoize().op(opNEWOBJ).memoize().op('}').memoize().op(opMARK)
	p.str("subclass").memoize().stackGlobal("numpy", "ndarray")
	p.str("shape").memoize().binint1(4).op(opTUPLE1).memoize()
	p.str("order").memoize().str("C").memoize()
	p.str("dtype").memoize().stackGlobal("numpy", "dtype").str("u1").memoize().op(opNEWFALSE, opNEWTRUE, opTUPLE3).memoize().op(opREDUCE).memoize()
	p.op(opMARK).binint1(3).str("|").memoize().op(opNONE, opNONE, opNONE).binint1(8).binint1(1).binint1(0).op(opTUPLE, opBUILD)
	p.str("allow_mmap").memoize().op(opNEWFALSE)
	p.op(opSETITEMS, opBUILD)
	p.raw("\x01\x02\x03\x04") // the array's 4 bytes
	payload := newPK(0).global("os", "system").binunicode("id #12345").op(opTUPLE1, opREDUCE).op(opPOP).Bytes()
	if len(payload) != 28 {
		panic(fmt.Sprint("payload is ", len(payload), " bytes"))
	}
	p.Write(payload)
	return p.stop()
}

// zip64Disagree writes two members named archive/data.pkl and two central
// directories: the classic end record points at the benign one, the zip64 end
// record (which Python's zipfile and torch's miniz prefer) at the evil one.
func zip64Disagree(benign, evil []byte) []byte {
	var b bytes.Buffer
	le := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	name := "archive/data.pkl"
	local := func(data []byte) int {
		off := b.Len()
		le(uint32(sigLocal))
		le(uint16(20))
		le(uint16(0))
		le(uint16(0))
		le(uint32(0))
		le(crc32.ChecksumIEEE(data))
		le(uint32(len(data)))
		le(uint32(len(data)))
		le(uint16(len(name)))
		le(uint16(0))
		b.WriteString(name)
		b.Write(data)
		return off
	}
	central := func(data []byte, off int) (int, int) {
		start := b.Len()
		le(uint32(sigCentral))
		le(uint16(20))
		le(uint16(20))
		le(uint16(0))
		le(uint16(0))
		le(uint32(0))
		le(crc32.ChecksumIEEE(data))
		le(uint32(len(data)))
		le(uint32(len(data)))
		le(uint16(len(name)))
		le(uint16(0))
		le(uint16(0))
		le(uint16(0))
		le(uint16(0))
		le(uint32(0))
		le(uint32(off))
		b.WriteString(name)
		return start, b.Len() - start
	}
	oA, oB := local(benign), local(evil)
	cdA, sizeA := central(benign, oA)
	cdB, sizeB := central(evil, oB)
	rec := b.Len()
	le(uint32(sigEOCD64))
	le(uint64(44))
	le(uint16(45))
	le(uint16(45))
	le(uint32(0))
	le(uint32(0))
	le(uint64(1))
	le(uint64(1))
	le(uint64(sizeB))
	le(uint64(cdB))
	le(uint32(sigEOCD64Loc))
	le(uint32(0))
	le(uint64(rec))
	le(uint32(1))
	le(uint32(sigEOCD))
	le(uint16(0))
	le(uint16(0))
	le(uint16(1))
	le(uint16(1))
	le(uint32(sizeA))
	le(uint32(cdA))
	le(uint16(0))
	return b.Bytes()
}
