package artifact

import (
	"bytes"
	"context"
	"fmt"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mirror/internal/scan"
)

// evasionCase is one evasion: a malicious file must be flagged at high or
// above, a benign look-alike must stay below medium.
type evasionCase struct {
	name      string
	data      []byte
	malicious bool
}

func scanEvasion(t *testing.T, c evasionCase) {
	t.Helper()
	p := filepath.Join(t.TempDir(), c.name)
	if err := os.WriteFile(p, c.data, 0o644); err != nil {
		t.Fatal(err)
	}
	findings, notScanned, err := ScanFile(context.Background(), p, c.name, Options{})
	if err != nil {
		t.Fatalf("ScanFile: %v", err)
	}
	top := -1
	var got []string
	for _, f := range findings {
		top = max(top, f.Severity.Rank())
		got = append(got, fmt.Sprintf("%s %v %q %v", f.Severity, f.Evidence["rule"], f.Title, f.Evidence))
	}
	switch {
	case c.malicious && top < scan.High.Rank():
		t.Errorf("%s: malicious file not flagged high; got:\n%s\nnot scanned: %+v", c.name, strings.Join(got, "\n"), notScanned)
	case !c.malicious && top >= scan.Medium.Rank():
		t.Errorf("%s: benign file flagged; got:\n%s", c.name, strings.Join(got, "\n"))
	case !c.malicious && len(notScanned) > 0:
		t.Errorf("%s: benign file not fully scanned: %+v", c.name, notScanned)
	}
}

func runEvasionCases(t *testing.T, cases []evasionCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { scanEvasion(t, c) })
	}
}

// TestEvalGadgets: standard-library helpers that eval or exec strings
// from their arguments, and attribute chains hidden under allow-listed prefixes.
func TestEvalGadgets(t *testing.T) {
	call4 := func(mod, name, arg string) []byte { return newPK(4).stackGlobal(mod, name).callStr(arg).stop() }
	var cases []evasionCase
	for _, g := range [][2]string{
		{"typing", "get_type_hints"}, {"typing", "_eval_type"}, {"typing", "ForwardRef._evaluate"},
		{"dataclasses", "_create_fn"}, {"torch._utils", "_import_dotted_name"}, {"annotationlib", "call_evaluate_function"},
		{"collections", "namedtuple"}, {"warnings", "_getcategory"}, {"unittest.mock", "_importer"},
		// attribute chains under safe prefixes lead to the gadget
		{"torch.nn.modules.module", "torch._utils._import_dotted_name"},
		{"torch.optim.sgd", "torch._utils._import_dotted_name"},
		{"torch.nn.modules.module", "typing.get_type_hints"},
	} {
		cases = append(cases, evasionCase{name: "mal_" + g[0] + "." + g[1] + ".pkl", data: call4(g[0], g[1], "os.system"), malicious: true})
	}
	// m53-style: the gadget reached by GLOBAL in protocol 2 too
	cases = append(cases, evasionCase{name: "mal_p2_get_type_hints.pkl", data: newPK(2).global("typing", "get_type_hints").callStr("x").stop(), malicious: true})
	// benign: a class of a safe module, and a tensor rebuild reached through a chain
	cases = append(cases,
		evasionCase{name: "ok_linear.pkl", data: newPK(4).stackGlobal("torch.nn.modules.linear", "Linear").op(')').op(opNEWOBJ).stop()},
		evasionCase{name: "ok_chain_rebuild.pkl", data: newPK(4).stackGlobal("torch.nn.modules.module", "torch._utils._rebuild_tensor_v2").op(opPOP).op(opNONE).stop()},
	)
	runEvasionCases(t, cases)
	// an unexplained chain under a safe prefix is at least reported (unknown), never passed
	if c := classify("torch.nn.modules.module", "foo.bar.baz"); c.verdict != verdictUnknown {
		t.Errorf("unexplained chain under safe prefix: verdict %d", c.verdict)
	}
	if c := classify("torch.nn.modules.linear", "Linear"); c.verdict != verdictSafe {
		t.Errorf("Linear: verdict %d", c.verdict)
	}
}

