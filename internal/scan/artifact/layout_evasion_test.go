package artifact

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ulikunitz/xz/lzma"
)

// dtypeState writes numpy.dtype(code, False, True) with a BUILD state of version 3:
// (3, byteorder, None, names, fields, elsize, alignment, flags). code writes the
// first argument; names and fields write the structured parts (nil: None).
func dtypeState(p *pk, code func(p *pk), order string, names, fields func(p *pk), elsize, align int32, flags byte) {
	p.global("numpy", "dtype")
	code(p)
	p.op(opNEWFALSE, opNEWTRUE, opTUPLE3, opREDUCE)
	p.op(opMARK).binint1(3).binunicode(order).op(opNONE)
	for _, f := range []func(p *pk){names, fields} {
		if f == nil {
			p.op(opNONE)
		} else {
			f(p)
		}
	}
	p.binint(elsize).binint(align).binint1(flags).op(opTUPLE, opBUILD)
}

func pyStr(s string) func(p *pk) { return func(p *pk) { p.binunicode(s) } }

// dtypeField writes a two-field structured dtype {a: (f4, 0), b: (second, 8)}.
func structDtype(second func(p *pk), elsize int32, flags byte) func(p *pk) {
	return func(p *pk) {
		names := func(p *pk) { p.binunicode("a").binunicode("b").op(opTUPLE2) }
		fields := func(p *pk) {
			p.op('}', opMARK).binunicode("a")
			dtypeState(p, pyStr("f4"), "<", nil, nil, -1, -1, 0)
			p.binint1(0).op(opTUPLE2).binunicode("b")
			second(p)
			p.binint1(8).op(opTUPLE2, opSETITEMS)
		}
		dtypeState(p, pyStr("V16"), "|", names, fields, elsize, 1, flags)
	}
}

// joblibWithDtype writes a joblib dump {"w": NumpyArrayWrapper(shape=(n,), dtype)}
// followed inline by body (the raw data or a nested pickle), then STOP.
func joblibWithDtype(n byte, dtype func(p *pk), align bool, body []byte) []byte {
	p := newPK(2)
	p.op('}', opMARK).binunicode("w")
	p.global("joblib.numpy_pickle", "NumpyArrayWrapper").op(')', opNEWOBJ)
	p.op('}', opMARK)
	p.binunicode("subclass").global("numpy", "ndarray")
	p.binunicode("shape").binint1(n).op(opTUPLE1)
	p.binunicode("order").binunicode("C")
	p.binunicode("dtype")
	dtype(p)
	p.binunicode("allow_mmap").op(opNEWFALSE)
	if align {
		p.binunicode("numpy_array_alignment_bytes").binint1(16)
	}
	p.op(opSETITEMS, opBUILD)
	p.Write(body)
	p.op(opSETITEMS)
	return p.stop()
}

func TestJoblibDtypes(t *testing.T) {
	nested := newPK(2).global("os", "system").callStr("id").stop()
	objO8 := func(p *pk) { dtypeState(p, pyStr("O8"), "|", nil, nil, -1, -1, 63) }
	f4 := func(p *pk) { dtypeState(p, pyStr("f4"), "<", nil, nil, -1, -1, 0) }
	rec := func(p *pk) {
		dtypeState(p, pyStr("V8"), "|", func(p *pk) { p.binunicode("x").binunicode("y").op(opTUPLE2) }, func(p *pk) {
			p.op('}', opMARK).binunicode("x")
			f4(p)
			p.binint1(0).op(opTUPLE2).binunicode("y")
			f4(p)
			p.binint1(4).op(opTUPLE2, opSETITEMS)
		}, 8, 1, 16)
	}
	// Record data: one padding-length byte; the wrapper's end is at an unknown
	// offset, so the padding is whatever joblib's reader would skip.
	recBody := append([]byte{7, 0, 0, 0, 0, 0, 0, 0}, make([]byte, 16)...)
	for i := 8; i < len(recBody); i++ {
		recBody[i] = 'c' // data bytes that look like GLOBAL opcodes must be skipped
	}
	runEvasionCases(t, []evasionCase{
		{"d_struct_object_field.joblib", joblibWithDtype(1, structDtype(objO8, 16, 27), false, nested), true},
		// flags cleared, the object field alone decides
		{"d_struct_object_field_noflags.joblib", joblibWithDtype(1, structDtype(objO8, 16, 0), false, nested), true},
		{"d_dtype_word_object.joblib", joblibWithDtype(1, func(p *pk) { dtypeState(p, pyStr("object"), "|", nil, nil, -1, -1, 63) }, false, nested), true},
		{"d_dtype_pipe_O.joblib", joblibWithDtype(1, func(p *pk) { dtypeState(p, pyStr("|O"), "|", nil, nil, -1, -1, 63) }, false, nested), true},
		{"d_dtype_class_object.joblib", joblibWithDtype(1, func(p *pk) {
			dtypeState(p, func(p *pk) { p.global("builtins", "object") }, "|", nil, nil, -1, -1, 63)
		}, false, nested), true},
		// a code nobody knows, flags without the object bit: the pickle that follows is scanned
		{"d_dtype_unknown_code.joblib", joblibWithDtype(1, func(p *pk) { dtypeState(p, pyStr("q9z"), "|", nil, nil, -1, -1, 0) }, false, nested), true},
		// an f8 code whose state flags claim objects
		{"d_dtype_flags_object.joblib", joblibWithDtype(1, func(p *pk) { dtypeState(p, pyStr("f8"), "<", nil, nil, -1, -1, 1) }, false, nested), true},
		{"d_record_array.joblib", joblibWithDtype(2, rec, true, recBody), false},
	})
}

