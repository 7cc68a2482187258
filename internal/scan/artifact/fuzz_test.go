package artifact

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mirror/internal/scan"
)

// fuzzOptions keep fuzzed scans small so a hostile input cannot make the fuzzer
// itself run out of memory: the limits under test are the scanner's own.
var fuzzOptions = Options{MaxPickleMemory: 1 << 20, MaxHeaderBytes: 1 << 20, MaxInMemory: 1 << 20, MaxDecompressedBytes: 8 << 20, MaxArchiveDecompressedBytes: 32 << 20}

// seedCorpus adds every corpus file whose name matches one of the filters.
func seedCorpus(f *testing.F, match func(s sample) bool) {
	for _, s := range corpus(f) {
		if match(s) {
			f.Add(s.data)
		}
	}
}

// checkFindings asserts what every scan result must satisfy.
func checkFindings(t *testing.T, findings []scan.Finding, notScanned []scan.NotScanned) {
	t.Helper()
	for _, fd := range findings {
		if fd.Severity.Rank() == 0 || fd.ScanType == "" || fd.Title == "" || fd.Remediation == "" || fd.Evidence["file"] != "fuzz" {
			t.Fatalf("malformed finding %+v", fd)
		}
		if fd.Score < 0 || fd.Score > 10 {
			t.Fatalf("score %v out of range", fd.Score)
		}
	}
	for _, n := range notScanned {
		if n.Reason == "" {
			t.Fatalf("not-scanned entry without a reason: %+v", n)
		}
	}
}

// runParser runs one parser directly on data, as a top-level file region.
func runParser(t *testing.T, data []byte, parse func(s *scanner, in region) error) {
	opts := fuzzOptions.withDefaults()
	s := newScanner(opts)
	in := s.regionAt(bytes.NewReader(data), 0, int64(len(data)), loc{file: "fuzz", fileOff: 0})
	if err := parse(s, in); err != nil {
		t.Fatalf("parser error on in-memory data: %v", err)
	}
	checkFindings(t, s.c.findings, s.c.notScanned)
}

func FuzzScan(f *testing.F) {
	seedCorpus(f, func(sample) bool { return true })
	f.Fuzz(func(t *testing.T, data []byte) {
		findings, notScanned, err := ScanReaderAt(context.Background(), bytes.NewReader(data), int64(len(data)), "fuzz", fuzzOptions)
		if err != nil {
			t.Fatalf("ScanReaderAt: %v", err)
		}
		checkFindings(t, findings, notScanned)
	})
}

func FuzzPickle(f *testing.F) {
	seedCorpus(f, func(s sample) bool { return strings.HasSuffix(s.name, ".pkl") || strings.HasSuffix(s.name, ".joblib") })
	f.Fuzz(func(t *testing.T, data []byte) {
		runParser(t, data, func(s *scanner, in region) error {
			return s.a.scanPicklesAt(context.Background(), in.st, in.l, 0, false)
		})
		// A payload placed in front of any stream runs before the stream is
		// reached, so it must be flagged whatever follows it.
		evil := append([]byte("cos\nsystem\n(S'x'\ntR0"), data...)
		opts := fuzzOptions.withDefaults()
		s := newScanner(opts)
		in := s.regionAt(bytes.NewReader(evil), 0, int64(len(evil)), loc{file: "fuzz", fileOff: 0})
		if err := s.a.scanPicklesAt(context.Background(), in.st, in.l, 0, false); err != nil {
			t.Fatal(err)
		}
		for _, fd := range s.c.findings {
			if fd.Evidence["import"] == "os.system" && fd.Severity == scan.Critical {
				return
			}
		}
		t.Fatalf("prefixed os.system payload not flagged: %+v", s.c.findings)
	})
}

func FuzzZip(f *testing.F) {
	seedCorpus(f, func(s sample) bool { return bytes.HasPrefix(s.data, []byte("PK")) })
	f.Fuzz(func(t *testing.T, data []byte) {
		runParser(t, data, func(s *scanner, in region) error {
			return s.scanZip(context.Background(), in.ra, in.size, in.l)
		})
	})
}

func FuzzNPY(f *testing.F) {
	seedCorpus(f, func(s sample) bool { return bytes.HasPrefix(s.data, []byte("\x93NUMPY")) })
	f.Fuzz(func(t *testing.T, data []byte) {
		runParser(t, data, func(s *scanner, in region) error { return s.scanNPY(context.Background(), in) })
	})
}

