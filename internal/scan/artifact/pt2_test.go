package artifact

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mirror/internal/scan"
)

// rezip copies the zip at p, passing each member's name and content through
// edit (which returns the new content, or nil to keep it).
func rezip(t *testing.T, p string, edit func(name string, b []byte) []byte) []byte {
	t.Helper()
	zr, err := zip.OpenReader(p)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if nb := edit(f.Name, b); nb != nil {
			b = nb
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestExportArchive: torch.export.save's archive (testdata/real/torch/exported.pt2)
// keeps weights and constants as raw tensor bytes, named by configs beside
// them; those are storages, not pickles (before, a weight whose first float
// byte was 0x80 was a medium corrupt pickle and the others were not scanned). A
// member the config loads with pickle is still scanned as one.
func TestExportArchive(t *testing.T) {
	real := filepath.Join("testdata", "real", "torch", "exported.pt2")
	fs, ns := scanFileT(t, real)
	if len(fs) != 0 || len(ns) != 0 {
		t.Fatalf("exported.pt2: findings %+v, not scanned %+v", fs, ns)
	}
	evil := rezip(t, real, func(name string, b []byte) []byte {
		switch {
		case strings.HasSuffix(name, "data/weights/weight_0"):
			return []byte("\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.")
		case strings.HasSuffix(name, "model_weights_config.json"):
			return bytes.Replace(b, []byte(`"path_name": "weight_0", "is_param": true, "use_pickle": false`), []byte(`"path_name": "weight_0", "is_param": true, "use_pickle": true`), 1)
		}
		return nil
	})
	if !bytes.Contains(evil, []byte(`"weight_0", "is_param": true, "use_pickle": true`)) {
		t.Fatal("the config was not rewritten")
	}
	fs, _ = scanBytes(t, "evil.pt2", evil)
	if len(atOrAbove(fs, scan.Critical)) == 0 {
		t.Fatalf("a weight loaded with pickle that calls os.system: %+v", fs)
	}
}

// TestNativeCode: compiled code in a model (an AOTInductor package's shared
// library, or the file itself) is medium container.native_code, not "not
// scanned". The test binary is the ELF.
func TestNativeCode(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Skipf("no executable path: %v", err)
	}
	fs, ns := scanFileT(t, exe)
	if len(fs) != 1 || scan.RuleID(fs[0]) != "container.native_code" || len(ns) != 0 {
		t.Fatalf("the test binary: findings %+v, not scanned %+v", fs, ns)
	}
	head := make([]byte, 4096)
	f, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadFull(f, head)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.Create("aoti/data/aotinductor/model/c5cp.wrapper.so")
	w.Write(head)
	w, _ = zw.Create("aoti/archive_format")
	w.Write([]byte("pt2"))
	zw.Close()
	fs, _ = scanBytes(t, "aoti.pt2", zb.Bytes())
	if len(fs) != 1 || scan.RuleID(fs[0]) != "container.native_code" || fs[0].Severity != scan.Medium {
		t.Fatalf("an AOTInductor package: %+v", fs)
	}
	for _, h := range []string{"\x7fELF\x02\x01\x01", "\xcf\xfa\xed\xfe\x07\x00\x00\x01", "\xca\xfe\xba\xbe\x00\x00\x00\x34"} {
		if k := nativeKind([]byte(h)); (k != "") != (h[0] != 0xca) {
			t.Errorf("nativeKind(%q) = %q", h, k) // a Java class file (CAFEBABE) is not taken for Mach-O
		}
	}
}

// scanFileT scans the file at p.
func scanFileT(t *testing.T, p string) ([]scan.Finding, []scan.NotScanned) {
	t.Helper()
	fs, ns, err := ScanFile(context.Background(), p, filepath.Base(p), Options{})
	if err != nil {
		t.Fatalf("ScanFile(%s): %v", p, err)
	}
	return fs, ns
}
