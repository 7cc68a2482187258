package artifact

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"mirror/internal/scan"
)

// TestHFRepoFolderIsClean scans the Hugging Face repository layout that the
// real libraries wrote (make_real_corpus.py, steps hf and hf_tf) as one folder:
// nothing is reported and nothing is left unscanned, and each file's format is
// recognised from its content (or, for raw weights, from the model beside it).
func TestHFRepoFolderIsClean(t *testing.T) {
	root := hfRepoCopy(t)
	findings, ns := scanDir(t, root)
	for _, f := range findings {
		t.Errorf("finding: %s %s (%v)", f.Severity, f.Title, f.Evidence["file"])
	}
	for _, n := range ns {
		t.Errorf("not scanned: %s: %s", n.Path, n.Reason)
	}
	want := map[string]string{
		".gitattributes": "text", "README.md": "text", "chat_template.jinja": "text", "config.json": "json",
		"generation_config.json": "json", "tokenizer.json": "json", "tokenizer_config.json": "json",
		"model.safetensors.index.json": "json", "pytorch_model.bin.index.json": "json",
		"embeddings.npz": "zip", "flax_model.msgpack": "msgpack", "model.tflite": "tflite", "tf_model.h5": "hdf5",
		"tokenizer.model": "sentencepiece", "spiece.model": "sentencepiece",
		"onnx/model.onnx": "onnx", "onnx/model.onnx_data": "onnx external data",
		"onnx/model_dotted.onnx": "onnx", "onnx/model_dotted.onnx.data": "onnx external data",
		"onnx/test_data_set_0/input_0.pb": "onnx tensor", "onnx/test_data_set_0/output_0.pb": "onnx tensor",
		"openvino/openvino_model.xml": "openvino ir", "openvino/openvino_model.bin": "openvino weights",
		"assets/figure.png": "data: png", "assets/figure.jpg": "data: jpeg", "assets/figure.gif": "data: gif", "assets/figure.webp": "data: webp",
		"assets/sample.wav": "data: wav", "assets/eval.parquet": "data: parquet",
		"openvino/openvino_tokenizer.xml": "openvino ir", "openvino/openvino_tokenizer.bin": "openvino weights",
		"openvino/openvino_detokenizer.xml": "openvino ir", "openvino/openvino_detokenizer.bin": "openvino weights",
		"tiny-00001-of-00002.gguf": "gguf", "tiny-00002-of-00002.gguf": "gguf",
		"coreml/fill-mask/float32_model.mlpackage/Manifest.json":                            "json",
		"coreml/fill-mask/float32_model.mlpackage/Data/com.apple.CoreML/model.mlmodel":      "coreml",
		"coreml/fill-mask/float32_model.mlpackage/Data/com.apple.CoreML/weights/weight.bin": "coreml weights",
	}
	seen := 0
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		st, _ := f.Stat()
		got, err := DetectFileFormat(f, st.Size(), p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(filepath.Join(root, "tiny-repo"), p)
		if filepath.Base(p) == "hub.gitattributes" {
			return nil // scanned as .gitattributes in the copy
		}
		if strings.HasPrefix(rel, "..") {
			rel = filepath.Base(p)
		}
		rel = filepath.ToSlash(rel)
		switch {
		case strings.HasSuffix(rel, ".safetensors"):
			want[rel] = "safetensors"
		case strings.HasPrefix(rel, "pytorch_model-"):
			want[rel] = "zip"
		}
		if w, ok := want[rel]; !ok {
			t.Errorf("%s: no expected format (got %q)", rel, got)
		} else if got != w {
			t.Errorf("%s: format %q, want %q", rel, got, w)
		}
		seen++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 30 {
		t.Fatalf("only %d files under %s", seen, root)
	}
}

// hfRepoCopy copies testdata/real/hf to a temporary folder and puts the hub's
// .gitattributes in the repository, where the hub writes it (it cannot be
// committed there: it would mark this repository's files for Git LFS).
func hfRepoCopy(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	src := filepath.Join("testdata", "real", "hf")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(src, "hub.gitattributes"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "tiny-repo", ".gitattributes"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestHFHostile: the hostile variants make_hf_hostile.py derives from the real
// files, each with what it must be reported as.
func TestHFHostile(t *testing.T) {
	type want struct {
		rule     string
		sev      scan.Severity
		titleHas string
	}
	cases := map[string]struct {
		want       []want
		notScanned string
	}{
		"tflite_flex_read_file": {want: []want{{"tflite.flex_op", scan.High, "op ReadFile through the Flex delegate"}}},
		"tflite_custom_op": {want: []want{{"tflite.custom_op", scan.Medium, `"ReadFile"`},
			{"tflite.custom_op", scan.Medium, `"StringLength"`}}},
		"openvino_extension": {want: []want{{"openvino.custom_layer", scan.Medium, `"MyFusedAdd" from operation set "my_extension"`}}},
		"openvino_truncated": {want: []want{{"format.past_end", scan.High, "offset 32, 8 bytes, past the end of this 36-byte file"},
			{"format.uncovered_data", scan.Medium, "4 bytes"}}},
		"openvino_appended": {want: []want{{"format.uncovered_data", scan.Medium, "54 bytes"},
			{"pickle.dangerous_call", scan.Critical, "system"}}},
		"onnx_past_end": {want: []want{{"format.past_end", scan.High, `tensor "w" at offset 0, 4096 bytes`},
			{"format.uncovered_data", scan.Medium, "32 bytes"}}},
		"onnx_appended": {want: []want{{"format.uncovered_data", scan.Medium, "54 bytes"},
			{"pickle.dangerous_call", scan.Critical, "system"}}},
		"onnx_tensor_escape": {want: []want{{"onnx.external_data_escape", scan.High, "../../../../etc/passwd"}}},
		"onnx_escape":        {want: []want{{"onnx.external_data_escape", scan.High, "../../../../etc/passwd"}}},
		"tf_ckpt_orphan":     {notScanned: "the index that would describe them (ckpt-1.index) is not beside it"},
		"tf_ckpt_truncated":  {want: []want{{"format.past_end", scan.High, "past the end of this 40-byte shard"}, {"format.uncovered_data", scan.Medium, "13 bytes"}}},
		"tf_ckpt_appended": {want: []want{{"format.uncovered_data", scan.Medium, "54 bytes"},
			{"pickle.dangerous_call", scan.Critical, "system"}}},
		"coreml_custom_layer":      {want: []want{{"coreml.custom_class", scan.Medium, "class EvilLayer"}}},
		"coreml_weights_truncated": {want: []want{{"format.past_end", scan.High, "blob 0 places 2048 bytes at offset 128"}}},
		"keras_metadata_lambda":    {want: []want{{"keras.lambda_code", scan.Critical, "Lambda layer with marshalled bytecode"}}},
		"graphdef_read_file":       {want: []want{{"savedmodel.dangerous_op", scan.High, "op ReadFile"}}},
		"msgpack_pickle":           {want: []want{{"pickle.dangerous_call", scan.Critical, "system"}}},
		"sentencepiece_bad_field":  {want: []want{{"format.invalid", scan.Medium, "field 9 is not part of a ModelProto"}}},
		"weight_map_escape":        {want: []want{{"hf.weight_map_escape", scan.High, "../../shared/evil.bin"}}},
	}
	dirs, err := os.ReadDir(filepath.Join("testdata", "hf_hostile"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) != len(cases) {
		t.Errorf("%d hostile folders, %d cases", len(dirs), len(cases))
	}
	for _, d := range dirs {
		tc, ok := cases[d.Name()]
		if !ok {
			t.Errorf("%s: no expectation", d.Name())
			continue
		}
		t.Run(d.Name(), func(t *testing.T) {
			findings, ns := scanDir(t, filepath.Join("testdata", "hf_hostile", d.Name()))
			if len(findings) != len(tc.want) {
				for _, f := range findings {
					t.Logf("%s %s %s", f.Evidence["rule"], f.Severity, f.Title)
				}
				t.Fatalf("%d findings, want %d", len(findings), len(tc.want))
			}
			for i, w := range tc.want {
				f := findings[i]
				if f.Evidence["rule"] != w.rule || f.Severity != w.sev || !strings.Contains(f.Title, w.titleHas) {
					t.Errorf("finding %d: %s %s %q, want %s %s containing %q", i, f.Evidence["rule"], f.Severity, f.Title, w.rule, w.sev, w.titleHas)
				}
			}
			if tc.notScanned == "" && len(ns) > 0 {
				t.Errorf("not scanned: %+v", ns)
			}
			if tc.notScanned != "" && (len(ns) != 1 || !strings.Contains(ns[0].Reason, tc.notScanned)) {
				t.Errorf("not scanned %+v, want one containing %q", ns, tc.notScanned)
			}
		})
	}
}

// TestTFLiteOperatorCodes reads the operator codes TensorFlow's converter
// wrote: the real model's builtins, the hostile models' custom names.
func TestTFLiteOperatorCodes(t *testing.T) {
	read := func(p string) []tfliteOpcode {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		codes, total, bad, err := readTFLiteOpcodes(context.Background(), fbReader{ra: bytes.NewReader(b), size: int64(len(b))})
		if err != nil || bad != "" || int(total) != len(codes) {
			t.Fatalf("%s: %v %q total %d", p, err, bad, total)
		}
		return codes
	}
	// keras Dense(3, relu) + Dense(2): FULLY_CONNECTED is builtin 9.
	real := read(filepath.Join("testdata", "real", "hf", "tiny-repo", "model.tflite"))
	if !slices.ContainsFunc(real, func(c tfliteOpcode) bool { return c.builtin == 9 }) ||
		slices.ContainsFunc(real, func(c tfliteOpcode) bool { return c.builtin == tfliteBuiltinCustom }) {
		t.Errorf("real model's operator codes %+v", real)
	}
	flex := read(filepath.Join("testdata", "hf_hostile", "tflite_flex_read_file", "model.tflite"))
	if !slices.Contains(flex, tfliteOpcode{builtin: tfliteBuiltinCustom, custom: "FlexReadFile"}) {
		t.Errorf("flex model's operator codes %+v", flex)
	}
}

// TestMsgpackStructure: what the msgpack walker accepts and rejects.
func TestMsgpackStructure(t *testing.T) {
	for name, tc := range map[string]struct {
		data []byte
		want string // "" clean, else a title substring of the one finding
	}{
		"flax map":           {data: []byte("\x81\xa1w\xc7\x03\x01abc"), want: ""},
		"trailing bytes":     {data: []byte("\x81\xa1w\x01\x02"), want: "1 bytes follow"},
		"truncated":          {data: []byte("\x82\xa1w\x01"), want: "more than bytes remain"},
		"huge bin":           {data: []byte("\x81\xa1w\xc6\xff\xff\xff\xff"), want: "declares 4294967295 bytes"},
		"invalid type":       {data: []byte("\x81\xa1w\xc1"), want: "invalid type byte 0xc1"},
		"too deep":           {data: append([]byte("\x81\xa1w"), bytes.Repeat([]byte{0x91}, 100)...), want: "Nesting deeper than 64"},
		"array of everthing": {data: []byte("\x81\xa1w\x97\xc0\xc3\xcc\x01\xcb\x00\x00\x00\x00\x00\x00\x00\x00\xa2hi\xc4\x01z\xd4\x01\x02"), want: ""},
	} {
		t.Run(name, func(t *testing.T) {
			s := newScanner(Options{}.withDefaults())
			in := s.regionAt(bytes.NewReader(tc.data), 0, int64(len(tc.data)), loc{file: "m"})
			if f := s.sniff(in.st.Peek(4096), in.size); f != fmtUnknown || sniffMore(tc.data, in.ra, in.size) != fmtMsgpack {
				t.Fatalf("sniffed as %q / %q", f, sniffMore(tc.data, in.ra, in.size))
			}
			if err := s.scanMsgpack(context.Background(), in); err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.want == "" && len(s.c.findings) != 0:
				t.Fatalf("findings %+v", s.c.findings)
			case tc.want != "" && (len(s.c.findings) != 1 || !strings.Contains(s.c.findings[0].Title, tc.want)):
				t.Fatalf("findings %+v, want one with %q", s.c.findings, tc.want)
			}
		})
	}
}

func FuzzHFFormats(f *testing.F) {
	for _, p := range []string{"tokenizer.model", "flax_model.msgpack", "model.tflite", "openvino/openvino_model.xml"} {
		if b, err := os.ReadFile(filepath.Join("testdata", "real", "hf", "tiny-repo", p)); err == nil {
			f.Add(b)
		}
	}
	for _, p := range []string{"hf_hostile/tflite_flex_read_file/model.tflite", "hf_hostile/graphdef_read_file/frozen_inference_graph.pb",
		"hf_hostile/coreml_custom_layer/model.mlmodel", "hf_hostile/keras_metadata_lambda/keras_metadata.pb",
		"hf_hostile/onnx_tensor_escape/input_0.pb", "real/hf/tiny-repo/onnx/test_data_set_0/input_0.pb",
		"executorch/xnnpack.pte", "executorch/custom_op.pte", "real/hf/tiny-repo/coreml/fill-mask/float32_model.mlpackage/Data/com.apple.CoreML/weights/weight.bin"} {
		if b, err := os.ReadFile(filepath.Join("testdata", filepath.FromSlash(p))); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("\x81\xa1w\x97\xc0\xc3\xcc\x01\xcb\x00\x00\x00\x00\x00\x00\x00\x00\xa2hi\xc4\x01z\xd4\x01\x02"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, parse := range []func(s *scanner, in region) error{
			func(s *scanner, in region) error { return s.scanSentencePiece(context.Background(), in) },
			func(s *scanner, in region) error { return s.scanMsgpack(context.Background(), in) },
			func(s *scanner, in region) error { return s.scanTFLite(context.Background(), in) },
			func(s *scanner, in region) error { return s.scanOpenVINO(context.Background(), in) },
			func(s *scanner, in region) error { return s.scanGraphDef(context.Background(), in) },
			func(s *scanner, in region) error { return s.scanCoreML(context.Background(), in) },
			func(s *scanner, in region) error { return s.scanMILBlob(context.Background(), in) },
			func(s *scanner, in region) error { return s.scanKerasMetadata(context.Background(), in) },
			func(s *scanner, in region) error { return s.scanONNXTensor(context.Background(), in) },
			func(s *scanner, in region) error { return s.scanExecuTorch(context.Background(), in) },
		} {
			runParser(t, data, parse)
		}
		looksSentencePiece(data)
		looksMsgpackMap(data)
		looksOpenVINO(data)
		looksGraphDef(data)
		looksCoreML(data)
		looksMILBlob(data)
		looksKerasMetadata(data)
		looksONNXTensor(data)
		looksExecuTorch(data)
	})
}

// TestMediaPolyglot: a figure recognised by its signature is still searched
// for an appended zip, and what the zip holds is scanned.
func TestMediaPolyglot(t *testing.T) {
	png, err := os.ReadFile(filepath.Join("testdata", "real", "hf", "tiny-repo", "assets", "figure.png"))
	if err != nil {
		t.Fatal(err)
	}
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "archive/data.pkl", Method: zip.Store})
	_, _ = w.Write([]byte("cos\nsystem\n(S'id'\ntR."))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	findings, _ := scanBytes(t, "figure.png", append(append([]byte{}, png...), zb.Bytes()...))
	if !slices.ContainsFunc(findings, func(f scan.Finding) bool { return f.Evidence["rule"] == "pickle.dangerous_call" }) {
		t.Fatalf("findings %+v", findings)
	}
	if f, _ := scanBytes(t, "figure.png", png); len(f) != 0 {
		t.Fatalf("plain figure: %+v", f)
	}
}

// TestLegacyGGML: llama.cpp's pre-GGUF magics with a plausible version are
// recognised; the same bytes with another version are not.
func TestLegacyGGML(t *testing.T) {
	for head, want := range map[string]bool{
		"lmgg\x00\x00\x00\x00": true, "tjgg\x03\x00\x00\x00": true, "fmgg\x01\x00\x00\x00": true,
		"tjgg\x09\x00\x00\x00": false, "tjgg": false,
	} {
		if got := looksGGML([]byte(head)); got != want {
			t.Errorf("%q: %v, want %v", head, got, want)
		}
	}
}

// TestArchivedCheckpoints: a checkpoint inside a .tar.gz, a .tar or a zip
// (deflated or stored) is checked against the index beside it in the archive,
// as on disk.
func TestArchivedCheckpoints(t *testing.T) {
	files := func(dir string) map[string][]byte {
		m := map[string][]byte{}
		entries, err := os.ReadDir(filepath.Join("testdata", dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join("testdata", dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			m["model/variables/"+e.Name()] = b
		}
		return m
	}
	tarGz := func(m map[string][]byte, gz bool) []byte {
		var buf bytes.Buffer
		var w io.Writer = &buf
		var zw *gzip.Writer
		if gz {
			zw = gzip.NewWriter(&buf)
			w = zw
		}
		tw := tar.NewWriter(w)
		for _, name := range slices.Sorted(maps.Keys(m)) {
			if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(m[name])), Typeflag: tar.TypeReg}); err != nil {
				t.Fatal(err)
			}
			_, _ = tw.Write(m[name])
		}
		_ = tw.Close()
		if zw != nil {
			_ = zw.Close()
		}
		return buf.Bytes()
	}
	zipOf := func(m map[string][]byte, method uint16) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, name := range slices.Sorted(maps.Keys(m)) {
			w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
			if err != nil {
				t.Fatal(err)
			}
			_, _ = w.Write(m[name])
		}
		_ = zw.Close()
		return buf.Bytes()
	}
	benign := map[string][]byte{}
	for _, n := range []string{"variables.index", "variables.data-00000-of-00001"} {
		b, err := os.ReadFile(filepath.Join("testdata", "real", "tensorflow", "module_savedmodel", "variables", n))
		if err != nil {
			t.Fatal(err)
		}
		benign["model/variables/"+n] = b
	}
	appended, truncated := files("hf_hostile/tf_ckpt_appended"), files("hf_hostile/tf_ckpt_truncated")
	for name, tc := range map[string]struct {
		data  []byte
		rules []string
	}{
		"benign.tar.gz":     {tarGz(benign, true), nil},
		"benign.tar":        {tarGz(benign, false), nil},
		"benign.zip":        {zipOf(benign, zip.Deflate), nil},
		"benign-stored.zip": {zipOf(benign, zip.Store), nil},
		"appended.tar.gz":   {tarGz(appended, true), []string{"format.uncovered_data", "pickle.dangerous_call"}},
		"appended.zip":      {zipOf(appended, zip.Store), []string{"format.uncovered_data", "pickle.dangerous_call"}},
		"truncated.zip":     {zipOf(truncated, zip.Deflate), []string{"format.past_end", "format.uncovered_data"}},
	} {
		t.Run(name, func(t *testing.T) {
			findings, ns := scanBytes(t, name, tc.data)
			var got []string
			for _, f := range findings {
				got = append(got, f.Evidence["rule"].(string))
			}
			if !slices.Equal(got, tc.rules) || len(ns) != 0 {
				t.Fatalf("rules %v, want %v; not scanned %+v", got, tc.rules, ns)
			}
		})
	}
}

