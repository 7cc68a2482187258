package artifact

import (
	"bytes"
	"compress/zlib"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mirror/internal/scan"
)

// joblibZFile writes data the way joblib 0.8-0.9's write_zfile did: "ZF", the
// length in hex left-justified to 19 characters, (in some versions) a space,
// then the zlib stream.
func joblibZFile(data []byte, space bool) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "ZF%-19s", fmt.Sprintf("%#x", len(data)))
	if space {
		b.WriteByte(' ')
	}
	w := zlib.NewWriter(&b)
	_, _ = w.Write(data)
	_ = w.Close()
	return b.Bytes()
}

// TestJoblibZFile: joblib.load still unpickles a joblib 0.9 zfile, so what it
// holds is scanned; the raw array bytes of its .npy.z companions are data.
func TestJoblibZFile(t *testing.T) {
	evil := newPK(2).global("posix", "system").callStr("id").stop()
	benign := newPK(2).global("collections", "OrderedDict").op(opEMPTY_TUPLE, opREDUCE).stop()
	raw := make([]byte, 64)
	for i := range raw {
		raw[i] = byte(i / 8) // little-endian int64 0..7, as ZNDArrayWrapper stores them
	}
	for _, space := range []bool{false, true} {
		t.Run(fmt.Sprint("space=", space), func(t *testing.T) {
			fs, ns := scanBytes(t, "model.pkl.gz", joblibZFile(evil, space))
			if len(withRule(atOrAbove(fs, scan.Critical), "pickle.dangerous_call")) == 0 || len(ns) != 0 {
				t.Fatalf("malicious zfile: findings %v, not scanned %v", fs, ns)
			}
			fs, ns = scanBytes(t, "model.pkl.gz", joblibZFile(benign, space))
			if len(fs) != 0 || len(ns) != 0 {
				t.Fatalf("benign zfile: findings %v, not scanned %v", fs, ns)
			}
			fs, ns = scanBytes(t, "model.pkl.gz_01.npy.z", joblibZFile(raw, space))
			if len(fs) != 0 || len(ns) != 0 {
				t.Fatalf("raw array zfile: findings %v, not scanned %v", fs, ns)
			}
		})
	}
	// Not a zfile: the header's length is not hex, so the bytes stay unrecognised.
	bad := joblibZFile(evil, false)
	copy(bad[2:], "0xZZ")
	if joblibZHeader(bad) != 0 {
		t.Fatal("a header with non-hex digits was taken for a zfile")
	}
}

// TestGzippedJSONIsNotSafetensors: scikit-learn's OpenML fixtures are gzipped
// JSON whose first eight bytes ({"data":) read as a huge safetensors header
// length and whose ninth is '{'; they were reported high as a truncated
// safetensors file.
func TestGzippedJSONIsNotSafetensors(t *testing.T) {
	doc := []byte(`{"data":{"dataset":[{"did":61,"name":"iris","version":1}]}}`)
	for name, b := range map[string][]byte{"plain.json": doc, "api-v1-jdl-dn-iris-l-2-dv-1.json.gz": gzipBytes(doc)} {
		fs, ns := scanBytes(t, name, b)
		if len(atOrAbove(fs, scan.Low)) != 0 || len(ns) != 0 {
			t.Errorf("%s: findings %v, not scanned %v", name, fs, ns)
		}
	}
	// A real header length still makes a safetensors file, truncated or not.
	fs, _ := scanBytes(t, "x.safetensors", safetensorsFile(`{"a":{"dtype":"F32","shape":[1000],"data_offsets":[0,4000]}}`, make([]byte, 16)))
	if len(withRule(fs, "format.past_end")) == 0 {
		t.Fatalf("truncated safetensors: %v", fs)
	}
}

