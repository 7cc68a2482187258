package artifact

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// pk assembles pickles opcode by opcode, the way CPython's pickler writes them.
type pk struct{ bytes.Buffer }

func newPK(proto byte) *pk {
	p := &pk{}
	if proto >= 2 {
		p.WriteByte(opPROTO)
		p.WriteByte(proto)
	}
	return p
}

func (p *pk) op(b ...byte) *pk { p.Write(b); return p }
func (p *pk) raw(s string) *pk { p.WriteString(s); return p }

// global writes GLOBAL module\nname\n.
func (p *pk) global(mod, name string) *pk { return p.raw("c" + mod + "\n" + name + "\n") }

// str writes a protocol-appropriate str: SHORT_BINUNICODE or BINUNICODE.
func (p *pk) str(s string) *pk {
	if len(s) < 256 {
		p.WriteByte(opSHORT_BINUNICODE)
		p.WriteByte(byte(len(s)))
	} else {
		p.WriteByte(opBINUNICODE)
		_ = binary.Write(p, binary.LittleEndian, uint32(len(s)))
	}
	p.WriteString(s)
	return p
}

// binunicode writes BINUNICODE (protocols 1-3 have no SHORT_BINUNICODE).
func (p *pk) binunicode(s string) *pk {
	p.WriteByte(opBINUNICODE)
	_ = binary.Write(p, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
	return p
}

func (p *pk) binbytes(b []byte) *pk {
	p.WriteByte(opBINBYTES)
	_ = binary.Write(p, binary.LittleEndian, uint32(len(b)))
	p.Write(b)
	return p
}

func (p *pk) binint(v int32) *pk {
	p.WriteByte(opBININT)
	_ = binary.Write(p, binary.LittleEndian, v)
	return p
}

func (p *pk) binint1(v byte) *pk  { return p.op(opBININT1, v) }
func (p *pk) binput(i byte) *pk   { return p.op(opBINPUT, i) }
func (p *pk) binget(i byte) *pk   { return p.op(opBINGET, i) }
func (p *pk) memoize() *pk        { return p.op(opMEMOIZE) }
func (p *pk) stop() []byte        { p.WriteByte(opSTOP); return p.Bytes() }
func (p *pk) bytesNoStop() []byte { return p.Bytes() }

// stackGlobal writes module and name strings and STACK_GLOBAL (protocol 4).
func (p *pk) stackGlobal(mod, name string) *pk {
	return p.str(mod).memoize().str(name).memoize().op(opSTACK_GLOBAL).memoize()
}

// callStr writes callable(arg) given the callable already on the stack.
func (p *pk) callStr(arg string) *pk { return p.binunicode(arg).op(opTUPLE1, opREDUCE) }

// torchDataPKL is what torch.save writes to archive/data.pkl (protocol 2) for
// OrderedDict{"weight": FloatTensor of 4 elements, "bias": ...}.
func torchDataPKL() []byte { return torchDataPKLN(2) }

// torchDataPKLN writes n tensors, each with its own storage key, memoised the
// way CPython's pickler memoises (BINPUT, then BINGET for repeats).
func torchDataPKLN(n int) []byte {
	p := newPK(2)
	p.global("collections", "OrderedDict").op(')').op(opREDUCE).binput(0).op(opMARK)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("model.layers.%d.weight", i)
		p.binunicode(name).binput(byte(1 + i%200))
		p.global("torch._utils", "_rebuild_tensor_v2").binput(byte(2 + i%200)).op(opMARK)
		// persistent id ('storage', torch.FloatStorage, key, 'cpu', 4)
		p.op(opMARK).binunicode("storage").global("torch", "FloatStorage").binunicode(fmt.Sprint(i)).binunicode("cpu").binint1(4).op(opTUPLE).op(opBINPERSID)
		p.binint1(0).binint1(4).op(opTUPLE1).binint1(1).op(opTUPLE1).op(opNEWFALSE)
		p.global("collections", "OrderedDict").op(')').op(opREDUCE).op(opTUPLE).op(opREDUCE)
	}
	p.op(opSETITEMS)
	// _metadata attribute as torch writes it
	p.op('}').binunicode("version").binint1(1).op(opSETITEM).op(opBUILD)
	return p.stop()
}

