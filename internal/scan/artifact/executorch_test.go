package artifact

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"mirror/internal/scan"
)

// TestExecuTorch: ExecuTorch programs written by the real exporter
// (scripts/peers/make_executorch_testdata.py, executorch 1.5.1) are recognised
// by content and read through: portable and XNNPACK programs are clean; a
// custom operator, a backend ExecuTorch does not ship, an AOTInductor backend
// (a shared library in the payload) and a data segment past the end are each
// one medium finding. Before, every .pte was "not scanned" (exit 2).
func TestExecuTorch(t *testing.T) {
	for _, c := range []struct {
		file, rule string
	}{
		{"linear.pte", ""},
		{"xnnpack.pte", ""},
		{"custom_op.pte", "executorch.custom_op"},
		{"custom_backend.pte", "executorch.custom_delegate"},
		{"cuda_backend.pte", "executorch.native_delegate"},
		{"truncated.pte", "format.invalid"},
	} {
		t.Run(c.file, func(t *testing.T) {
			p := filepath.Join("testdata", "executorch", c.file)
			fs, ns, err := ScanFile(context.Background(), p, c.file, Options{})
			if err != nil || len(ns) != 0 {
				t.Fatalf("err %v, not scanned %+v", err, ns)
			}
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, _ := f.Stat()
			if format, err := DetectFileFormat(f, st.Size(), p); err != nil || format != "executorch" {
				t.Errorf("format %q, %v", format, err)
			}
			switch {
			case c.rule == "" && len(fs) != 0:
				t.Fatalf("findings %+v", fs)
			case c.rule != "" && (len(fs) != 1 || scan.RuleID(fs[0]) != c.rule || fs[0].Severity != scan.Medium):
				t.Fatalf("findings %+v, want one medium %s", fs, c.rule)
			}
		})
	}
}
