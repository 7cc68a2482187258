package artifact

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"mirror/internal/scan"
)

// Evasions through protocol 0: protocol 0 pickles taken for text
// (long first lines, "+<big>" ints), later pickles without PROTO hiding
// computed imports, and long lines stopping the parser before a payload.

// p0Payload is os.system('true') in protocol 0, as pickle.dumps(protocol=0)
// writes a REDUCE.
const p0Payload = "cos\nsystem\n(S'true'\ntR."

// longStringPickle0 opens with a STRING of n characters, POPs it, then the payload.
func longStringPickle0(n int) []byte {
	return []byte("S'" + strings.Repeat("A", n) + "'\n0" + p0Payload)
}

// shortBinstring writes SHORT_BINSTRING (opcode U), what Python 2 pickles strs as.
func (p *pk) shortBinstring(s string) *pk {
	return p.op(opSHORT_BINSTRING, byte(len(s))).raw(s)
}

// binstring writes BINSTRING (opcode T).
func (p *pk) binstring(s string) *pk {
	p.WriteByte(opBINSTRING)
	_ = binary.Write(p, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
	return p
}

// computedSystem builds os.system from builtins.str(b'os', 'ascii') and
// builtins.str(b'system', 'ascii'), then calls it: no name is a constant.
func computedSystem(p *pk) *pk {
	strOf := func(b string) {
		p.global("builtins", "str").op(opMARK).op(opSHORT_BINBYTES, byte(len(b))).raw(b).str("ascii").op(opTUPLE, opREDUCE)
	}
	strOf("os")
	strOf("system")
	return p.op(opSTACK_GLOBAL).str("true").op(opTUPLE1, opREDUCE)
}

// legacyTorchLayout is the pre-1.6 torch layout with the given model and
// storage-keys pickles after the magic-number, protocol and sys_info pickles.
func legacyTorchLayout(model, keys []byte) []byte {
	var b bytes.Buffer
	b.Write(newPK(2).op(opLONG1, 10).raw(legacyTorchMagic).stop())
	b.Write(newPK(2).op(opBININT2, 0xe9, 0x03).stop())
	b.Write(newPK(2).op('}').op(opMARK).binunicode("protocol_version").op(opBININT2, 0xe9, 0x03).
		binunicode("little_endian").op(opNEWTRUE).op(opSETITEMS).stop())
	b.Write(model)
	b.Write(keys)
	_ = binary.Write(&b, binary.LittleEndian, int64(4))
	b.Write(make([]byte, 16))
	return b.Bytes()
}

func scanSample(t *testing.T, name string, data []byte) ([]scan.Finding, []scan.NotScanned) {
	t.Helper()
	findings, notScanned, err := ScanReaderAt(context.Background(), bytes.NewReader(data), int64(len(data)), name, Options{})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return findings, notScanned
}

func describeFindings(findings []scan.Finding, notScanned []scan.NotScanned) string {
	var b strings.Builder
	for _, f := range findings {
		fmt.Fprintf(&b, "\n  %s %s %q %v", f.Severity, f.Evidence["rule"], f.Title, f.Evidence)
	}
	for _, n := range notScanned {
		fmt.Fprintf(&b, "\n  not scanned: %s: %s", n.Path, n.Reason)
	}
	return b.String()
}

func TestProtocol0EvasionsMalicious(t *testing.T) {
	zipLongLine := newPK(2).raw("I"+strings.Repeat(" ", 1100)+"1\n").op(opPOP).
		shortBinstring("posix").shortBinstring("system").op(opSTACK_GLOBAL).str("true").op(opTUPLE1, opREDUCE).stop()
	cases := []struct {
		name     string
		data     []byte
		rule     string
		evidence string
		viaText  bool // found by the text file's safety net, not by parsing
	}{
		{"p0_long_string.pkl", longStringPickle0(5000), "pickle.dangerous_call", "os.system", false},
		// Longer than the stream's 64 KiB window: read with bounded memory.
		{"p0_huge_string.pkl", longStringPickle0(200 << 10), "pickle.dangerous_call", "os.system", false},
		{"p0_plus_bigint.pt", []byte("I+99999999999999999999999\n0" + p0Payload), "pickle.dangerous_call", "os.system", false},
		{"p0_long_int_line.bin", []byte("I" + strings.Repeat(" ", 1100) + "1\n0" + p0Payload), "pickle.dangerous_call", "os.system", false},
		{"p0_huge_int_line.bin", []byte("I" + strings.Repeat("9", 100<<10) + "\n0" + p0Payload), "pickle.dangerous_call", "os.system", false},
		{"p0_gzip.joblib", gzipBytes(longStringPickle0(5000)), "pickle.dangerous_call", "os.system", false},
		{"p0_zlib.joblib", zlibBytes(longStringPickle0(5000)), "pickle.dangerous_call", "os.system", false},
		// ... and a text file that parses cleanly as a pickle is one: names
		// the text search leaves alone (pty.spawn) are found by parsing.
		{"p0_long_unicode_pty.pkl", []byte("V" + strings.Repeat("A", 5000) + "\n0cpty\nspawn\n(S'true'\ntR."),
			"pickle.dangerous_call", "pty.spawn", false},
		// Protocol 1 has no PROTO either: a first BINUNICODE or BINBYTES
		// longer than the sniffed bytes, or a long run of opcodes before one.
		{"p1_long_binunicode.pkl", append(newPK(1).binunicode(strings.Repeat("A", 5000)).op(opPOP).Bytes(), p0Payload...),
			"pickle.dangerous_call", "os.system", false},
		{"p1_long_binbytes.pkl", append(newPK(1).op(opBINBYTES, 0x88, 0x13, 0, 0).raw(strings.Repeat("\x00", 5000)).op(opPOP).Bytes(), p0Payload...),
			"pickle.dangerous_call", "os.system", false},
		{"p1_cut_short_binunicode.pkl", append(newPK(1).binunicode(strings.Repeat("A", 4050)).op(opPOP).
			op(opSHORT_BINUNICODE, 200).raw(strings.Repeat("B", 200)).op(opPOP).Bytes(), p0Payload...),
			"pickle.dangerous_call", "os.system", false},
		// A long UNICODE first line is not taken for a pickle by the sniffer
		// (text often starts so), but the text is still searched.
		{"p0_long_unicode.pkl", []byte("V" + strings.Repeat("A", 5000) + "\n0" + p0Payload), "pickle.dangerous_import", "os.system", true},
		{"legacy_noproto_computed.pt", legacyTorchLayout(computedSystem(newPK(0)).stop(), newPK(2).op(']').stop()),
			"pickle.computed_import", "result of calling builtins.str", false},
		{"legacy_noproto_computed_keys.pt", legacyTorchLayout(newPK(2).op('}').stop(), computedSystem(newPK(0)).stop()),
			"pickle.computed_import", "result of calling builtins.str", false},
		// Protocol 4 resolves dotted names (os.path.os is os): a name line
		// too long to keep is an unknown import.
		{"p4_long_global_name.pkl", newPK(4).global("os", strings.Repeat("path.os.", 200)+"system").str("true").
			op(opTUPLE1, opREDUCE).stop(), "pickle.computed_import", "longer than 1024", false},
		{"p0_long_inst_module.pkl", []byte("(S'true'\ni" + strings.Repeat("os.path.", 200) + "os\nsystem\n."),
			"pickle.computed_import", "longer than 1024", false},
		// PUT/GET keys are read with int(s, 10): blanks, + and _ (and any
		// number of leading zeros) must not stop the parser before a payload.
		{"put_plus_key.pkl", computedSystem(newPK(2).op(opNONE).raw("p +0_0\n0")).stop(),
			"pickle.computed_import", "result of calling builtins.str", false},
		{"put_long_key.pkl", computedSystem(newPK(2).op(opNONE).raw("p" + strings.Repeat("0", 100) + "1\n0")).stop(),
			"pickle.computed_import", "result of calling builtins.str", false},
		// Not the legacy layout: a later pickle without PROTO that parses cleanly.
		{"second_noproto_computed.pkl", append(newPK(2).op('}').stop(), computedSystem(newPK(0)).stop()...),
			"pickle.computed_import", "result of calling builtins.str", false},
		{"torch_zip_long_line.pt", torchZip(t, zipLongLine, false), "pickle.dangerous_call", "posix.system", false},
		// The parser stops at a malformed memo key; the rest is only searched,
		// and names in SHORT_BINSTRING / BINSTRING operands are found.
		{"salvage_binstring_u.pkl", newPK(2).raw("px\n").shortBinstring("posix").shortBinstring("system").
			op(opSTACK_GLOBAL).str("true").op(opTUPLE1, opREDUCE).stop(), "pickle.dangerous_import", "posix.system", false},
		{"salvage_binstring_t.pkl", newPK(2).raw("px\n").binstring("os").op(opMEMOIZE).binstring("system").
			op(opSTACK_GLOBAL).str("true").op(opTUPLE1, opREDUCE).stop(), "pickle.dangerous_import", "os.system", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			findings, notScanned := scanSample(t, c.name, c.data)
			// (The salvage cases stop parsing on purpose: they are partly scanned.)
			if len(notScanned) > 0 && !strings.HasPrefix(c.name, "salvage_") {
				t.Errorf("reported not scanned:%s", describeFindings(findings, notScanned))
			}
			found := false
			for _, f := range findings {
				if f.Evidence["rule"] == c.rule && f.Severity.Rank() >= scan.High.Rank() && evidenceHas(f, c.evidence) {
					found = true
					if text := evidenceHas(f, "looks like text"); text != c.viaText {
						t.Errorf("found through the text search: %v, want %v", text, c.viaText)
					}
				}
			}
			if !found {
				t.Errorf("want %s at high or above naming %q; got:%s", c.rule, c.evidence, describeFindings(findings, notScanned))
			}
		})
	}
}