// TestNPYHeaders: .npy headers that ast.literal_eval accepts in forms the
// old parser did not (n02-n07), and the pickle-after-header safety net.
func TestNPYHeaders(t *testing.T) {
	evil := newPK(2).global("os", "system").callStr("id").stop()
	var cases []evasionCase
	for i, descr := range []string{
		`'|' 'O'`, `'|O', # a comment` + "\n", `('|O')`, `'object'`, `'\x4f'`, `u'|O'`, `b'|O'`, `r'|O'`,
		`"""|O"""`, `'|\117'`, `'|\u004f'`, `'O8'`, `'object_'`, `'|'` + "\\\n" + ` 'O'`, `Rb'|O'`,
	} {
		h := "{'descr': " + descr + ", 'fortran_order': False, 'shape': (1,), }"
		if strings.Contains(descr, "#") {
			h = "{'descr': " + descr + " 'fortran_order': False, 'shape': (1,), }"
		}
		cases = append(cases, evasionCase{name: fmt.Sprintf("mal_npy_%d.npy", i), data: npy(h, evil), malicious: true})
	}
	// a header no parser here understands still has its body scanned
	cases = append(cases, evasionCase{name: "mal_npy_weird.npy", data: npy("{'descr': '|O' if 1 else 'f8', 'fortran_order': False, 'shape': (1,)}", evil), malicious: true})
	cases = append(cases, evasionCase{name: "mal_npy_weird_dtype.npy", data: npy("{'descr': {'x': 1}, 'fortran_order': False, 'shape': (1,)}", evil), malicious: true})
	// in an npz
	cases = append(cases, evasionCase{name: "mal_concat.npz", malicious: true, data: buildZip(t, []zipFile{{name: "a.npy", data: npy("{'descr': '|' 'O', 'fortran_order': False, 'shape': (1,), }", evil)}})})
	// benign: the same spellings for a float array
	body := make([]byte, 16)
	for i, descr := range []string{`'<' 'f8'`, `('<f8')`, `u'<f8'`, `'<f\x38'`, `'<f8', # c` + "\n"} {
		h := "{'descr': " + descr + ", 'fortran_order': False, 'shape': (2,), }"
		if strings.Contains(descr, "#") {
			h = "{'descr': " + descr + " 'fortran_order': False, 'shape': (2,), }"
		}
		cases = append(cases, evasionCase{name: fmt.Sprintf("ok_npy_%d.npy", i), data: npy(h, body)})
	}
	runEvasionCases(t, cases)
	for _, h := range []string{`{'descr': 'a' "b" '''c''', 'shape': (-1, +2, 0x10, (3)), 'fortran_order': False}`} {
		d, shape, err := parseNPYHeader(h)
		if err != nil || d != "abc" || fmt.Sprint(shape) != "[-1 2 16 3]" {
			t.Errorf("parseNPYHeader(%s) = %v %v %v", h, d, shape, err)
		}
	}
}

