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
// scripts/peers/fetch_wheel_testdata.sh unpacks (1,950 files written by real
// libraries: joblib, NumPy, pandas, SciPy, scikit-learn, ONNX, networkx,
// statsmodels, NLTK, all-MiniLM-L6-v2): none may have a finding at medium or
// above. Formats that hold no code and that Mirror does not read (images,
// audio, MATLAB, IDL, ONNX TensorProto test vectors) are listed as not scanned
// and only counted. It skips when the files are not there.
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
	if len(entries) < 80 {
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