// TestLegacyLibraryPicklesAreClean: names that the test data of NumPy, joblib
// and networkx wheels import (pickles written by those libraries long ago).
func TestLegacyLibraryPicklesAreClean(t *testing.T) {
	cases := map[string][]byte{
		// numpy/lib/tests/data/py2-np0-objarr.npy
		"py2-np0-objarr.pkl": newPK(2).global("numpy.core._internal", "_reconstruct").global("numpy", "ndarray").
			binint1(0).op(opTUPLE1).str("b").op(opTUPLE3, opREDUCE).stop(),
		// joblib/test/data/joblib_0.9.2_pickle_py27_np17.pkl
		"joblib_0.9.2.pkl": newPK(2).global("joblib.numpy_pickle", "NDArrayWrapper").op(opEMPTY_TUPLE, opNEWOBJ).
			op(opEMPTY_DICT).str("filename").str("joblib_0.9.2.pkl_01.npy").op(opSETITEM, opBUILD).stop(),
		// networkx/algorithms/flow/tests/gw1.gpickle.bz2
		"gw1.gpickle": newPK(2).global("networkx.classes.digraph", "DiGraph").op(opEMPTY_TUPLE, opNEWOBJ).
			op(opEMPTY_DICT, opBUILD).stop(),
	}
	for name, b := range cases {
		fs, ns := scanBytes(t, name, b)
		if bad := atOrAbove(fs, scan.Medium); len(bad) != 0 || len(ns) != 0 {
			t.Errorf("%s: findings %v, not scanned %v", name, bad, ns)
		}
	}
	// A function of networkx called on load is still not allowed.
	fs, _ := scanBytes(t, "call.gpickle", newPK(2).global("networkx.readwrite.gml", "read_gml").callStr("/etc/passwd").stop())
	if len(atOrAbove(fs, scan.High)) == 0 {
		t.Fatalf("networkx function call: %v", fs)
	}
}

// TestKerasH5LambdaSource: a legacy .h5 Lambda whose function field is Python
// source (modelaudit's malicious_lambda.h5) is code, whatever its function_type;
// a registered function's name is not.
func TestKerasH5LambdaSource(t *testing.T) {
	src := `{"class_name": "Lambda", "config": {"function": "lambda x: eval('print(\"security test\")')"}}`
	fs, _ := scanBytes(t, "malicious_lambda.h5", fakeH5(kerasConfig(src)))
	if len(withRule(atOrAbove(fs, scan.High), "keras.lambda_code")) == 0 {
		t.Fatalf("Lambda with source: %v", fs)
	}
	named := `{"class_name": "Lambda", "config": {"function": "my_package>normalise", "function_type": "function"}}`
	fs, _ = scanBytes(t, "named.h5", fakeH5(kerasConfig(named)))
	if len(withRule(fs, "keras.lambda_code")) != 0 {
		t.Fatalf("Lambda naming a registered function: %v", fs)
	}
	for _, s := range []string{"relu", "pkg.mod.fn", "my_package>normalise", "_f1"} {
		if !dottedIdentifier(s) {
			t.Errorf("dottedIdentifier(%q) = false", s)
		}
	}
	for _, s := range []string{"", "lambda x: x", "f()", "a b", "1abc", strings.Repeat("x", 3) + ";"} {
		if dottedIdentifier(s) {
			t.Errorf("dottedIdentifier(%q) = true", s)
		}
	}
}

// TestCSVOpeningWithCIsText: statsmodels' results_predict_fedfunds.csv parses
// as GLOBAL "onst_p1,…" then STOP; no import can resolve that module, so it is
// text, while a protocol 0 pickle importing a real module still is a pickle.
func TestCSVOpeningWithCIsText(t *testing.T) {
	csv := []byte("const_p1,const_p2,const_f1\n.7376958,.2623042,.9997776\n.9818866,.0181134,.999989\n")
	fs, ns := scanBytes(t, "results_predict_fedfunds.csv", csv)
	if len(atOrAbove(fs, scan.Low)) != 0 || len(ns) != 0 {
		t.Fatalf("csv: findings %v, not scanned %v", fs, ns)
	}
	fs, _ = scanBytes(t, "p0.pkl", []byte("cposix\nsystem\n(S'id'\ntR."))
	if len(atOrAbove(fs, scan.Critical)) == 0 {
		t.Fatalf("protocol 0 pickle: %v", fs)
	}
	fs, _ = scanBytes(t, "p0b.pkl", []byte("cnot,a module\nx\ncposix\nsystem\n."))
	if len(atOrAbove(fs, scan.High)) == 0 {
		t.Fatalf("protocol 0 pickle with a garbage import before a dangerous one: %v", fs)
	}
}

