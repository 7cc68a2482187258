package artifact

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"mirror/internal/scan"
)

// scanBytes scans b written to a file named name and returns what it found.
func scanBytes(t *testing.T, name string, b []byte) ([]scan.Finding, []scan.NotScanned) {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	f, ns, err := ScanFile(context.Background(), p, name, Options{})
	if err != nil {
		t.Fatalf("ScanFile(%s): %v", name, err)
	}
	return f, ns
}

func atOrAbove(fs []scan.Finding, sev scan.Severity) []scan.Finding {
	var out []scan.Finding
	for _, f := range fs {
		if f.Severity.Rank() >= sev.Rank() {
			out = append(out, f)
		}
	}
	return out
}

func withRule(fs []scan.Finding, rule string) []scan.Finding {
	var out []scan.Finding
	for _, f := range fs {
		if f.Evidence["rule"] == rule {
			out = append(out, f)
		}
	}
	return out
}

// zipCrypto encrypts plain with the traditional PKWARE cipher (APPNOTE 6.1):
// a 12-byte header whose last byte is the CRC's high byte, then the data.
func zipCrypto(password string, plain []byte, crc uint32) []byte {
	tab := crc32.MakeTable(crc32.IEEE)
	k0, k1, k2 := uint32(0x12345678), uint32(0x23456789), uint32(0x34567890)
	upd := func(c byte) {
		k0 = tab[byte(k0)^c] ^ (k0 >> 8)
		k1 = (k1+(k0&0xff))*134775813 + 1
		k2 = tab[byte(k2)^byte(k1>>24)] ^ (k2 >> 8)
	}
	for i := range len(password) {
		upd(password[i])
	}
	hdr := []byte("0123456789a\x00")
	hdr[11] = byte(crc >> 24)
	out := make([]byte, 0, len(hdr)+len(plain))
	for _, p := range append(hdr, plain...) {
		t := (k2 | 2) & 0xffff
		out = append(out, p^byte((t*(t^1))>>8))
		upd(p)
	}
	return out
}

// encryptedZip is a zip with one ZipCrypto member holding plain (stored or deflated).
func encryptedZip(name string, plain []byte, deflate bool) []byte {
	crc := crc32.ChecksumIEEE(plain)
	body, method := plain, uint16(0)
	if deflate {
		body, method = deflateBytes(plain), 8
	}
	return buildRawZip([]rawMember{{name: name, data: zipCrypto("secret", body, crc), uncompSize: uint32(len(plain)),
		method: method, flags: 1, crc: crc, setCRC: true, pointAt: -1}})
}

func TestZipCryptoMembers(t *testing.T) {
	evil := newPK(2).global("os", "system").callStr("id").stop()
	cases := []struct {
		name    string
		zip     []byte
		content []byte
	}{
		{"text_stored.zip", encryptedZip("test.txt", []byte("hello, encrypted world\n"), false), []byte("hello, encrypted world\n")},
		{"text_deflated.zip", encryptedZip("test.txt", bytes.Repeat([]byte("hello "), 50), true), bytes.Repeat([]byte("hello "), 50)},
		{"pickle_stored.zip", encryptedZip("data.pkl", evil, false), evil},
		{"pickle_deflated.zip", encryptedZip("archive/data.pkl", evil, true), evil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, ns := scanBytes(t, c.name, c.zip)
			if hi := atOrAbove(f, scan.Medium); len(hi) > 0 {
				t.Errorf("encrypted member gave findings at medium or above: %+v", hi)
			}
			if len(ns) != 1 || !strings.Contains(ns[0].Reason, "encrypted") {
				t.Errorf("want exactly one not-scanned entry saying encrypted, got %+v", ns)
			}
			// The archive is a real ZipCrypto archive: Info-ZIP's unzip decrypts it.
			if unzip, err := exec.LookPath("unzip"); err == nil {
				p := filepath.Join(t.TempDir(), c.name)
				if err := os.WriteFile(p, c.zip, 0o644); err != nil {
					t.Fatal(err)
				}
				out, err := exec.Command(unzip, "-P", "secret", "-p", p).Output()
				if err != nil || !bytes.Equal(out, c.content) {
					t.Errorf("unzip -P could not decrypt the test archive: %v", err)
				}
			}
		})
	}
}