func TestProtocol0LookalikesBenign(t *testing.T) {
	dictP0 := "(dp0\nS'a'\np1\nF1.0\nsS'b'\np2\nF2.0\ns."
	legacyKeys := newPK(0).raw("(lp0\nS'0'\np1\na.").stop()
	zipLongLine := newPK(2).raw("I"+strings.Repeat(" ", 1100)+"1\n").op(opPOP).
		op('}').str("w").op(opNONE, opSETITEM).stop()
	cases := []struct {
		name string
		data []byte
	}{
		{"p0_long_string.pkl", []byte("S'" + strings.Repeat("A", 5000) + "'\n0" + dictP0)},
		{"p0_huge_string.pkl", []byte("S'" + strings.Repeat("A", 200<<10) + "'\n0" + dictP0)},
		{"p0_plus_bigint.pkl", []byte("I+99999999999999999999999\n0" + dictP0)},
		{"p0_long_int_line.pkl", []byte("I" + strings.Repeat(" ", 1100) + "1\n0" + dictP0)},
		{"p0_gzip.joblib", gzipBytes([]byte("S'" + strings.Repeat("A", 5000) + "'\n0" + dictP0))},
		{"p1_long_binunicode.pkl", append(newPK(1).binunicode(strings.Repeat("A", 5000)).op(opPOP).Bytes(), dictP0...)},
		{"legacy_noproto_keys.pt", legacyTorchLayout(newPK(2).op('}').stop(), legacyKeys)},
		{"torch_zip_long_line.pt", torchZip(t, zipLongLine, false)},
		{"memo_keys.pkl", newPK(2).op('}').raw("p +1\n").str("a").raw("g 1\n").op(opSETITEM).
			op(opNONE).raw("p" + strings.Repeat("0", 100) + "2\n0").stop()},
		// Text that starts like a pickle opcode and mentions module-like words.
		{"notes.txt", []byte("a cosine table\nacos\nsin\ncos\ntan\nimport os\nos.system is not called here\n")},
		{"vocab.txt", []byte("the\nof\nand\nios\nsymbol\ncos\nexecute\n")},
		{"long_line.txt", []byte("S" + strings.Repeat("ome very long line ", 400) + "\nend\n")},
		{"very_long_line.txt", []byte("Very " + strings.Repeat("long line ", 1000) + "\nacos\nsin\n(done)\n.\n")},
		{"numbers.txt", []byte("I counted " + strings.Repeat("1", 5000) + "\n")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			findings, notScanned := scanSample(t, c.name, c.data)
			for _, f := range findings {
				if f.Severity.Rank() >= scan.Medium.Rank() {
					t.Errorf("benign file flagged %s:%s", f.Severity, describeFindings(findings, notScanned))
					break
				}
			}
			if len(notScanned) > 0 {
				t.Errorf("benign file reported not scanned:%s", describeFindings(findings, notScanned))
			}
		})
	}
}