// TestEcosystemLoaderCalled: a model ecosystem's class whose constructor loads
// a model (and its remote code) or opens a file is a call gadget when the
// pickle calls it, directly or as copyreg._reconstructor's base; an instance
// built the usual way is not.
func TestEcosystemLoaderCalled(t *testing.T) {
	st := func(p *pk) *pk { return p.global("sentence_transformers.SentenceTransformer", "SentenceTransformer") }
	direct := st(newPK(2)).str("attacker/model").op(opTUPLE1, opREDUCE).stop()
	viaReconstructor := newPK(2).global("copyreg", "_reconstructor")
	st(viaReconstructor)
	st(viaReconstructor)
	recon := viaReconstructor.str("attacker/model").op(opTUPLE3, opREDUCE).stop()
	popen := newPK(2).global("copyreg", "_reconstructor").global("subprocess", "Popen").global("subprocess", "Popen").
		str("id").op(opTUPLE3, opREDUCE).stop()
	for name, b := range map[string][]byte{"direct.pkl": direct, "reconstructor.pkl": recon, "popen.pkl": popen} {
		fs, _ := scanBytes(t, name, b)
		if len(withRule(atOrAbove(fs, scan.Critical), "pickle.dangerous_call")) == 0 {
			t.Errorf("%s: %v", name, fs)
		}
	}
	plain := newPK(2).global("copyreg", "_reconstructor")
	st(plain)
	plain.global("builtins", "object").op(opNONE, opTUPLE3, opREDUCE).op(opEMPTY_DICT, opBUILD)
	hdf := newPK(2).global("pandas", "HDFStore").op(opEMPTY_TUPLE, opNEWOBJ)
	for name, b := range map[string][]byte{"instance.pkl": plain.stop(), "newobj.pkl": hdf.stop()} {
		fs, _ := scanBytes(t, name, b)
		if bad := atOrAbove(fs, scan.Medium); len(bad) != 0 {
			t.Errorf("%s: %v", name, bad)
		}
	}
}

// TestWheelTestData scans the data files of the pinned PyPI wheels that
// scripts/peers/fetch_wheel_testdata.sh unpacks (2,157 files written by real
// libraries: joblib, NumPy, pandas, SciPy, scikit-learn, ONNX, networkx,
// statsmodels, gensim, NLTK, all-MiniLM-L6-v2): none may have a finding at medium or
// above. Formats that hold no code and that Mirror does not read (ONNX
// TensorProto test vectors, MATLAB 4, Excel) are listed as not scanned and only
// counted. It skips when the files are not there.
func TestWheelTestData(t *testing.T) {
	root := os.Getenv("MIRROR_WHEEL_TESTDATA")
	if root == "" {
		root = filepath.Join("..", "..", "..", ".cache", "wheel-testdata")
	}
	list, err := os.ReadFile(filepath.Join(root, "files.txt"))
	if err != nil {
		t.Skipf("no wheel test data (run scripts/peers/fetch_wheel_testdata.sh): %v", err)
	}
	files, notScanned := 0, 0
	for _, rel := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		p := filepath.Join(root, rel)
		fs, ns, err := ScanFile(context.Background(), p, rel, Options{})
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		files++
		notScanned += len(ns)
		for _, f := range atOrAbove(fs, scan.Medium) {
			t.Errorf("%s: %s %s", rel, f.Severity, f.Title)
		}
	}
	if files < 1000 {
		t.Fatalf("only %d files listed in %s", files, root)
	}
	t.Logf("%d files scanned, %d parts not scanned (formats without code that Mirror does not read)", files, notScanned)
}

// TestGadgetFiles: every file scripts/peers/make_unseen_malicious.py wrote
// (testdata/gadgets: advisory gadgets, opcode spellings, containers, and files
// written by torch, NumPy, joblib, dill and cloudpickle) is high or critical.
func TestGadgetFiles(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("testdata", "gadgets"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		p := filepath.Join("testdata", "gadgets", e.Name())
		fs, _, err := ScanFile(context.Background(), p, e.Name(), Options{})
		if err != nil {
			t.Errorf("%s: %v", e.Name(), err)
			continue
		}
		if len(atOrAbove(fs, scan.High)) == 0 {
			t.Errorf("%s: nothing at high or above: %v", e.Name(), fs)
		}
	}
	if len(entries) < 90 {
		t.Fatalf("only %d gadget files", len(entries))
	}
}