func TestNestedPickleInBytesIsMedium(t *testing.T) {
	inner := newPK(2).global("os", "system").callStr("id").stop()
	outer := newPK(3).op('}').binunicode("blob").binbytes(inner).op(opSETITEM).stop()
	f, _ := scanBytes(t, "holds_pickle_bytes.pkl", outer)
	if hi := atOrAbove(f, scan.High); len(hi) > 0 {
		t.Errorf("a pickle that only holds another pickle's bytes was rated high: %+v", hi)
	}
	nested := withRule(f, "pickle.nested_pickle")
	if len(nested) != 1 || nested[0].Severity != scan.Medium || !strings.Contains(nested[0].Title, "os.system") {
		t.Fatalf("want one medium pickle.nested_pickle naming os.system, got %+v", f)
	}
	// Passed to a loader, the same bytes run on load: critical as before.
	loaded := newPK(3).global("_pickle", "loads").binbytes(inner).op(opTUPLE1, opREDUCE).stop()
	f, _ = scanBytes(t, "loads_pickle_bytes.pkl", loaded)
	if len(atOrAbove(withRule(f, "pickle.dangerous_call"), scan.Critical)) == 0 {
		t.Errorf("pickle.loads of nested bytes not critical: %+v", f)
	}
}

// TestLargeBenignDictOfListsHasNoBudgetFinding: a 24 MB dict of lists (more
// values than the analysis keeps) is ordinary data, not a medium finding.
func TestLargeBenignDictOfListsHasNoBudgetFinding(t *testing.T) {
	p := newPK(2).op('}', opMARK)
	const n = 700_000
	for i := range n {
		p.binint(int32(i)).op(']', opMARK)
		for j := range 3 {
			p.op(opBINFLOAT)
			_ = binary.Write(p, binary.BigEndian, float64(i*3+j))
		}
		p.op(opAPPENDS)
		if i%1000 == 999 {
			p.op(opSETITEMS, opMARK)
		}
	}
	b := p.op(opSETITEMS).stop()
	if len(b) < 24_000_000 {
		t.Fatalf("built %d bytes, want at least 24 MB", len(b))
	}
	f, ns := scanBytes(t, "dict_of_lists.pkl", b)
	if hi := atOrAbove(f, scan.Low); len(hi) > 0 || len(ns) > 0 {
		t.Errorf("benign dict of lists: findings %+v, not scanned %+v", hi, ns)
	}
	if len(withRule(f, "pickle.analysis_budget")) == 0 {
		t.Errorf("the file was meant to exceed the analysis budget (info note expected): %+v", f)
	}
}

func TestTextThatIsNotAPickle(t *testing.T) {
	for name, b := range map[string][]byte{
		"notes.txt":      []byte("cat is a small animal\nit says meow\n"),
		"not_pickle.bin": []byte("cmod\n\xf8\n"),
		"csv.txt":        []byte("col a,col b\n1,2\n3,4\n"),
	} {
		t.Run(name, func(t *testing.T) {
			f, _ := scanBytes(t, name, b)
			for _, x := range f {
				if strings.HasPrefix(x.Evidence["rule"].(string), "pickle.") {
					t.Errorf("text reported as a pickle: %s %s", x.Severity, x.Title)
				}
			}
		})
	}
	// A real protocol 0 pickle that imports a dangerous name is still one.
	f, _ := scanBytes(t, "p0.txt", []byte("cos\nsystem\n(S'id'\ntR."))
	if len(atOrAbove(f, scan.Critical)) == 0 {
		t.Errorf("protocol 0 pickle calling os.system not critical: %+v", f)
	}
}

