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

// rezip rebuilds the zip at p (buildZip, stored members) after edit has seen,
// and may have changed, each member's name and data.
func rezip(t *testing.T, p string, edit func(f *zipFile)) []byte {
	t.Helper()
	zr, err := zip.OpenReader(p)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var files []zipFile
	for _, m := range zr.File {
		r, err := m.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		f := zipFile{name: m.Name, data: b}
		edit(&f)
		files = append(files, f)
	}
	return buildZip(t, files)
}

// TestExportArchive: torch.export.save's archive (testdata/real/torch/exported.pt2)
// keeps weights and constants as raw tensor bytes, named by configs beside
// them: what those bytes give when misread as a format is dropped (before, a
// weight whose first float byte was 0x80 was a medium corrupt pickle and the
// others were not scanned). A pickle is still found wherever it is: in a member
// the config loads with pickle, in one the config calls raw, or in a constant
// torch unpickles by its name.
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
			evil := rezip(t, real, func(f *zipFile) {
				switch {
				case strings.HasSuffix(c.member, "opaque_obj_0") && strings.HasSuffix(f.name, "data/constants/tensor_0"):
					f.name, f.data = strings.TrimSuffix(f.name, "tensor_0")+"opaque_obj_0", evilPickle
				case strings.HasSuffix(f.name, c.member):
					f.data = evilPickle
				case c.config != nil && strings.HasSuffix(f.name, "_config.json"):
					f.data = c.config(f.data)
				}
			})
			fs, _ := scanBytes(t, "evil.pt2", evil)
			if len(atOrAbove(fs, scan.Critical)) == 0 {
				t.Fatalf("a member that calls os.system when unpickled: %+v", fs)
			}
		})
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
	aoti := buildZip(t, []zipFile{{name: "aoti/data/aotinductor/model/c5cp.wrapper.so", data: head, deflate: true},
		{name: "aoti/archive_format", data: []byte("pt2"), deflate: true}})
	fs, _ = scanBytes(t, "aoti.pt2", aoti)
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