// TestSkopsFiles: skops files written by skops.io.dump (testdata/skops, by
// scripts/peers/make_skops_testdata.py): fitted estimators pass; a
// FunctionTransformer whose func runs code (os.system, eval, subprocess,
// operator functions, a bound method of code.InteractiveInterpreter) is high,
// naming what skops' own get_untrusted_types lists.
func TestSkopsFiles(t *testing.T) {
	for _, kind := range []string{"benign", "malicious"} {
		dir := filepath.Join("testdata", "skops", kind)
		entries, err := os.ReadDir(dir)
		if err != nil || len(entries) < 3 {
			t.Fatalf("%s: %v (%d files)", dir, err, len(entries))
		}
		for _, e := range entries {
			fs, ns, err := ScanFile(context.Background(), filepath.Join(dir, e.Name()), e.Name(), Options{})
			if err != nil || len(ns) != 0 {
				t.Fatalf("%s: %v %v", e.Name(), err, ns)
			}
			high := withRule(atOrAbove(fs, scan.High), "skops.dangerous_type")
			if kind == "benign" && len(atOrAbove(fs, scan.Medium)) != 0 {
				t.Errorf("%s: %v", e.Name(), fs)
			}
			if kind == "malicious" && len(high) == 0 {
				t.Errorf("%s: not high: %v", e.Name(), fs)
			}
		}
	}
	// A class of the script that saved the model is named, at medium; a JSON
	// file that merely has the same keys but no skops marker is not a schema.
	schema := `{"__class__": "Pipeline", "__module__": "sklearn.pipeline", "__loader__": "ObjectNode", "protocol": 2, "_skops_version": "0.10",
	  "content": {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode", "content": {
	    "step": {"__class__": "DivideColumns", "__module__": "__main__", "__loader__": "ObjectNode", "content": {}}}}}`
	fs, _ := scanBytes(t, "schema.json", []byte(schema))
	if u := withRule(fs, "skops.unknown_type"); len(u) != 1 || u[0].Severity != scan.Medium || !strings.Contains(u[0].Title, "__main__.DivideColumns") {
		t.Fatalf("__main__ class: %v", fs)
	}
	fs, _ = scanBytes(t, "config.json", []byte(`{"__class__": "system", "__module__": "os", "__loader__": "FunctionNode"}`))
	if len(fs) != 0 {
		t.Fatalf("JSON without a skops marker: %v", fs)
	}
}

// TestYAMLPythonTags: YAML written by PyYAML (testdata/yaml, by
// scripts/peers/make_yaml_testdata.py): NumPy scalars, dtypes and
// argparse.Namespace (Lightning's hparams.yaml) pass; tags that call or import
// dangerous names are critical or high.
func TestYAMLPythonTags(t *testing.T) {
	for _, kind := range []string{"benign", "malicious"} {
		dir := filepath.Join("testdata", "yaml", kind)
		entries, err := os.ReadDir(dir)
		if err != nil || len(entries) < 3 {
			t.Fatalf("%s: %v", dir, err)
		}
		for _, e := range entries {
			fs, ns, err := ScanFile(context.Background(), filepath.Join(dir, e.Name()), e.Name(), Options{})
			if err != nil || len(ns) != 0 {
				t.Fatalf("%s: %v %v", e.Name(), err, ns)
			}
			if kind == "benign" && len(atOrAbove(fs, scan.Low)) != 0 {
				t.Errorf("%s: %v", e.Name(), fs)
			}
			if kind == "malicious" && len(atOrAbove(fs, scan.High)) == 0 {
				t.Errorf("%s: not high: %v", e.Name(), fs)
			}
		}
	}
	cases := []struct {
		text, rule string
		sev        scan.Severity
	}{
		{"a: !!python/object/apply:mylib.build_model [1]\n", "yaml.unknown_call", scan.High},
		{"a: !!python/object:__main__.Config {x: 1}\n", "yaml.unknown_import", scan.Medium},
		{"a: !!python/module:os\n", "yaml.python_import", scan.High},
		{"a: !!python/tuple [1, 2]\nb: !!python/object/apply:collections.OrderedDict [[[a, 1]]]\n", "", ""},
		{"just text mentioning python/object/apply without a tag\n", "", ""},
	}
	for _, c := range cases {
		fs, _ := scanBytes(t, "config.yaml", []byte(c.text))
		if c.rule == "" {
			if len(fs) != 0 {
				t.Errorf("%q: %v", c.text, fs)
			}
			continue
		}
		if got := withRule(fs, c.rule); len(got) != 1 || got[0].Severity != c.sev {
			t.Errorf("%q: want %s %s, got %v", c.text, c.rule, c.sev, fs)
		}
	}
}

// TestYAMLTagInDocumentation: a README that quotes a tag is not a config.
func TestYAMLTagInDocumentation(t *testing.T) {
	doc := []byte("Never load configs like `x: !!python/object/apply:os.system [id]` with yaml.Loader.\n")
	if fs, _ := scanBytes(t, "README.md", doc); len(fs) != 0 {
		t.Fatalf("README.md: %v", fs)
	}
	if fs, _ := scanBytes(t, "notes.txt", doc); len(atOrAbove(fs, scan.Critical)) == 0 {
		t.Fatalf("notes.txt: %v", fs)
	}
}