// TestRealLibraryFilesAreClean scans the files that real libraries wrote
// (testdata/real, made by scripts/peers/make_real_corpus.py): nothing at medium
// or above, and every file scanned.
func TestRealLibraryFilesAreClean(t *testing.T) {
	root := filepath.Join("testdata", "real")
	n := 0
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		f, ns, err := ScanFile(context.Background(), p, p, Options{})
		if err != nil {
			t.Errorf("%s: %v", p, err)
			return nil
		}
		for _, x := range atOrAbove(f, scan.Medium) {
			t.Errorf("%s: %s %s", p, x.Severity, x.Title)
		}
		for _, x := range ns {
			t.Errorf("%s: not scanned: %s", p, x.Reason)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 20 {
		t.Fatalf("only %d real files under %s", n, root)
	}
}

// TestImportPolicy: advisory gadgets inside torch are dangerous; a function
// that is on no list and is called on load is high; a class on no list is
// medium and named; classes of the model ecosystems pass.
func TestImportPolicy(t *testing.T) {
	cases := []struct {
		name     string
		pickle   []byte
		rule     string
		sev      scan.Severity
		evidence string
	}{
		{"torch_datapipes_decoder.pkl", newPK(4).stackGlobal("torch.utils.data.datapipes.utils.decoder", "basichandlers").
			binunicode("pickle").binbytes(newPK(2).global("os", "system").callStr("id").stop()).op(opTUPLE2, opREDUCE).stop(),
			"pickle.dangerous_call", scan.Critical, "basichandlers"},
		{"torch_config_module.pkl", newPK(4).stackGlobal("torch.utils._config_module", "ConfigModule.load_config").
			binbytes([]byte("x")).op(opTUPLE1, opREDUCE).stop(), "pickle.dangerous_call", scan.Critical, "load_config"},
		{"unknown_function_called.pkl", newPK(4).stackGlobal("torch.utils.some_new_module", "run_hook").callStr("x").stop(),
			"pickle.unknown_call", scan.High, "torch.utils.some_new_module.run_hook"},
		{"unknown_method_called.pkl", newPK(4).stackGlobal("somepkg.mod", "Loader.load_from").callStr("x").stop(),
			"pickle.unknown_call", scan.High, "somepkg.mod.Loader.load_from"},
		{"unknown_class.pkl", newPK(2).global("mylab.models", "Net").op(')', opNEWOBJ).stop(),
			"pickle.unknown_import", scan.Medium, "mylab.models.Net"},
		{"ecosystem_function_called.pkl", newPK(2).global("sklearn.utils._testing", "assert_run_python_script").callStr("import os").stop(),
			"pickle.unknown_call", scan.High, "sklearn.utils._testing.assert_run_python_script"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, _ := scanBytes(t, c.name, c.pickle)
			for _, x := range withRule(f, c.rule) {
				if x.Severity == c.sev && strings.Contains(x.Title, c.evidence) {
					return
				}
			}
			t.Errorf("want %s at %s naming %s, got %+v", c.rule, c.sev, c.evidence, f)
		})
	}
	for _, ok := range [][2]string{{"sklearn.tree._tree", "Tree"}, {"xgboost.core", "Booster"}, {"lightgbm.basic", "Booster"},
		{"__torch__.torch.nn.modules.linear", "Linear"}, {"torch.jit._pickle", "build_intlist"}} {
		if c := classify(ok[0], ok[1]); c.verdict != verdictSafe && c.verdict != verdictEcosystem {
			t.Errorf("%s.%s: verdict %d, want safe", ok[0], ok[1], c.verdict)
		}
	}
}

// kerasV3 is a .keras archive whose Sequential model holds layer.
func kerasV3(t *testing.T, layer string) []byte {
	return buildZip(t, []zipFile{{name: "metadata.json", data: []byte(`{"keras_version": "3.10.0"}`)},
		{name: "config.json", data: []byte(`{"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": [` + layer + `]}}`)},
		{name: "model.weights.h5", data: fakeH5("")}})
}