// TestTorchStorageDecoy: a member named like a tensor storage is skipped only
// when it belongs to a PyTorch archive in the zip (n09).
func TestTorchStorageDecoy(t *testing.T) {
	evil := newPK(2).global("os", "system").callStr("id").stop()
	objNPY := npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", evil)
	runEvasionCases(t, []evasionCase{
		{name: "mal_decoy.npz", malicious: true, data: buildZip(t, []zipFile{
			{name: "decoy/data.pkl", data: torchDataPKL()}, {name: "w/data/0", data: objNPY}})},
		{name: "mal_decoy_npy_member.npz", malicious: true, data: buildZip(t, []zipFile{
			{name: "w/data.pkl", data: torchDataPKL()}, {name: "x.npy", data: npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", make([]byte, 8))},
			{name: "w/data/0", data: objNPY}})},
		{name: "mal_decoy_deflated.npz", malicious: true, data: buildZip(t, []zipFile{
			{name: "decoy/data.pkl", data: torchDataPKL()}, {name: "w/data/0", data: objNPY, deflate: true}})},
		{name: "ok_torch.pt", data: torchZip(t, torchDataPKL(), false)},
		{name: "ok_torch_deflated.pt", data: torchZip(t, torchDataPKL(), true)},
	})
}

// v7tar writes an old (V7) tar: no ustar magic, octal fields, header checksum.
func v7tar(names []string, data [][]byte) []byte {
	var b bytes.Buffer
	for i, name := range names {
		h := make([]byte, 512)
		copy(h, name)
		copy(h[100:], "0000644\x00")
		copy(h[108:], "0000000\x00")
		copy(h[116:], "0000000\x00")
		copy(h[124:], fmt.Sprintf("%011o\x00", len(data[i])))
		copy(h[136:], "00000000000\x00")
		h[156] = '0'
		copy(h[148:], "        ")
		sum := 0
		for _, c := range h {
			sum += int(c)
		}
		copy(h[148:], fmt.Sprintf("%06o\x00 ", sum))
		b.Write(h)
		b.Write(data[i])
		b.Write(make([]byte, (512-len(data[i])%512)%512))
	}
	b.Write(make([]byte, 1024))
	return b.Bytes()
}

// TestLegacyV7Tar: torch's legacy tar checkpoint written as V7 tar (no
// ustar magic), whose first member name may itself look like a tiny pickle (l05, l06).
func TestLegacyV7Tar(t *testing.T) {
	evil := newPK(2).op(opSHORT_BINSTRING, 2).raw("os").op(opSHORT_BINSTRING, 6).raw("system").op(opSTACK_GLOBAL).callStr("id").stop()
	benign := newPK(2).binint1(0).stop()
	names := []string{"sys_info", "pickle", "tensors", "storages"}
	runEvasionCases(t, []evasionCase{
		{name: "mal_v7.pt", malicious: true, data: v7tar(names, [][]byte{benign, benign, benign, evil})},
		{name: "mal_v7_pickle_name.pt", malicious: true, data: v7tar(append([]string{"\x80\x02N."}, names...), [][]byte{benign, benign, benign, benign, evil})},
		{name: "ok_v7.pt", data: v7tar(names, [][]byte{benign, benign, benign, benign})},
	})
	if looksTarV7(append([]byte("\x80\x02N."), make([]byte, 600)...)) {
		t.Error("a pickle without a tar checksum sniffed as tar")
	}
}

// TestXZ: joblib loads xz and LZMA_ALONE compressed pickles (j07, j08).
func TestXZ(t *testing.T) {
	evil := newPK(2).global("os", "system").callStr("id").stop()
	benign := newPK(2).op('}').stop()
	xzOf := func(b []byte) []byte {
		var buf bytes.Buffer
		w, err := xz.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(b)
		_ = w.Close()
		return buf.Bytes()
	}
	lzmaOf := func(b []byte) []byte {
		var buf bytes.Buffer
		w, err := lzma.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(b)
		_ = w.Close()
		return buf.Bytes()
	}
	runEvasionCases(t, []evasionCase{
		{name: "mal.joblib.xz", malicious: true, data: xzOf(evil)},
		{name: "mal.joblib.lzma", malicious: true, data: lzmaOf(evil)},
		{name: "ok.joblib.xz", data: xzOf(benign)},
		{name: "ok.joblib.lzma", data: lzmaOf(benign)},
	})
	// a dictionary larger than the cap is reported, never allocated
	x := xzOf(evil)
	if d, ok := xzDictSize(x); !ok || d <= 0 || d > maxLZMADict {
		t.Fatalf("xzDictSize = %d %v", d, ok)
	}
	l := lzmaOf(evil)
	l[1], l[2], l[3], l[4] = 0, 0, 0, 0x80 // 2 GiB dictionary
	p := filepath.Join(t.TempDir(), "big.lzma")
	_ = os.WriteFile(p, l, 0o644)
	findings, notScanned, err := ScanFile(context.Background(), p, "big.lzma", Options{})
	if err != nil || len(findings)+len(notScanned) == 0 {
		t.Errorf("huge LZMA dictionary: %v %v %v", findings, notScanned, err)
	}
}

// joblibAligned is joblibPickle with the alignment attribute written by align, a
// padding length byte pad followed by pad bytes, then n float64 values whose
// last bytes parse as harmless opcodes and STOP, then tail before SETITEMS.
func joblibAligned(align func(p *pk), pad byte, n int, tail func(p *pk)) []byte {
	p := joblibWrapper(n, align)
	p.WriteByte(pad)
	p.Write(bytes.Repeat([]byte{'N'}, int(pad)))
	data := bytes.Repeat([]byte{'N'}, n*8)
	// A reader that ignores the padding byte resumes 8 bytes before the end of
	// the data: there it sees STOP and then junk, and may stop looking.
	data[len(data)-8] = opSTOP
	copy(data[len(data)-7:], bytes.Repeat([]byte{0xff}, 7))
	p.Write(data)
	if tail != nil {
		tail(p)
	}
	p.op(opSETITEMS)
	return p.stop()
}

// TestJoblibAlignment: joblib reads the padding byte whenever the
// alignment attribute is not None (True, 0, False, 16 ...), j02-j04.
func TestJoblibAlignment(t *testing.T) {
	// SHORT_BINSTRING names and STACK_GLOBAL: nothing a text search of trailing
	// data would notice
	evil := func(p *pk) {
		p.str("x").op(opSHORT_BINSTRING, 5).raw("posix").op(opSHORT_BINSTRING, 6).raw("system").op(opSTACK_GLOBAL).callStr("id")
	}
	var cases []evasionCase
	for name, align := range map[string]func(p *pk){
		"true": func(p *pk) { p.op(opNEWTRUE) }, "false": func(p *pk) { p.op(opNEWFALSE) },
		"zero": func(p *pk) { p.binint1(0) }, "sixteen": func(p *pk) { p.binint1(16) }, "eight": func(p *pk) { p.binint1(8) },
	} {
		cases = append(cases,
			evasionCase{name: "mal_align_" + name + ".joblib", malicious: true, data: joblibAligned(align, 7, 4, evil)},
			evasionCase{name: "mal_align_" + name + "_bigpad.joblib", malicious: true, data: joblibAligned(align, 40, 4, evil)},
			evasionCase{name: "ok_align_" + name + ".joblib", data: joblibAligned(align, 7, 4, nil)},
		)
	}
	runEvasionCases(t, cases)
}

// TestH5KeyOrder: Keras configs in .h5 attributes are found whatever the
// key order and spacing.
func TestH5KeyOrder(t *testing.T) {
	lambda := `{"config": {"name": "lambda", "function": ["4wEAAAAAAAAAAAAAAAEAAAAEAAAAQwAAAHMOAAAAdABkAYMBAQB8AFMAKQJO2gJpZCkB2gRleGVj", null, null], "function_type": "lambda", "module": "__main__"}, "class_name": "Lambda"}`
	dense := `{"config": {"name": "dense", "units": 4, "activation": "relu"}, "class_name": "Dense"}`
	model := func(layers string) string {
		return `{"config": {"name": "sequential", "layers": [` + layers + `]}, "keras_version": "2.15.0", "backend": "tensorflow", "class_name": "Sequential"}`
	}
	spaced := func(layers string) string {
		return "{ \n \"class_name\" : \"Sequential\",\n\t\"config\":{\"layers\":[" + layers + "]}}"
	}
	big := strings.Repeat(" ", 70<<10) // the key lies in the next window
	runEvasionCases(t, []evasionCase{
		{name: "mal_order.h5", malicious: true, data: fakeH5(model(dense + ", " + lambda))},
		{name: "mal_spaced.h5", malicious: true, data: fakeH5(spaced(lambda))},
		{name: "mal_far_key.h5", malicious: true, data: fakeH5(`{"config": {"layers": [` + lambda + `]},` + big + `"class_name": "Sequential"}`)},
		{name: "ok_order.h5", data: fakeH5(model(dense))},
		{name: "ok_spaced.h5", data: fakeH5(spaced(dense))},
	})
}

// TestNPYDtypeNames: dtype names np.dtype accepts are understood, and an
// unknown dtype over raw numbers is not mistaken for a pickle.
func TestNPYDtypeNames(t *testing.T) {
	body := bytes.Repeat([]byte{0x80, 0x3f, 0, 0, 0x4e, 0x2e, 0x63, 0x6f}, 2) // floats that start like PROTO
	for _, d := range []string{"'float64'", "'<d'", "'int64'"} {
		if n, obj, ok := npyItemSize(strings.Trim(d, "'")); !ok || obj || n != 8 {
			t.Errorf("%s: %d %v %v", d, n, obj, ok)
		}
	}
	runEvasionCases(t, []evasionCase{
		{name: "ok_float64.npy", data: npy("{'descr': 'float64', 'fortran_order': False, 'shape': (2,), }", body)},
		{name: "ok_d.npy", data: npy("{'descr': '<d', 'fortran_order': False, 'shape': (2,), }", body)},
	})
}

// TestXZBlocks: every block's dictionary is checked before decoding, so a
// later block cannot ask for gigabytes; a legitimate multi-block file is scanned.
func TestXZBlocks(t *testing.T) {
	evil := newPK(2).op(opMARK).binunicode(strings.Repeat("a", 300)).op(opPOP_MARK).global("os", "system").callStr("id").stop()
	var buf bytes.Buffer
	w, err := xz.WriterConfig{BlockSize: 128}.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(evil)
	_ = w.Close()
	multi := buf.Bytes()
	if n := bytes.Count(multi, []byte{0x21, 0x01}); n < 2 {
		t.Fatalf("want several blocks, got %d filter records", n)
	}
	if d, ok := xzMaxDict(bytes.NewReader(multi), int64(len(multi))); !ok || d > maxLZMADict {
		t.Fatalf("xzMaxDict = %d %v", d, ok)
	}
	runEvasionCases(t, []evasionCase{{name: "mal_multiblock.xz", malicious: true, data: multi}})
	big := bytes.Clone(multi)
	last := bytes.LastIndex(big, []byte{0x21, 0x01})
	if last < 13 {
		t.Fatal("no LZMA2 filter flags found")
	}
	big[last+2] = 40 // 4 GiB dictionary in the last block
	if d, ok := xzMaxDict(bytes.NewReader(big), int64(len(big))); ok && d <= maxLZMADict {
		t.Fatalf("big dictionary not seen: %d", d)
	}
	p := filepath.Join(t.TempDir(), "big.xz")
	_ = os.WriteFile(p, big, 0o644)
	_, notScanned, err := ScanFile(context.Background(), p, "big.xz", Options{})
	if err != nil || len(notScanned) == 0 {
		t.Errorf("huge xz dictionary in a later block: not reported (%v)", err)
	}
}