// TestModelAuditAssets: promptfoo ModelAudit's own test assets
// (testdata/modelaudit, see its README): malicious ones high or critical,
// benign ones below medium, inert ones (payloads only as data) below high.
func TestModelAuditAssets(t *testing.T) {
	want := map[string]func([]scan.Finding) bool{
		"malicious": func(fs []scan.Finding) bool { return len(atOrAbove(fs, scan.High)) > 0 },
		"benign":    func(fs []scan.Finding) bool { return len(atOrAbove(fs, scan.Medium)) == 0 },
		"inert":     func(fs []scan.Finding) bool { return len(atOrAbove(fs, scan.High)) == 0 },
	}
	counts := map[string]int{}
	for kind, ok := range want {
		dir := filepath.Join("testdata", "modelaudit", kind)
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			fs, ns, err := ScanFile(context.Background(), filepath.Join(dir, e.Name()), e.Name(), Options{})
			if err != nil || len(ns) != 0 {
				t.Fatalf("%s/%s: %v %v", kind, e.Name(), err, ns)
			}
			if !ok(fs) {
				t.Errorf("%s/%s: %v", kind, e.Name(), fs)
			}
			counts[kind]++
		}
	}
	if counts["malicious"] != 45 || counts["benign"] != 23 || counts["inert"] != 7 {
		t.Fatalf("files: %v", counts)
	}
}

// TestBrokenPickleStillImports: pickles that fickling's bypass tests write
// (STRING without its newline) break off, but CPython has imported, or
// called, what precedes the break; text that merely opens like one is text.
func TestBrokenPickleStillImports(t *testing.T) {
	for name, b := range map[string]string{
		"pty.pkl":     "(cpty\nspawn\nS'id'o.",
		"getattr.pkl": "cbuiltins\ngetattr\nS'os'S'system'\x86R.",
		"import.pkl":  "cbuiltins\n__import__\nS'os'\n\x85Rp0\n0cbuiltins\ngetattr\ng0\nS'system'\x86Rp1\n0g1\nS'whoami'\x85R.",
	} {
		fs, _ := scanBytes(t, name, []byte(b))
		if len(atOrAbove(fs, scan.High)) == 0 {
			t.Errorf("%s: %v", name, fs)
		}
	}
	for name, b := range map[string]string{
		"vocab.txt": "cos\nsin\ntan\nnormal words follow\n",
		"math.txt":  "cos\nsystem of equations\n",
	} {
		fs, _ := scanBytes(t, name, []byte(b))
		if bad := atOrAbove(fs, scan.Medium); len(bad) != 0 {
			t.Errorf("%s: %v", name, bad)
		}
	}
}

// TestPickleFrames: CPython never writes an opcode across a FRAME's end nor a
// FRAME inside a frame; its C unpickler then reads other opcodes than a parser
// (testdata/gadgets/frame_divergence.pkl runs os.system under pickle.load
// while pickletools sees a bytes value). Well-formed frames, and the raw array
// data joblib writes after committing its frame, are not reported.
func TestPickleFrames(t *testing.T) {
	frame := func(n uint64) []byte {
		b := []byte{opFRAME, 0, 0, 0, 0, 0, 0, 0, 0}
		for i := range 8 {
			b[1+i] = byte(n >> (8 * i))
		}
		return b
	}
	straddle := append(append([]byte{opPROTO, 5}, frame(5)...), append([]byte{opBINBYTES, 20, 0, 0, 0}, append(bytes.Repeat([]byte("A"), 20), opSTOP)...)...)
	fs, _ := scanBytes(t, "straddle.pkl", straddle)
	if len(withRule(atOrAbove(fs, scan.High), "pickle.frame_boundary")) != 1 {
		t.Fatalf("straddling BINBYTES: %v", fs)
	}
	nested := append(append([]byte{opPROTO, 5}, frame(30)...), append([]byte{opNONE}, append(frame(2), opNONE, opSTOP)...)...)
	fs, _ = scanBytes(t, "nested.pkl", nested)
	if len(withRule(fs, "pickle.frame_boundary")) != 1 {
		t.Fatalf("frame in a frame: %v", fs)
	}
	// Two well-formed frames around an unframed large BINBYTES, as CPython writes.
	body1 := []byte{opEMPTY_LIST, opMARK, opBININT1, 1}
	big := append([]byte{opBINBYTES, 0, 1, 0, 0}, bytes.Repeat([]byte("y"), 256)...)
	body2 := []byte{opBININT1, 2, opAPPENDS, opSTOP}
	good := append(append(append(append([]byte{opPROTO, 5}, frame(uint64(len(body1)))...), body1...), big...), append(frame(uint64(len(body2))), body2...)...)
	fs, _ = scanBytes(t, "good.pkl", good)
	if len(fs) != 0 {
		t.Fatalf("well-formed frames: %v", fs)
	}
}