func TestKerasLayersThatLoadFromOutside(t *testing.T) {
	evilTorch := torchZip(t, newPK(2).global("os", "system").callStr("id").stop(), false)
	cases := []struct {
		name, layer, rule string
		sev               scan.Severity
		evidence          string
	}{
		{"tfsm.keras", `{"module": "keras.layers", "class_name": "TFSMLayer", "config": {"name": "t", "filepath": "/tmp/exported_model", "call_endpoint": "serve"}}`,
			"keras.external_load", scan.High, "/tmp/exported_model"},
		{"hub.keras", `{"module": "tensorflow_hub.keras_layer", "class_name": "KerasLayer", "config": {"handle": "https://example.invalid/model/1"}}`,
			"keras.external_load", scan.High, "https://example.invalid/model/1"},
		{"torch_wrapper.keras", `{"module": "keras.layers", "class_name": "TorchModuleWrapper", "config": {"name": "w", "module": "` + base64.StdEncoding.EncodeToString(evilTorch) + `"}}`,
			"pickle.dangerous_call", scan.Critical, "os.system"},
		{"lookup.keras", `{"module": "keras.layers", "class_name": "StringLookup", "config": {"vocabulary": "/etc/passwd"}}`,
			"keras.reads_file", scan.Medium, "/etc/passwd"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, _ := scanBytes(t, c.name, kerasV3(t, c.layer))
			for _, x := range withRule(f, c.rule) {
				if x.Severity == c.sev && (strings.Contains(x.Title, c.evidence) || evidenceHas(x, c.evidence)) {
					return
				}
			}
			t.Errorf("want %s at %s with %q, got %+v", c.rule, c.sev, c.evidence, f)
		})
	}
	// The same layer kinds without external paths are not reported.
	f, _ := scanBytes(t, "lookup_list.keras", kerasV3(t, `{"module": "keras.layers", "class_name": "StringLookup", "config": {"vocabulary": ["a", "b"]}}`))
	if hi := atOrAbove(f, scan.Medium); len(hi) > 0 {
		t.Errorf("in-file vocabulary flagged: %+v", hi)
	}
}

// Test7z scans the 7-Zip archives that scripts/peers/make_7z_testdata.py wrote
// with py7zr: pickles in every coder are found, and what cannot be read with
// bounded memory or without a password is reported as not scanned.
func Test7z(t *testing.T) {
	cases := []struct {
		file     string
		critical bool
		skipped  string // substring of the one not-scanned reason ("" = none)
	}{
		{"malicious_lzma2.7z", true, ""},
		{"malicious_lzma.7z", true, ""},
		{"malicious_bzip2.7z", true, ""},
		{"malicious_copy.7z", true, ""},
		{"malicious_solid_second.7z", true, ""},
		{"benign.7z", false, ""},
		{"encrypted.7z", false, "encrypted"},
		{"encrypted_header.7z", false, "encrypted"},
		{"big_dictionary.7z", false, "exceeds the limit"},
		{"ppmd.7z", false, "not run by this scanner"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			p := filepath.Join("testdata", "7z", c.file)
			f, ns, err := ScanFile(context.Background(), p, c.file, Options{})
			if err != nil {
				t.Fatal(err)
			}
			crit := withRule(atOrAbove(f, scan.Critical), "pickle.dangerous_call")
			if c.critical && (len(crit) == 0 || !evidenceHas(crit[0], "builtins.eval")) {
				t.Errorf("want a critical builtins.eval call, got %+v (not scanned %+v)", f, ns)
			}
			if !c.critical && len(atOrAbove(f, scan.Medium)) > 0 {
				t.Errorf("want nothing at medium or above, got %+v", f)
			}
			switch {
			case c.skipped == "" && len(ns) > 0:
				t.Errorf("unexpected not scanned: %+v", ns)
			case c.skipped != "" && (len(ns) != 1 || !strings.Contains(ns[0].Reason, c.skipped)):
				t.Errorf("want one not-scanned entry with %q, got %+v", c.skipped, ns)
			}
		})
	}
}

