package artifact

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
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

// amplifiedPTE is a program of plans plans whose operators vectors each hold
// ops entries, every entry the same Operator table (a 256-byte name): a small
// file that names the same operator over a million times.
func amplifiedPTE(plans, ops int) []byte {
	b := make([]byte, 0, 64+4*plans+4*ops+512)
	u32 := func(v uint32) { b = binary.LittleEndian.AppendUint32(b, v) }
	u16 := func(v uint16) { b = binary.LittleEndian.AppendUint16(b, v) }
	u32(16)                  // root table at 16
	b = append(b, "ET12"...) // identifier
	u16(8)                   // root vtable at 8: 2 fields
	u16(8)
	u16(0) // version: absent
	u16(4) // execution_plan at table+4
	// root table at 16
	u32(16 - 8)
	u32(24 - 20) // plans vector at 24
	u32(uint32(plans))
	planVT := 24 + 4 + 4*plans
	planT := planVT + 20
	for i := range plans {
		u32(uint32(planT - (28 + 4*i)))
	}
	// plan vtable: 7 fields, operators (6) at table+4
	u16(18)
	u16(8)
	for range 6 {
		u16(0)
	}
	u16(4)
	u16(0) // padding to 20 bytes
	// plan table
	u32(uint32(planT - planVT))
	opsVec := planT + 8
	u32(uint32(opsVec - (planT + 4)))
	u32(uint32(ops))
	opVT := opsVec + 4 + 4*ops
	opT := opVT + 8
	for j := range ops {
		u32(uint32(opT - (opsVec + 4 + 4*j)))
	}
	u16(6) // op vtable: name (0) at table+4
	u16(8)
	u16(4)
	u16(0)
	u32(uint32(opT - opVT))
	u32(4) // name string right after
	u32(256)
	b = append(b, bytes.Repeat([]byte("a"), 256)...)
	return append(b, 0, 0, 0, 0)
}

// TestExecuTorchAmplified: a 64 KB program naming one operator a million times
// (64 plans of 16,384 entries, all the same table) reads at most
// maxExecuTorchEntries entries, reports the name once and says what was not
// checked (before: a million names kept, 1.2 GB, 19 s).
func TestExecuTorchAmplified(t *testing.T) {
	b := amplifiedPTE(64, 1<<14)
	fs, ns := scanBytes(t, "amplified.pte", b)
	if len(fs) != 1 || scan.RuleID(fs[0]) != "executorch.custom_op" {
		t.Fatalf("findings %+v", fs)
	}
	if len(ns) != 1 || !strings.Contains(ns[0].Reason, "entries in all were checked") {
		t.Fatalf("not scanned %+v", ns)
	}
	if fs, ns := scanBytes(t, "small.pte", amplifiedPTE(2, 3)); len(fs) != 1 || len(ns) != 0 {
		t.Fatalf("a small program built the same way: findings %+v, not scanned %+v", fs, ns)
	}
}