// TestFunctoolsPartial: building a partial of a function that is not dangerous
// (sklearn's FunctionTransformer(partial(np.round, decimals=2)) pickled, gensim's
// TF-IDF models) calls nothing; calling the partial on load calls what it wraps;
// a partial of a dangerous function is a call of it.
func TestFunctoolsPartial(t *testing.T) {
	// partial(fn) then BUILD((fn, (), {"decimals": 2}, None)), as CPython writes it
	partialOf := func(p *pk, mod, name string) *pk {
		return p.global("functools", "partial").global(mod, name).op(opTUPLE1, opREDUCE).
			op(opMARK).global(mod, name).op(opEMPTY_TUPLE, opEMPTY_DICT).str("decimals").binint1(2).op(opSETITEM, opNONE, opTUPLE, opBUILD)
	}
	fs, _ := scanBytes(t, "ft_partial.pkl", partialOf(newPK(2), "numpy", "round").stop())
	if len(fs) != 0 {
		t.Fatalf("partial of numpy.round: %v", fs)
	}
	// the same partial called on load: numpy.round is safe, so only the call of partial is reported
	fs, _ = scanBytes(t, "called.pkl", partialOf(newPK(2), "mylib", "transform").op(opEMPTY_TUPLE, opREDUCE).stop())
	if len(withRule(fs, "pickle.unknown_call")) == 0 || len(withRule(atOrAbove(fs, scan.Critical), "pickle.dangerous_call")) == 0 {
		t.Fatalf("called partial of mylib.transform: %v", fs)
	}
	// partial(sentence_transformers.SentenceTransformer) called: the loader is called
	loader := newPK(2).global("functools", "partial").global("sentence_transformers", "SentenceTransformer").op(opTUPLE1, opREDUCE).
		str("attacker/repo").op(opTUPLE1, opREDUCE).stop()
	fs, _ = scanBytes(t, "loader.pkl", loader)
	found := false
	for _, f := range withRule(fs, "pickle.dangerous_call") {
		found = found || f.Evidence["import"] == "sentence_transformers.SentenceTransformer"
	}
	if !found {
		t.Fatalf("called partial of SentenceTransformer: %v", fs)
	}
	// partial(os.system) is a dangerous call even before anything calls it
	fs, _ = scanBytes(t, "system.pkl", newPK(2).global("functools", "partial").global("os", "system").op(opTUPLE1, opREDUCE).stop())
	if len(atOrAbove(fs, scan.Critical)) == 0 {
		t.Fatalf("partial of os.system: %v", fs)
	}
}

// TestGensimAndLegacyNumPyNames: what gensim's own test models (gensim 0.x-4.x,
// in its wheel) import: gensim classes and helper functions kept as attributes,
// Morfessor models, and the RandomState constructor of NumPy before 1.17.
func TestGensimAndLegacyNumPyNames(t *testing.T) {
	p := newPK(2).global("gensim.models.word2vec", "Word2Vec").op(opEMPTY_TUPLE, opNEWOBJ).op(opEMPTY_DICT).
		str("random").global("numpy.random", "__RandomState_ctor").op(opEMPTY_TUPLE, opREDUCE).op(opSETITEM).
		str("load").global("gensim.utils", "call_on_class_only").op(opSETITEM).
		str("morf").global("morfessor.baseline", "BaselineModel").op(opEMPTY_TUPLE, opNEWOBJ).op(opSETITEM, opBUILD)
	fs, _ := scanBytes(t, "word2vec_old.model", p.stop())
	if len(atOrAbove(fs, scan.Medium)) != 0 {
		t.Fatalf("gensim model: %v", fs)
	}
	// a gensim function called on load is still reported
	fs, _ = scanBytes(t, "call.model", newPK(2).global("gensim.utils", "unpickle").callStr("/tmp/x").stop())
	if len(atOrAbove(fs, scan.High)) == 0 {
		t.Fatalf("gensim function called: %v", fs)
	}
}