// onnxWithExternal is a minimal ONNX model whose one initializer lives in
// location at offset, length bytes.
func onnxWithExternal(location string, offset, length int) []byte {
	entry := func(k, v string) []byte {
		b := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte(k))
		return protowire.AppendBytes(protowire.AppendTag(b, 2, protowire.BytesType), []byte(v))
	}
	var t []byte
	t = protowire.AppendBytes(protowire.AppendTag(t, 8, protowire.BytesType), []byte("w"))
	for _, kv := range [][2]string{{"location", location}, {"offset", strconv.Itoa(offset)}, {"length", strconv.Itoa(length)}} {
		t = protowire.AppendBytes(protowire.AppendTag(t, 13, protowire.BytesType), entry(kv[0], kv[1]))
	}
	t = protowire.AppendVarint(protowire.AppendTag(t, 14, protowire.VarintType), 1)
	g := protowire.AppendBytes(protowire.AppendTag(nil, 5, protowire.BytesType), t)
	m := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 8)
	m = protowire.AppendBytes(protowire.AppendTag(m, 2, protowire.BytesType), []byte("test"))
	return protowire.AppendBytes(protowire.AppendTag(m, 7, protowire.BytesType), g)
}

// TestONNXSharedExternalData: two models that share one data file cover it
// together; either alone leaves the other's bytes uncovered.
func TestONNXSharedExternalData(t *testing.T) {
	data := bytes.Repeat([]byte{1, 2, 3, 4}, 8) // 32 bytes, none zero
	for name, tc := range map[string]struct {
		models map[string][]byte
		want   []string
	}{
		"both":  {map[string][]byte{"decoder.onnx": onnxWithExternal("shared.data", 0, 16), "decoder_with_past.onnx": onnxWithExternal("shared.data", 16, 16)}, nil},
		"one":   {map[string][]byte{"decoder.onnx": onnxWithExternal("shared.data", 0, 16)}, []string{"format.uncovered_data"}},
		"other": {map[string][]byte{"other.onnx": onnxWithExternal("elsewhere.data", 0, 16)}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for n, b := range tc.models {
				if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, "shared.data"), data, 0o644); err != nil {
				t.Fatal(err)
			}
			findings, ns := scanDir(t, dir)
			var got []string
			for _, f := range findings {
				got = append(got, f.Evidence["rule"].(string))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("rules %v, want %v", got, tc.want)
			}
			if name == "other" {
				if len(ns) != 1 || !strings.Contains(ns[0].Reason, "unrecognised format") {
					t.Fatalf("not scanned %+v", ns)
				}
			} else if len(ns) != 0 {
				t.Fatalf("not scanned %+v", ns)
			}
		})
	}
}

// TestCorruptMemberKeepsFindings: a deflated member whose data stops
// decompressing part-way ends that member only; what was found in the archive
// is still reported (FuzzZip's input c52ad93b26c47ad0: the read error used to
// discard every finding of the file).
func TestCorruptMemberKeepsFindings(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzZip", "c52ad93b26c47ad0"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	lit := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(lines[1]), "[]byte("), ")")
	data, err := strconv.Unquote(lit)
	if err != nil {
		t.Fatal(err)
	}
	findings, ns := scanBytes(t, "corrupt.zip", []byte(data))
	if !slices.ContainsFunc(findings, func(f scan.Finding) bool { return f.Evidence["rule"] == "container.past_end" }) {
		t.Fatalf("findings %+v", findings)
	}
	if !slices.ContainsFunc(ns, func(n scan.NotScanned) bool { return strings.Contains(n.Reason, "compressed data cannot be read") }) {
		t.Fatalf("not scanned %+v", ns)
	}
}