// zipWithLZMA is b as a zip LZMA member (method 14): version, properties size,
// the 5 LZMA properties and the raw stream, with an end marker when eos.
func zipWithLZMA(t *testing.T, b []byte, eos bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := lzma.WriterConfig{EOSMarker: eos, SizeInHeader: true, Size: int64(len(b))}.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	alone := buf.Bytes() // LZMA_ALONE: props, dict size, uncompressed size, stream
	out := append([]byte{9, 20, 5, 0}, alone[:5]...)
	return append(out, alone[13:]...)
}

func TestZipLZMA(t *testing.T) {
	evil := newPK(2).global("os", "system").callStr("id").stop()
	benign := npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", make([]byte, 16))
	objNpy := npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", evil)
	zipOf := func(name string, data []byte, plainLen int, flags uint16) []byte {
		return buildRawZip([]rawMember{{name: name, data: data, method: 14, uncompSize: uint32(plainLen), pointAt: -1, flags: flags}})
	}
	runEvasionCases(t, []evasionCase{
		{"d_lzma_eos.npz", zipOf("a.npy", zipWithLZMA(t, objNpy, true), len(objNpy), 2), true},
		{"d_lzma_sized.npz", zipOf("a.npy", zipWithLZMA(t, objNpy, false), len(objNpy), 0), true},
		{"d_lzma_pkl.pt", zipOf("archive/data.pkl", zipWithLZMA(t, evil, true), len(evil), 2), true},
		{"d_lzma_benign.npz", zipOf("a.npy", zipWithLZMA(t, benign, true), len(benign), 2), false},
	})
}

func TestH5EscapedKeys(t *testing.T) {
	h5Lambda := `{"class_name": "Lambda", "config": {"name": "lambda", "function": ["4wEAAAAAAAAAAAAAAAEAAAAEAAAAQwAAAHMOAAAAdABkAYMBAQB8AFMAKQJO2gJpZCkB2gRleGVj", null, null], "function_type": "lambda", "module": "__main__"}}`
	esc := func(s string) string {
		s = strings.ReplaceAll(s, `"class_name"`, `"class\u005fname"`)
		return strings.ReplaceAll(s, `"config"`, `"\u0063onfig"`)
	}
	cfg := esc(kerasConfig(denseLayer, h5Lambda))
	// no attribute name before the JSON: only the escape anchors it
	bare := append([]byte("\x89HDF\r\n\x1a\n\x00\x01"), cfg...)
	bare = append(bare, 0, 0, 0)
	runEvasionCases(t, []evasionCase{
		{"d_h5_escaped_keys.h5", fakeH5(cfg), true},
		{"d_h5_escaped_bare.h5", bare, true},
		{"d_h5_benign_escaped.h5", fakeH5(esc(kerasConfig(denseLayer))), false},
	})
}

func TestTemplateEvasions(t *testing.T) {
	tokcfg := func(tmpl string) []byte {
		b, err := json.Marshal(map[string]any{"chat_template": tmpl, "eos_token": "</s>"})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	benign := "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] | replace('_', ' ') + '<|im_end|>' + '\\n' }}{% endfor %}" +
		"{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}{% set sep = '' %}{{ sep }}{{ '' '' }}"
	runEvasionCases(t, []evasionCase{
		{"chat_template.jinja", []byte("{{ cycler.__init__.__globals__.os.popen('id').read() }}"), true},
		{"d_adjacent.json", tokcfg("{{ lipsum['_''_globals__']['os'] }}"), true},
		{"d_adjacent_spaced.json", tokcfg("{{ lipsum[\"_\"  '_glob' 'als__'] }}"), true},
		{"d_format_c.json", tokcfg("{% set u = '%c'|format(95) %}{% set g = [u,u,'globals',u,u]|join %}{{ [cycler]|map(attribute=g)|list }}"), true},
		{"d_list_join.json", tokcfg("{% set g = ['_','_','glo','bals','_','_']|join %}{{ [cycler]|map(attribute=g)|list }}"), true},
		{"d_benign.json", tokcfg(benign), false},
		{"d_benign.jinja", []byte(benign), false},
	})
}