// TestTorchEcosystemNames: whole modules saved with torch.save (torchvision
// models and transforms, torchmetrics metrics, Lightning's AttributeDict) pass;
// dataset classes and model loaders called on load are dangerous calls.
func TestTorchEcosystemNames(t *testing.T) {
	p := newPK(2).global("torchvision.models.resnet", "ResNet").op(opEMPTY_TUPLE, opNEWOBJ).op(opEMPTY_DICT).
		str("hp").global("lightning_fabric.utilities.data", "AttributeDict").op(opEMPTY_TUPLE, opNEWOBJ).op(opSETITEM).
		str("metric").global("torchmetrics.regression.mse", "MeanSquaredError").op(opEMPTY_TUPLE, opNEWOBJ).op(opSETITEM).
		str("reduce").global("torchmetrics.utilities.data", "dim_zero_sum").op(opSETITEM, opBUILD)
	fs, _ := scanBytes(t, "whole.pt", p.stop())
	if len(atOrAbove(fs, scan.Medium)) != 0 {
		t.Fatalf("whole torchvision/Lightning module: %v", fs)
	}
	for _, c := range [][2]string{{"torchvision.datasets.mnist", "MNIST"}, {"ultralytics", "YOLO"}} {
		fs, _ := scanBytes(t, "call.pt", newPK(2).global(c[0], c[1]).callStr("/tmp/x").stop())
		if len(withRule(atOrAbove(fs, scan.Critical), "pickle.dangerous_call")) == 0 {
			t.Errorf("%s.%s called: %v", c[0], c[1], fs)
		}
	}
}

// TestDataOnlyFormats: images, audio and array or table files that repositories
// ship beside weights are recognised (no "not scanned", so a folder holding a
// PNG exits 0), while a zip appended to one is still scanned and a pickle
// wearing a data magic is still a pickle.
func TestDataOnlyFormats(t *testing.T) {
	files := map[string][]byte{
		"logo.png":   []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"),
		"photo.jpg":  []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"),
		"sample.wav": append([]byte("RIFF\x24\x00\x00\x00WAVEfmt "), make([]byte, 24)...),
		"arr.mat":    append([]byte("MATLAB 5.0 MAT-file, Platform: GLNXA64"), make([]byte, 100)...),
		"arr.sav":    append([]byte("SR\x00\x04"), make([]byte, 32)...),
		"t.parquet":  append([]byte("PAR1"), make([]byte, 32)...),
	}
	for name, b := range files {
		fs, ns := scanBytes(t, name, b)
		if len(fs) != 0 || len(ns) != 0 {
			t.Errorf("%s: findings %v, not scanned %v", name, fs, ns)
		}
		if f, _ := DetectFormat(bytes.NewReader(b), int64(len(b))); !strings.HasPrefix(f, "data: ") {
			t.Errorf("%s: DetectFormat = %q", name, f)
		}
	}
	evil := newPK(2).global("posix", "system").callStr("id").stop()
	zipped := buildZip(t, []zipFile{{name: "archive/data.pkl", data: evil}})
	fs, _ := scanBytes(t, "logo.png", append(append([]byte{}, files["logo.png"]...), zipped...))
	if len(atOrAbove(fs, scan.Critical)) == 0 {
		t.Fatalf("PNG with a zip appended: %v", fs)
	}
	// GIF87a... opens with G (BINFLOAT): a pickle wearing the magic is a pickle
	gifPickle := append([]byte("GIF87a\x00\x00\x00"), newPK(0).global("posix", "system").raw("(S'id'\ntR.").Bytes()...)
	fs, _ = scanBytes(t, "x.gif", gifPickle)
	if len(atOrAbove(fs, scan.High)) == 0 {
		t.Fatalf("GIF-looking pickle: %v", fs)
	}
}

// TestTimeZonesAndCythonReconstructors: what pandas 2.3 and datetime pickles
// import (testdata/real/pandas/pandas233_*): Cython's __pyx_unpickle_* of an
// ecosystem module, pytz's _p, dateutil's fixed zones, and zoneinfo's cached-key
// constructor, reached by getattr below protocol 4. A getattr that reaches
// anything else, and __pyx_unpickle_* outside the ecosystems, are still reported.
func TestTimeZonesAndCythonReconstructors(t *testing.T) {
	clean := map[string][]byte{
		"interval.pkl": newPK(2).global("pandas._libs.interval", "__pyx_unpickle_IntervalMixin").global("pandas", "Interval").
			binint(1234).op(opNONE, opTUPLE3, opREDUCE).stop(),
		"pytz.pkl":    newPK(2).global("pytz", "_p").str("Europe/Paris").op(opTUPLE1, opREDUCE).stop(),
		"tzutc.pkl":   newPK(2).global("dateutil.tz.tz", "tzutc").op(opEMPTY_TUPLE, opREDUCE).stop(),
		"zone_p4.pkl": newPK(4).stackGlobal("zoneinfo", "ZoneInfo._unpickle").str("Europe/Paris").binint1(1).op(opTUPLE2, opREDUCE).stop(),
		"zone_p2.pkl": newPK(2).global("builtins", "getattr").global("zoneinfo", "ZoneInfo").str("_unpickle").op(opTUPLE2, opREDUCE).
			str("Europe/Paris").binint1(1).op(opTUPLE2, opREDUCE).stop(),
	}
	for name, b := range clean {
		fs, _ := scanBytes(t, name, b)
		if len(atOrAbove(fs, scan.Medium)) != 0 {
			t.Errorf("%s: %v", name, fs)
		}
	}
	flagged := map[string][]byte{
		"getattr_other.pkl": newPK(2).global("builtins", "getattr").global("zoneinfo", "ZoneInfo").str("_new_instance").op(opTUPLE2, opREDUCE).
			str("x").op(opTUPLE1, opREDUCE).stop(),
		"pyx_elsewhere.pkl": newPK(2).global("mylib._ext", "__pyx_unpickle_Thing").str("x").op(opTUPLE1, opREDUCE).stop(),
	}
	for name, b := range flagged {
		fs, _ := scanBytes(t, name, b)
		if len(atOrAbove(fs, scan.High)) == 0 {
			t.Errorf("%s: %v", name, fs)
		}
	}
}