// TestModelFolderScan scans a Hugging Face repository layout (sharded weights,
// tokenizer and configs, a chat template) in parallel: each file's format comes
// from its content (a pickle named .safetensors is still read as a pickle), and
// the report is the same whatever the number of workers.
func TestModelFolderScan(t *testing.T) {
	dir := t.TempDir()
	real := func(p string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "real", p))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	evil := torchZip(t, newPK(2).global("os", "system").callStr("id").stop(), false)
	files := map[string][]byte{
		"config.json":                        real("transformers/tiny-bert/config.json"),
		"tokenizer.json":                     real("transformers/tiny-bert/tokenizer.json"),
		"tokenizer_config.json":              []byte(`{"chat_template": "{% for m in messages %}{{ m['content'] }}{% endfor %}"}`),
		"model-00001-of-00002.safetensors":   real("transformers/tiny-bert/model.safetensors"),
		"model-00002-of-00002.safetensors":   evil, // a torch pickle under a safetensors name
		"model.safetensors.index.json":       []byte(`{"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors"}}`),
		"pytorch_model-00001-of-00002.bin":   real("torch/state_dict.pt"),
		"nested/onnx/model.onnx":             real("onnx/relu.onnx"),
		"nested/special_tokens_map.json":     []byte(`{"pad_token": "[PAD]"}`),
		"nested/generation_config.json.lock": nil,
	}
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var reports [][]scan.Finding
	for _, workers := range []int{1, 4} {
		calls := 0
		f, ns, err := Scan(context.Background(), dir, Options{Workers: workers, Progress: func(done, total int, _ string) { calls++ }})
		if err != nil {
			t.Fatal(err)
		}
		if len(ns) > 0 {
			t.Errorf("workers %d: not scanned %+v", workers, ns)
		}
		if calls < len(files) {
			t.Errorf("workers %d: %d progress calls for %d files", workers, calls, len(files))
		}
		var hi []string
		for _, x := range atOrAbove(f, scan.Medium) {
			hi = append(hi, x.Evidence["file"].(string)+" "+x.Title)
		}
		if len(hi) != 1 || !strings.Contains(hi[0], "model-00002-of-00002.safetensors") || !strings.Contains(hi[0], "os.system") {
			t.Errorf("workers %d: want one finding, the os.system call in the second shard, got %q", workers, hi)
		}
		reports = append(reports, f)
	}
	if len(reports[0]) != len(reports[1]) {
		t.Fatalf("1 and 4 workers disagree: %d vs %d findings", len(reports[0]), len(reports[1]))
	}
	for i := range reports[0] {
		if reports[0][i].Title != reports[1][i].Title || reports[0][i].Evidence["file"] != reports[1][i].Evidence["file"] {
			t.Errorf("finding %d differs: %q vs %q", i, reports[0][i].Title, reports[1][i].Title)
		}
	}
}

// Test7zBomb scans a 7-Zip decompression bomb written by py7zr
// (make_7z_testdata.py): 1.5 GiB of zeros in a 229 KiB archive, with a pickle
// behind them in the same solid stream. The declared ratio is a high finding,
// and the scan does not decode past its limits to reach the pickle.
func Test7zBomb(t *testing.T) {
	p := filepath.Join("testdata", "7z", "bomb_solid.7z")
	opts := Options{MaxDecompressedBytes: 64 << 20}
	f, ns, err := ScanFile(context.Background(), p, "bomb_solid.7z", opts)
	if err != nil {
		t.Fatal(err)
	}
	bomb := withRule(atOrAbove(f, scan.High), "container.decompression_bomb")
	if total, _ := bomb0(bomb)["declared_total"].(uint64); len(bomb) != 1 || total <= 3<<29 {
		t.Fatalf("want one decompression bomb finding declaring over %d bytes, got %+v", 3<<29, f)
	}
	if !hasNotScanned(ns, "model.pkl", "past the decompression limit") {
		t.Errorf("the pickle behind 1.5 GiB of zeros should be not scanned at a 64 MiB limit, got %+v", ns)
	}

	// The whole-archive budget: nothing decoded past it, whatever the member limit.
	opts = Options{MaxArchiveDecompressedBytes: 1 << 20}
	_, ns, err = ScanFile(context.Background(), p, "bomb_solid.7z", opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"zeros.bin", "model.pkl"} {
		if !hasNotScanned(ns, m, "in all") {
			t.Errorf("%s: want not scanned past the archive budget, got %+v", m, ns)
		}
	}
}