// zipFile is one member of a hand-built archive.
type zipFile struct {
	name    string
	data    []byte
	deflate bool
}

// buildZip writes a zip with archive/zip (the honest layout loaders expect).
func buildZip(t testing.TB, files []zipFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, f := range files {
		method := zip.Store
		if f.deflate {
			method = zip.Deflate
		}
		fw, err := w.CreateHeader(&zip.FileHeader{Name: f.name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// torchZip is a PyTorch ≥1.6 checkpoint with the given data.pkl.
func torchZip(t testing.TB, dataPKL []byte, deflate bool) []byte {
	storage := make([]byte, 16)
	return buildZip(t, []zipFile{
		{name: "archive/data.pkl", data: dataPKL, deflate: deflate},
		{name: "archive/byteorder", data: []byte("little")},
		{name: "archive/data/0", data: storage},
		{name: "archive/data/1", data: storage},
		{name: "archive/version", data: []byte("3\n")},
		{name: "archive/.data/serialization_id", data: []byte("1234567890\n")},
	})
}

// rawZip builds a stored-only zip by hand so headers can disagree: localNames
// overrides the local header name of a member; extraCentral adds central entries
// pointing at existing local headers (overlaps); sizes override declared sizes.
type rawMember struct {
	name, localName string
	data            []byte
	uncompSize      uint32 // declared uncompressed size (0 = len(data))
	method          uint16
	pointAt         int    // index of another member whose local header this central entry reuses (-1 none)
	badCRC          bool   // store a CRC-32 that does not match the data
	localMethod     uint16 // with setLocalMethod: the local header's method differs from the central one
	setLocalMethod  bool
	flags           uint16 // general purpose flags in both headers
	crc             uint32 // with setCRC: the CRC-32 to store (of the plaintext, for encrypted members)
	setCRC          bool
}

func buildRawZip(members []rawMember) []byte {
	var buf bytes.Buffer
	offsets := make([]int, len(members))
	for i, m := range members {
		if m.pointAt >= 0 {
			continue
		}
		offsets[i] = buf.Len()
		ln := m.localName
		if ln == "" {
			ln = m.name
		}
		crc := memberCRC(m)
		lm := m.method
		if m.setLocalMethod {
			lm = m.localMethod
		}
		h := make([]byte, 30)
		binary.LittleEndian.PutUint32(h, sigLocal)
		binary.LittleEndian.PutUint16(h[4:], 20)
		binary.LittleEndian.PutUint16(h[6:], m.flags)
		binary.LittleEndian.PutUint16(h[8:], lm)
		binary.LittleEndian.PutUint32(h[14:], crc)
		binary.LittleEndian.PutUint32(h[18:], uint32(len(m.data)))
		binary.LittleEndian.PutUint32(h[22:], cmpOr(m.uncompSize, uint32(len(m.data))))
		binary.LittleEndian.PutUint16(h[26:], uint16(len(ln)))
		buf.Write(h)
		buf.WriteString(ln)
		buf.Write(m.data)
	}
	cdStart := buf.Len()
	for i, m := range members {
		src := m
		off := offsets[i]
		if m.pointAt >= 0 {
			src = members[m.pointAt]
			off = offsets[m.pointAt]
		}
		h := make([]byte, 46)
		binary.LittleEndian.PutUint32(h, sigCentral)
		binary.LittleEndian.PutUint16(h[4:], 20)
		binary.LittleEndian.PutUint16(h[6:], 20)
		binary.LittleEndian.PutUint16(h[8:], src.flags)
		binary.LittleEndian.PutUint16(h[10:], src.method)
		binary.LittleEndian.PutUint32(h[16:], memberCRC(src))
		binary.LittleEndian.PutUint32(h[20:], uint32(len(src.data)))
		binary.LittleEndian.PutUint32(h[24:], cmpOr(m.uncompSize, uint32(len(src.data))))
		binary.LittleEndian.PutUint16(h[28:], uint16(len(m.name)))
		binary.LittleEndian.PutUint32(h[42:], uint32(off))
		buf.Write(h)
		buf.WriteString(m.name)
	}
	cdSize := buf.Len() - cdStart
	e := make([]byte, 22)
	binary.LittleEndian.PutUint32(e, sigEOCD)
	binary.LittleEndian.PutUint16(e[8:], uint16(len(members)))
	binary.LittleEndian.PutUint16(e[10:], uint16(len(members)))
	binary.LittleEndian.PutUint32(e[12:], uint32(cdSize))
	binary.LittleEndian.PutUint32(e[16:], uint32(cdStart))
	buf.Write(e)
	return buf.Bytes()
}

func memberCRC(m rawMember) uint32 {
	c := crc32.ChecksumIEEE(m.data)
	if m.setCRC {
		c = m.crc
	}
	if m.badCRC {
		c ^= 0xdeadbeef
	}
	return c
}

// deflateBytes is raw DEFLATE data (zip method 8).
func deflateBytes(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

func cmpOr(a, b uint32) uint32 {
	if a != 0 {
		return a
	}
	return b
}

// legacyTorch is the pre-1.6 format: five pickles, then raw storage bytes.
func legacyTorch(mainPickle []byte) []byte {
	var b bytes.Buffer
	magic := newPK(2).op(opLONG1, 10).raw(legacyTorchMagic).stop()
	b.Write(magic)
	b.Write(newPK(2).op(opBININT2, 0xe9, 0x03).stop()) // protocol version 1001
	sys := newPK(2).op('}').op(opMARK).binunicode("protocol_version").op(opBININT2, 0xe9, 0x03).
		binunicode("little_endian").op(opNEWTRUE).binunicode("type_sizes").op('}').op(opMARK).
		binunicode("short").binint1(2).binunicode("int").binint1(4).binunicode("long").binint1(4).op(opSETITEMS).op(opSETITEMS).stop()
	b.Write(sys)
	b.Write(mainPickle)
	b.Write(newPK(2).op(']').binunicode("0").op(opAPPEND).stop())
	// storage 0: 8-byte element count, then 4 float32 values
	_ = binary.Write(&b, binary.LittleEndian, int64(4))
	b.Write([]byte{0x80, 0x02, 0x63, 0x6f, 0x73, 0x0a, 0x73, 0x79, 0x73, 0x74, 0x65, 0x6d, 0x0a, 0, 0, 0})
	return b.Bytes()
}

// npy writes a NumPy v1.0 file with the given header dict and body.
func npy(header string, body []byte) []byte {
	h := header
	total := 10 + len(h) + 1
	pad := (64 - total%64) % 64
	h += string(bytes.Repeat([]byte(" "), pad)) + "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	_ = binary.Write(&b, binary.LittleEndian, uint16(len(h)))
	b.WriteString(h)
	b.Write(body)
	return b.Bytes()
}

// numpyObjectArrayPickle is what np.save writes after the header of an object
// array: a protocol 3 pickle of the ndarray via _reconstruct.
func numpyObjectArrayPickle(element func(p *pk)) []byte {
	p := newPK(3)
	p.global("numpy.core.multiarray", "_reconstruct").binput(0)
	p.global("numpy", "ndarray").binput(1).binint1(0).op(opTUPLE1).op(opSHORT_BINBYTES, 1).raw("b").op(opTUPLE3, opREDUCE).binput(2)
	p.op(opMARK).binint1(1).binint1(1).op(opTUPLE1)
	p.global("numpy", "dtype").binput(3).binunicode("O8").op(opNEWFALSE, opNEWTRUE, opTUPLE3, opREDUCE).binput(4)
	p.op(opMARK).binint1(3).binunicode("|").op(opNONE, opNONE, opNONE).binint(-1).binint(-1).binint1(63).op(opTUPLE, opBUILD)
	p.op(opNEWFALSE).op(']').op(opMARK)
	element(p)
	p.op(opAPPENDS).op(opTUPLE, opBUILD)
	return p.stop()
}

// joblibPickle writes a joblib dump of {"coef": float64 array of n values} with
// NumpyArrayWrapper, alignment padding and the raw array bytes inline, then tail
// (more pickle opcodes) before STOP.
func joblibPickle(n int, tail func(p *pk)) []byte {
	p := joblibWrapper(n, func(p *pk) { p.binint1(16) })
	// raw array: padding byte + padding, then n*8 bytes that would be garbage opcodes
	pos := p.Len() + 1
	pad := 16 - pos%16
	p.WriteByte(byte(pad))
	p.Write(bytes.Repeat([]byte{0xff}, pad))
	for i := 0; i < n; i++ {
		p.WriteString("cos\nsys\n") // 8 bytes of data that must be skipped, not parsed
	}
	if tail != nil {
		tail(p)
	}
	p.op(opSETITEMS)
	return p.stop()
}

// joblibWrapper starts a joblib dump of {"coef": float64 array of n values}: the
// NumpyArrayWrapper with its state, whose numpy_array_alignment_bytes align writes,
// up to where joblib reads the padding byte and the raw array.
func joblibWrapper(n int, align func(p *pk)) *pk {
	p := newPK(4)
	p.op('}').memoize().op(opMARK).str("coef").memoize()
	p.stackGlobal("joblib.numpy_pickle", "NumpyArrayWrapper")
	p.op(')').memoize().op(opNEWOBJ).memoize().op('}').memoize().op(opMARK)
	p.str("subclass").memoize().stackGlobal("numpy", "ndarray")
	p.str("shape").memoize().binint1(byte(n)).op(opTUPLE1).memoize()
	p.str("order").memoize().str("C").memoize()
	p.str("dtype").memoize().stackGlobal("numpy", "dtype").str("f8").memoize().op(opNEWFALSE, opNEWTRUE, opTUPLE3).memoize().op(opREDUCE).memoize()
	p.op(opMARK).binint1(3).str("<").memoize().op(opNONE, opNONE, opNONE).binint(-1).binint(-1).binint1(0).op(opTUPLE, opBUILD)
	p.str("allow_mmap").memoize().op(opNEWTRUE)
	p.str("numpy_array_alignment_bytes").memoize()
	align(p)
	p.op(opSETITEMS, opBUILD)
	return p
}

func zlibBytes(b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

func tarBytes(t testing.TB, files map[string][]byte, order []string) []byte {
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	for _, name := range order {
		data := files[name]
		if err := w.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(data)
	}
	_ = w.Close()
	return buf.Bytes()
}

// safetensorsFile writes a header (as given) and data bytes.
func safetensorsFile(header string, data []byte) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

func benignSafetensors() []byte {
	hdr, _ := json.Marshal(map[string]any{
		"__metadata__": map[string]string{"format": "pt"},
		"weight":       map[string]any{"dtype": "F32", "shape": []int{2, 2}, "data_offsets": []int{0, 16}},
		"bias":         map[string]any{"dtype": "F16", "shape": []int{2}, "data_offsets": []int{16, 20}},
	})
	return safetensorsFile(string(hdr), make([]byte, 20))
}

// gguf builds a GGUF v3 file with string metadata and F32 tensors.
type ggufTensorSpec struct {
	name string
	dims []uint64
	typ  uint32
	off  uint64
}

func ggufFile(meta [][2]string, tensors []ggufTensorSpec, dataBytes int) []byte {
	var b bytes.Buffer
	w := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	wstr := func(s string) { w(uint64(len(s))); b.WriteString(s) }
	b.WriteString("GGUF")
	w(uint32(3))
	w(uint64(len(tensors)))
	w(uint64(len(meta) + 2))
	wstr("general.architecture")
	w(uint32(ggufString))
	wstr("llama")
	wstr("tokenizer.ggml.tokens")
	w(uint32(ggufArray))
	w(uint32(ggufString))
	w(uint64(3))
	for _, tok := range []string{"<s>", "</s>", "hello"} {
		wstr(tok)
	}
	for _, kv := range meta {
		wstr(kv[0])
		w(uint32(ggufString))
		wstr(kv[1])
	}
	for _, t := range tensors {
		wstr(t.name)
		w(uint32(len(t.dims)))
		for _, d := range t.dims {
			w(d)
		}
		w(t.typ)
		w(t.off)
	}
	for b.Len()%32 != 0 {
		b.WriteByte(0)
	}
	b.Write(make([]byte, dataBytes))
	return b.Bytes()
}

const chatMLTemplate = `{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}`

const llama3Template = `{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}`

const qwenToolTemplate = `{%- if tools %}{{- '<|im_start|>system\n' }}{%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] }}{%- else %}{{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}{%- endif %}{{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}{%- for tool in tools %}{{- "\n" }}{{- tool | tojson }}{%- endfor %}{{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags" }}{%- endif %}{%- set ns = namespace(found=false) %}{%- for message in messages %}{{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}{%- endfor %}`

// buildONNX builds a ModelProto with one node per (domain, op) and one
// initializer per external location ("" = embedded raw data).
func buildONNX(nodes [][2]string, opsets []string, locations []string) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 8)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendString(b, "pytorch")
	var graph []byte
	for i, n := range nodes {
		var node []byte
		node = protowire.AppendTag(node, 1, protowire.BytesType)
		node = protowire.AppendString(node, "x")
		node = protowire.AppendTag(node, 2, protowire.BytesType)
		node = protowire.AppendString(node, fmt.Sprintf("y%d", i))
		node = protowire.AppendTag(node, 4, protowire.BytesType)
		node = protowire.AppendString(node, n[1])
		if n[0] != "" {
			node = protowire.AppendTag(node, 7, protowire.BytesType)
			node = protowire.AppendString(node, n[0])
		}
		graph = protowire.AppendTag(graph, 1, protowire.BytesType)
		graph = protowire.AppendBytes(graph, node)
	}
	graph = protowire.AppendTag(graph, 2, protowire.BytesType)
	graph = protowire.AppendString(graph, "main")
	for i, loc := range locations {
		var tensor []byte
		tensor = protowire.AppendTag(tensor, 1, protowire.VarintType)
		tensor = protowire.AppendVarint(tensor, 4)
		tensor = protowire.AppendTag(tensor, 2, protowire.VarintType)
		tensor = protowire.AppendVarint(tensor, 1)
		tensor = protowire.AppendTag(tensor, 8, protowire.BytesType)
		tensor = protowire.AppendString(tensor, fmt.Sprintf("w%d", i))
		if loc == "" {
			tensor = protowire.AppendTag(tensor, 9, protowire.BytesType)
			tensor = protowire.AppendBytes(tensor, make([]byte, 16))
		} else {
			for _, kv := range [][2]string{{"location", loc}, {"offset", "0"}, {"length", "16"}} {
				var e []byte
				e = protowire.AppendTag(e, 1, protowire.BytesType)
				e = protowire.AppendString(e, kv[0])
				e = protowire.AppendTag(e, 2, protowire.BytesType)
				e = protowire.AppendString(e, kv[1])
				tensor = protowire.AppendTag(tensor, 13, protowire.BytesType)
				tensor = protowire.AppendBytes(tensor, e)
			}
			tensor = protowire.AppendTag(tensor, 14, protowire.VarintType)
			tensor = protowire.AppendVarint(tensor, 1)
		}
		graph = protowire.AppendTag(graph, 5, protowire.BytesType)
		graph = protowire.AppendBytes(graph, tensor)
	}
	b = protowire.AppendTag(b, 7, protowire.BytesType)
	b = protowire.AppendBytes(b, graph)
	for _, d := range opsets {
		var o []byte
		if d != "" {
			o = protowire.AppendTag(o, 1, protowire.BytesType)
			o = protowire.AppendString(o, d)
		}
		o = protowire.AppendTag(o, 2, protowire.VarintType)
		o = protowire.AppendVarint(o, 17)
		b = protowire.AppendTag(b, 8, protowire.BytesType)
		b = protowire.AppendBytes(b, o)
	}
	return b
}

// fakeH5 places a Keras model_config attribute between HDF5-like binary blocks.
func fakeH5(config string) []byte {
	var b bytes.Buffer
	b.WriteString("\x89HDF\r\n\x1a\n")
	b.Write(bytes.Repeat([]byte{0, 1, 2, 0xff}, 300))
	b.WriteString("model_config\x00\x00")
	b.WriteString(config)
	b.Write(bytes.Repeat([]byte{0, 0x13, 0x37}, 5000))
	return b.Bytes()
}

func kerasConfig(layers ...string) string {
	return `{"class_name": "Sequential", "config": {"name": "sequential", "layers": [` + joinComma(layers) + `]}, "keras_version": "2.15.0", "backend": "tensorflow"}`
}

func joinComma(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(x)
	}
	return b.String()
}

const denseLayer = `{"class_name": "Dense", "config": {"name": "dense", "units": 4, "activation": "relu"}}`
const keras3Dense = `{"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense", "units": 4, "activation": {"module": "keras.activations", "class_name": "function", "config": "relu", "registered_name": null}}, "registered_name": null}`

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}