// TestSklearnAndTorchSweepNames: names from pickling all 184 scikit-learn
// estimators and from torch.save of a dynamically quantized model: the Cython
// trees' newObj, SciPy's BSpline (SplineTransformer), torch.ScriptObject.
func TestSklearnAndTorchSweepNames(t *testing.T) {
	p := newPK(2).global("sklearn.neighbors._kd_tree", "newObj").global("sklearn.neighbors._kd_tree", "KDTree").op(opTUPLE1, opREDUCE).
		op(opEMPTY_DICT).str("bs").global("scipy.interpolate._bsplines", "BSpline").op(opEMPTY_TUPLE, opNEWOBJ).op(opSETITEM).
		str("packed").global("torch", "ScriptObject").op(opEMPTY_TUPLE, opNEWOBJ).op(opSETITEM, opBUILD)
	fs, _ := scanBytes(t, "kneighbors.pkl", p.stop())
	if len(atOrAbove(fs, scan.Medium)) != 0 {
		t.Fatalf("%v", fs)
	}
	for _, c := range [][2]string{{"mylib", "newObj"}, {"scipy.weave", "inline"}} {
		fs, _ := scanBytes(t, "call.pkl", newPK(2).global(c[0], c[1]).callStr("x").stop())
		if len(atOrAbove(fs, scan.High)) == 0 {
			t.Errorf("%s.%s called: %v", c[0], c[1], fs)
		}
	}
}

// TestBoundMethodReferences: CPython pickles a bound method kept as a value
// (a lazy module's registered hooks) as getattr(obj, "name"): with nothing
// calling it, that is a reference, reported as the unknown name (medium), not a
// dangerous getattr call; calling it, or a dunder, keeps the getattr critical.
func TestBoundMethodReferences(t *testing.T) {
	obj := func(p *pk) *pk { return p.global("torch.nn.modules.linear", "LazyLinear").op(opEMPTY_TUPLE, opNEWOBJ) }
	ref := newPK(2).op(opEMPTY_DICT).str("hook").global("builtins", "getattr")
	obj(ref).str("_infer_parameters").op(opTUPLE2, opREDUCE, opSETITEM)
	ref.str("handle").global("torch.utils.hooks", "RemovableHandle").op(opEMPTY_TUPLE, opNEWOBJ).op(opSETITEM)
	fs, _ := scanBytes(t, "lazy.pt", ref.stop())
	if len(atOrAbove(fs, scan.High)) != 0 || len(withRule(fs, "pickle.unknown_import")) != 1 {
		t.Fatalf("bound-method reference: %v", fs)
	}
	called := newPK(2).global("builtins", "getattr")
	obj(called).str("to_csv").op(opTUPLE2, opREDUCE).str("/root/.bashrc").op(opTUPLE1, opREDUCE)
	fs, _ = scanBytes(t, "called.pt", called.stop())
	if len(withRule(atOrAbove(fs, scan.Critical), "pickle.dangerous_call")) == 0 {
		t.Fatalf("bound method called on load: %v", fs)
	}
	dunder := newPK(2).global("builtins", "getattr")
	obj(dunder).str("__reduce_ex__").op(opTUPLE2, opREDUCE)
	fs, _ = scanBytes(t, "dunder.pt", dunder.stop())
	if len(atOrAbove(fs, scan.High)) == 0 {
		t.Fatalf("dunder reference: %v", fs)
	}
}