// Test7zArchiveBudget checks the budget's arithmetic on a solid archive of a
// 300-byte text and a pickle: reaching the pickle decodes the text first, so
// the pickle is scanned only when the budget covers both.
func Test7zArchiveBudget(t *testing.T) {
	p := filepath.Join("testdata", "7z", "malicious_solid_second.7z")
	for _, c := range []struct {
		budget  int64
		scanned bool
	}{{250, false}, {350, false}, {2000, true}} {
		f, ns, err := ScanFile(context.Background(), p, "solid.7z", Options{MaxArchiveDecompressedBytes: c.budget})
		if err != nil {
			t.Fatal(err)
		}
		crit := len(atOrAbove(f, scan.Critical)) > 0
		if crit != c.scanned || hasNotScanned(ns, "model.pkl", "in all") == c.scanned {
			t.Errorf("budget %d: pickle scanned %v (not scanned: %+v), want %v", c.budget, crit, ns, c.scanned)
		}
	}
}

func bomb0(fs []scan.Finding) map[string]any {
	if len(fs) == 0 {
		return nil
	}
	return fs[0].Evidence
}

func hasNotScanned(ns []scan.NotScanned, member, reason string) bool {
	for _, n := range ns {
		if strings.Contains(n.Path, member) && strings.Contains(n.Reason, reason) {
			return true
		}
	}
	return false
}

// TestSavedModel scans TensorFlow SavedModels written by TensorFlow
// (make_tf_testdata.py, make_real_corpus.py): graphs that read or write files or
// call Python are high, naming the op; the real models, whose graphs carry the
// checkpoint ops every SavedModel has, are clean, and their files are recognised
// by content (an ONNX sniff does not take saved_model.pb).
func TestSavedModel(t *testing.T) {
	for file, op := range map[string]string{"read_file.pb": "ReadFile", "write_file.pb": "WriteFile", "py_function.pb": "EagerPyFunc"} {
		f, _, err := ScanFile(context.Background(), filepath.Join("testdata", "tensorflow", file), file, Options{})
		if err != nil {
			t.Fatal(err)
		}
		hi := withRule(atOrAbove(f, scan.High), "savedmodel.dangerous_op")
		if len(hi) != 1 || hi[0].Evidence["op"] != op {
			t.Errorf("%s: want one high savedmodel.dangerous_op for %s, got %+v", file, op, f)
		}
	}
	// The schema version is optional in the protobuf: a model that leaves it out
	// starts with its MetaGraphDef and is still read as a SavedModel.
	b, err := os.ReadFile(filepath.Join("testdata", "tensorflow", "read_file.pb"))
	if err != nil || !bytes.HasPrefix(b, []byte{0x08, 0x01}) {
		t.Fatalf("read_file.pb: %v", err)
	}
	f, _, err := ScanReaderAt(context.Background(), bytes.NewReader(b[2:]), int64(len(b)-2), "no_version.pb", Options{})
	if hi := withRule(atOrAbove(f, scan.High), "savedmodel.dangerous_op"); err != nil || len(hi) != 1 {
		t.Errorf("SavedModel without its schema version: want ReadFile found, got %+v (%v)", f, err)
	}
	real := filepath.Join("testdata", "real", "tensorflow")
	for file, want := range map[string]string{
		"module_savedmodel/saved_model.pb":            "savedmodel",
		"keras_export/saved_model.pb":                 "savedmodel",
		"keras_export/fingerprint.pb":                 "tensorflow fingerprint",
		"module_savedmodel/variables/variables.index": "tensorflow checkpoint index",
	} {
		r, err := os.Open(filepath.Join(real, file))
		if err != nil {
			t.Fatal(err)
		}
		st, _ := r.Stat()
		got, err := DetectFormat(r, st.Size())
		r.Close()
		if err != nil || got != want {
			t.Errorf("%s: format %q (%v), want %q", file, got, err, want)
		}
	}
}