func FuzzSafetensors(f *testing.F) {
	seedCorpus(f, func(s sample) bool { return strings.HasSuffix(s.name, ".safetensors") })
	f.Fuzz(func(t *testing.T, data []byte) {
		runParser(t, data, func(s *scanner, in region) error { return s.scanSafetensors(context.Background(), in) })
	})
}

func FuzzGGUF(f *testing.F) {
	seedCorpus(f, func(s sample) bool { return strings.HasSuffix(s.name, ".gguf") })
	f.Fuzz(func(t *testing.T, data []byte) {
		runParser(t, data, func(s *scanner, in region) error { return s.scanGGUF(context.Background(), in) })
	})
}

func FuzzONNX(f *testing.F) {
	seedCorpus(f, func(s sample) bool { return strings.HasSuffix(s.name, ".onnx") })
	f.Fuzz(func(t *testing.T, data []byte) {
		runParser(t, data, func(s *scanner, in region) error { return s.scanONNX(context.Background(), in) })
	})
}

func FuzzKeras(f *testing.F) {
	seedCorpus(f, func(s sample) bool { return strings.HasSuffix(s.name, ".h5") || strings.HasSuffix(s.name, ".json") })
	f.Fuzz(func(t *testing.T, data []byte) {
		runParser(t, data, func(s *scanner, in region) error { return s.scanHDF5(context.Background(), in) })
		runParser(t, data, func(s *scanner, in region) error { return s.scanJSON(context.Background(), in) })
	})
}

func FuzzTemplate(f *testing.F) {
	for _, s := range []string{chatMLTemplate, llama3Template, qwenToolTemplate, "{{ cycler.__init__.__globals__.os.popen('id').read() }}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := newScanner(fuzzOptions.withDefaults())
		s.checkTemplate(loc{file: "fuzz"}, "chat_template", string(data), 0)
		checkFindings(t, s.c.findings, s.c.notScanned)
	})
}

func Fuzz7z(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "7z", "*.7z"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		runParser(t, data, func(s *scanner, in region) error { return s.scan7z(context.Background(), in) })
	})
}

func FuzzSavedModel(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "tensorflow", "*.pb"))
	more, _ := filepath.Glob(filepath.Join("testdata", "real", "tensorflow", "*", "*.pb"))
	for _, p := range append(files, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		runParser(t, data, func(s *scanner, in region) error { return s.scanSavedModel(context.Background(), in) })
		looksSavedModel(data)
		looksTFFingerprint(data, int64(len(data)))
		looksTensorBundleIndex(bytes.NewReader(data), int64(len(data)))
	})
}

// FuzzJoblibZFile: joblib 0.9 zfiles, whose header is parsed by hand.
func FuzzJoblibZFile(f *testing.F) {
	f.Add(joblibZFile(newPK(2).global("posix", "system").callStr("id").stop(), false))
	f.Add(joblibZFile(make([]byte, 64), true))
	f.Add([]byte("ZF0x10               x\x9c"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if n := joblibZHeader(data); n != 0 && (n < 21 || n > 22 || n+2 > len(data)) {
			t.Fatalf("header length %d for %d bytes", n, len(data))
		}
		runParser(t, data, func(s *scanner, in region) error { return s.scanRegion(context.Background(), in) })
	})
}

// FuzzSkops: skops schemas (JSON trees of typed nodes) walked for the types
// they rebuild.
func FuzzSkops(f *testing.F) {
	for _, dir := range []string{"benign", "malicious"} {
		entries, _ := os.ReadDir(filepath.Join("testdata", "skops", dir))
		for _, e := range entries {
			if b, err := os.ReadFile(filepath.Join("testdata", "skops", dir, e.Name())); err == nil && len(b) < 12<<10 {
				f.Add(b)
			}
		}
	}
	f.Add([]byte(`{"__loader__": "MethodNode", "protocol": 2, "__module__": "m", "__class__": "C", "content": {"func": "__init__", "obj": {"__module__": "os", "__class__": "x"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		runParser(t, data, func(s *scanner, in region) error { return s.scanRegion(context.Background(), in) })
	})
}

// FuzzYAMLTags: text searched for PyYAML's Python tags.
func FuzzYAMLTags(f *testing.F) {
	f.Add([]byte("a: !!python/object/apply:posix.system [id]\nb: !!python/name:x\nc: !!python/module:os\n"))
	f.Add([]byte("x: !<tag:yaml.org,2002:python/object/new:.a> []\n"))
	f.Add([]byte("%TAG !p! tag:yaml.org,2002:python/object/apply:\n---\na: !p!o%73.system [id]\nb: !<x%2>\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		runParser(t, data, func(s *scanner, in region) error {
			s.checkYAMLTags(in.l, data)
			return nil
		})
	})
}