// A sniffed head that ends inside a long STRING or INT line is a protocol 0
// pickle; one ending inside ordinary text is not.
func TestLooksPickle0LongLine(t *testing.T) {
	opts := Options{}.withDefaults()
	for _, c := range []struct {
		head string
		want bool
	}{
		{"S'" + strings.Repeat("A", 4094), true},
		{"S\"" + strings.Repeat("A", 4094), true},
		{"I" + strings.Repeat(" ", 2000) + strings.Repeat("9", 2095), true},
		{"I+" + strings.Repeat("9", 4094), true},
		{"Some text " + strings.Repeat("A", 4086), false},
		{"I am " + strings.Repeat("9", 4091), false},
		{"V" + strings.Repeat("A", 4095), false},
		{"V" + strings.Repeat("A", 100), false},
		{"X\x88\x13\x00\x00" + strings.Repeat("A", 4091), true},     // BINUNICODE of 5000 bytes
		{"X\x88\x13\x00\x00" + strings.Repeat("\xff", 4091), false}, // not UTF-8
		{"B\x00\x00\x00\x7f" + strings.Repeat("\x00", 4091), false}, // more than the file holds
		{"]q\x00(X\x88\x13\x00\x00" + strings.Repeat("A", 4087), true},
	} {
		if got := looksPickle0([]byte(c.head), 1<<20, opts); got != c.want {
			t.Errorf("looksPickle0(%q...) = %v, want %v", c.head[:min(len(c.head), 12)], got, c.want)
		}
	}
}

func TestReadLongLine(t *testing.T) {
	line := strings.Repeat("x", 300<<10)
	src := line + "\nnext\n"
	st := newStream(strings.NewReader(src))
	kept, n, err := st.ReadLongLine(nil, 16)
	if err != nil || string(kept) != "xxxxxxxxxxxxxxxx" || n != int64(len(line)) {
		t.Fatalf("ReadLongLine = %q, %d, %v", kept, n, err)
	}
	if next, err := st.ReadLine(64); err != nil || string(next) != "next" {
		t.Fatalf("after a long line: %q, %v", next, err)
	}
	st = newStream(strings.NewReader(src))
	st.setLimit(100)
	if _, _, err := st.ReadLongLine(nil, 16); err != errTruncated {
		t.Fatalf("under a limit: %v, want errTruncated", err)
	}
}
