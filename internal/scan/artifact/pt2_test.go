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
	evilPickle := []byte("\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.")
	for _, c := range []struct {
		name   string
		member string // the member whose bytes become evilPickle
		config func(b []byte) []byte
	}{
		{"a weight the config loads with pickle", "data/weights/weight_0", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"path_name": "weight_0", "is_param": true, "use_pickle": false`), []byte(`"path_name": "weight_0", "is_param": true, "use_pickle": true`), 1)
		}},
		{"a pickle the config calls raw (the config is the attacker's)", "data/weights/weight_0", nil},
		{"a constant torch unpickles by its name (opaque_obj_N), called raw", "data/constants/opaque_obj_0", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"path_name": "tensor_0"`), []byte(`"path_name": "opaque_obj_0"`), 1)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			evil := rezip(t, real, func(name string, b []byte) []byte {
				switch {
				case strings.HasSuffix(name, "data/constants/tensor_0") && strings.HasSuffix(c.member, "opaque_obj_0"):
					return nil
				case strings.HasSuffix(name, c.member):
					return evilPickle
				case c.config != nil && strings.HasSuffix(name, "_config.json"):
					return c.config(b)
				}
				return nil
			})
			if strings.HasSuffix(c.member, "opaque_obj_0") {
				evil = renameMember(t, evil, "exported/data/constants/tensor_0", "exported/data/constants/opaque_obj_0", evilPickle)
			}
			fs, _ := scanBytes(t, "evil.pt2", evil)
			if len(atOrAbove(fs, scan.Critical)) == 0 {
				t.Fatalf("a member that calls os.system when unpickled: %+v", fs)
			}
		})
	}
}

// renameMember rewrites zip bytes with member from renamed to, holding data.
func renameMember(t *testing.T, zb []byte, from, to string, data []byte) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "in.zip")
	if err := os.WriteFile(p, zb, 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zr, err := zip.OpenReader(p)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		r, _ := f.Open()
		b, _ := io.ReadAll(r)
		r.Close()
		name := f.Name
		if name == from {
			name, b = to, data
		}
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		w.Write(b)
	}
	zw.Close()
	return out.Bytes()
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
