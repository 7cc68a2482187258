package artifact

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// The other binary files of a Hugging Face repository that hold no code, each
// recognised by its content and read through so that a file which only looks
// like one at its start is not waved through: sentencepiece tokenizer models
// (tokenizer.model, spiece.model), Flax weights (flax_model.msgpack) and
// TensorFlow Lite models (.tflite), whose operators are checked.

const (
	fmtSentencePiece format = "sentencepiece"
	fmtMsgpack       format = "msgpack"
	fmtTFLite        format = "tflite"
)

// sniffMore recognises formats whose start alone does not tell them apart
// from other bytes, once sniff has found nothing: a checkpoint index (by its
// footer), a sentencepiece model, msgpack and TFLite.
func sniffMore(head []byte, ra io.ReaderAt, size int64) format {
	switch {
	case looksTensorBundleIndex(ra, size):
		return fmtTFIndex
	case looksGraphDef(head):
		return fmtGraphDef
	case looksKerasMetadata(head):
		return fmtKerasMetadata
	case looksONNXTensor(head):
		return fmtONNXTensor
	case looksTFLite(head):
		return fmtTFLite
	case looksExecuTorch(head):
		return fmtExecuTorch
	case nativeKind(head) != "":
		return fmtNative
	case looksSentencePiece(head):
		return fmtSentencePiece
	case looksMsgpackMap(head):
		return fmtMsgpack
	case looksMILBlob(head):
		return fmtCoreMLBlob
	case looksGGML(head):
		return fmtGGML
	}
	return fmtUnknown
}

// fmtNative is compiled code: an ELF, Mach-O or PE executable or shared
// library. PyTorch's AOTInductor packages (.pt2) carry the model as one, which
// aoti_load_package loads and runs; anywhere in a model it runs with the
// application's rights if a loader uses it, so it is reported, never waved
// through as data.
const fmtNative format = "native code"

// nativeKind names the executable format head starts with, or returns "".
func nativeKind(head []byte) string {
	switch {
	case len(head) >= 6 && string(head[:4]) == "\x7fELF" && (head[4] == 1 || head[4] == 2) && (head[5] == 1 || head[5] == 2):
		return "ELF"
	case len(head) >= 4 && (string(head[:4]) == "\xcf\xfa\xed\xfe" || string(head[:4]) == "\xce\xfa\xed\xfe" ||
		string(head[:4]) == "\xfe\xed\xfa\xcf" || string(head[:4]) == "\xfe\xed\xfa\xce"):
		return "Mach-O"
	case len(head) >= 0x40 && string(head[:2]) == "MZ":
		if off := int64(binary.LittleEndian.Uint32(head[0x3c:])); off <= int64(len(head))-4 && string(head[off:off+4]) == "PE\x00\x00" {
			return "PE"
		}
	}
	return ""
}

// fmtGGML is a legacy llama.cpp model file (before GGUF).
const fmtGGML format = "ggml"

// looksGGML: a legacy llama.cpp model (before GGUF), "ggml" unversioned or
// "ggmf"/"ggjt"/"ggla" with a small version, magic stored little-endian.
// Its hyperparameters, vocabulary and tensors hold no code; llama.cpp dropped
// the format for GGUF, which this scanner reads through.
func looksGGML(head []byte) bool {
	if len(head) < 8 {
		return false
	}
	switch string(head[:4]) {
	case "lmgg":
		return true
	case "fmgg", "tjgg", "algg":
		v := binary.LittleEndian.Uint32(head[4:])
		return v >= 1 && v <= 3
	}
	return false
}

// scanMore scans a region of a format sniffMore found.
func (s *scanner) scanMore(ctx context.Context, in region, f format) error {
	switch f {
	case fmtTFIndex:
		return s.scanTFIndex(ctx, in)
	case fmtGraphDef:
		return s.scanGraphDef(ctx, in) // savedmodel.go
	case fmtKerasMetadata:
		return s.scanKerasMetadata(ctx, in) // savedmodel.go
	case fmtONNXTensor:
		return s.scanONNXTensor(ctx, in) // onnx.go
	case fmtTFLite:
		return s.scanTFLite(ctx, in)
	case fmtExecuTorch:
		return s.scanExecuTorch(ctx, in) // executorch.go
	case fmtNative:
		kind := nativeKind(in.st.Peek(4096))
		s.c.add(in.l, ruleNativeCode, -1, map[string]any{"format": string(fmtNative), "kind": kind}, kind)
		return nil
	case fmtSentencePiece:
		return s.scanSentencePiece(ctx, in)
	case fmtMsgpack:
		return s.scanMsgpack(ctx, in)
	case fmtCoreMLBlob:
		return s.scanMILBlob(ctx, in) // coreml.go
	}
	return nil // legacy GGML: nothing a loader runs
}

// ---- sentencepiece ----

// A sentencepiece model is a protobuf ModelProto: repeated SentencePiece
// pieces = 1 (string piece = 1, float score = 2, Type type = 3), then
// TrainerSpec = 2, NormalizerSpec = 3, SelfTestData = 4 and the denormalizer's
// NormalizerSpec = 5. Tokenizer libraries read pieces and normalisation rules
// from it; nothing in it names code.

// maxPieceBytes bounds one SentencePiece message.
const maxPieceBytes = 64 << 10

// looksSentencePiece: the file opens with a piece (field 1) whose message is
// a UTF-8 piece string followed by a float score.
func looksSentencePiece(head []byte) bool {
	num, typ, n := protowire.ConsumeTag(head)
	if n < 0 || num != 1 || typ != protowire.BytesType {
		return false
	}
	msg, m := protowire.ConsumeBytes(head[n:])
	if m < 0 || len(msg) < 7 {
		return false
	}
	piece, score := false, false
	for len(msg) > 0 {
		num, typ, k := protowire.ConsumeTag(msg)
		if k < 0 {
			return false
		}
		msg = msg[k:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, j := protowire.ConsumeBytes(msg)
			if j < 0 || !utf8.Valid(v) {
				return false
			}
			piece, msg = true, msg[j:]
		case num == 2 && typ == protowire.Fixed32Type && len(msg) >= 4:
			score, msg = true, msg[4:]
		case num == 3 && typ == protowire.VarintType:
			_, j := protowire.ConsumeVarint(msg)
			if j < 0 {
				return false
			}
			msg = msg[j:]
		default:
			return false
		}
	}
	return piece && score
}

// scanSentencePiece reads the model through: every top-level field one of
// ModelProto's five messages, every piece a well-formed SentencePiece.
func (s *scanner) scanSentencePiece(ctx context.Context, in region) error {
	w := protoWalk{s: s, in: in, format: string(fmtSentencePiece), name: "sentencepiece model", maxDepth: 1, stop: errONNXStop}
	end := int64(-1)
	if in.size >= 0 {
		end = in.base + in.size
	}
	pieces := 0
	err := w.fields(ctx, end, 0, func(num protowire.Number, n uint64, off int64) (bool, error) {
		switch {
		case num == 1:
			if n > maxPieceBytes {
				return true, w.malformed(off, fmt.Sprintf("piece of %d bytes", n))
			}
			b, err := in.st.Next(int(n))
			if err != nil {
				return true, w.malformed(off, "truncated piece")
			}
			if !validPiece(b) {
				return true, w.malformed(off, "a piece is not a SentencePiece message")
			}
			pieces++
			return true, nil
		case num >= 2 && num <= 5:
			return false, nil // specs and self-test strings: skipped
		}
		return true, w.malformed(off, fmt.Sprintf("field %d is not part of a ModelProto", num))
	})
	if err != nil && !errors.Is(err, errONNXStop) {
		return err
	}
	s.opts.Logger.DebugContext(ctx, "sentencepiece model", "path", in.l.where(), "pieces", pieces)
	return nil
}

func validPiece(b []byte) bool {
	for len(b) > 0 {
		num, typ, k := protowire.ConsumeTag(b)
		if k < 0 {
			return false
		}
		b = b[k:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, j := protowire.ConsumeBytes(b)
			if j < 0 || !utf8.Valid(v) {
				return false
			}
			b = b[j:]
		case num == 2 && typ == protowire.Fixed32Type && len(b) >= 4:
			b = b[4:]
		case num == 3 && typ == protowire.VarintType:
			_, j := protowire.ConsumeVarint(b)
			if j < 0 {
				return false
			}
			b = b[j:]
		default:
			return false
		}
	}
	return true
}

// ---- msgpack (Flax) ----

// Flax's flax.serialization.to_bytes writes a msgpack map of parameter names
// to nested maps, with arrays as ext type 1 (shape, dtype name, raw bytes),
// complex numbers as 2 and NumPy scalars as 3. msgpack has no way to name
// code. A loader may still treat bytes as a pickle (msgpack-numpy does for
// object arrays), so bin and ext payloads that start like a pickle are scanned
// as one.

// maxMsgpackDepth bounds nesting.
const maxMsgpackDepth = 64

// looksMsgpackMap: a map header (fixmap, map16, map32) whose first key is a
// string of printable text.
func looksMsgpackMap(head []byte) bool {
	if len(head) < 3 {
		return false
	}
	var p int
	switch c := head[0]; {
	case c >= 0x81 && c <= 0x8f:
		p = 1
	case c == 0xde:
		p = 3
	case c == 0xdf:
		p = 5
	default:
		return false
	}
	if p >= len(head) {
		return false
	}
	var n, hdr int
	switch c := head[p]; {
	case c >= 0xa1 && c <= 0xbf:
		n, hdr = int(c&0x1f), 1
	case c == 0xd9 && p+1 < len(head):
		n, hdr = int(head[p+1]), 2
	default:
		return false
	}
	key := head[p+hdr:]
	if n == 0 || n > len(key) {
		return false
	}
	for _, c := range key[:n] {
		if c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

type msgpackWalker struct {
	s     *scanner
	in    region
	ctx   context.Context
	items int64
}

var errMsgpackBad = errors.New("msgpack: malformed")

// scanMsgpack reads one msgpack object that must fill the region.
func (s *scanner) scanMsgpack(ctx context.Context, in region) error {
	w := &msgpackWalker{s: s, in: in, ctx: ctx}
	err := w.value(0)
	if err == nil && !in.st.atEnd() {
		err = w.bad("%d bytes follow the msgpack object", max(in.size-(in.st.Offset()-in.base), 0))
	}
	if errors.Is(err, errMsgpackBad) {
		return nil
	}
	return err
}

func (w *msgpackWalker) bad(format string, args ...any) error {
	w.s.c.add(w.in.l, ruleStructInvalid, w.in.st.Offset()-w.in.base, map[string]any{"format": string(fmtMsgpack)}, "msgpack", fmt.Sprintf(format, args...))
	return errMsgpackBad
}

func (w *msgpackWalker) uint(n int) (uint64, error) {
	b, err := w.in.st.Next(n)
	if err != nil {
		return 0, w.bad("truncated")
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v, nil
}

// value reads one msgpack value at nesting depth.
func (w *msgpackWalker) value(depth int) error {
	if depth > maxMsgpackDepth {
		w.s.c.add(w.in.l, ruleNestingTooDeep, w.in.st.Offset()-w.in.base, map[string]any{"format": string(fmtMsgpack)}, maxMsgpackDepth)
		return errMsgpackBad
	}
	if w.items++; w.items%4096 == 0 {
		if err := w.ctx.Err(); err != nil {
			return err
		}
	}
	st := w.in.st
	c, err := st.ReadByte()
	if err != nil {
		return w.bad("truncated")
	}
	var n uint64
	switch {
	case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3: // fixint, nil, bool
		return nil
	case c >= 0x80 && c <= 0x8f:
		return w.container(uint64(c&0x0f)*2, depth)
	case c >= 0x90 && c <= 0x9f:
		return w.container(uint64(c&0x0f), depth)
	case c >= 0xa0 && c <= 0xbf:
		return w.skip(uint64(c & 0x1f))
	case c == 0xcc, c == 0xd0:
		return w.skip(1)
	case c == 0xcd, c == 0xd1:
		return w.skip(2)
	case c == 0xca, c == 0xce, c == 0xd2:
		return w.skip(4)
	case c == 0xcb, c == 0xcf, c == 0xd3:
		return w.skip(8)
	case c == 0xd4, c == 0xd5, c == 0xd6, c == 0xd7, c == 0xd8: // fixext 1..16
		return w.payload(1+(uint64(1)<<(c-0xd4)), true)
	case c == 0xd9, c == 0xc4:
		n, err = w.uint(1)
	case c == 0xda, c == 0xc5:
		n, err = w.uint(2)
	case c == 0xdb, c == 0xc6:
		n, err = w.uint(4)
	case c == 0xc7, c == 0xc8, c == 0xc9: // ext 8/16/32
		if n, err = w.uint(1 << (c - 0xc7)); err == nil {
			err = w.payload(n+1, true)
		}
		return err
	case c == 0xdc:
		if n, err = w.uint(2); err == nil {
			err = w.container(n, depth)
		}
		return err
	case c == 0xdd:
		if n, err = w.uint(4); err == nil {
			err = w.container(n, depth)
		}
		return err
	case c == 0xde:
		if n, err = w.uint(2); err == nil {
			err = w.container(n*2, depth)
		}
		return err
	case c == 0xdf:
		if n, err = w.uint(4); err == nil {
			err = w.container(n*2, depth)
		}
		return err
	default: // 0xc1 is never used
		return w.bad("invalid type byte 0x%02x", c)
	}
	if err != nil {
		return err
	}
	if c >= 0xc4 && c <= 0xc6 {
		return w.payload(n, false)
	}
	return w.skip(n)
}

func (w *msgpackWalker) container(n uint64, depth int) error {
	if rem := w.in.st.remaining(); rem >= 0 && n > uint64(rem) {
		return w.bad("container declares %d items, more than bytes remain", n)
	}
	for range n {
		if err := w.value(depth + 1); err != nil {
			return err
		}
	}
	return nil
}

func (w *msgpackWalker) skip(n uint64) error {
	if rem := w.in.st.remaining(); rem >= 0 && n > uint64(rem) {
		return w.bad("value declares %d bytes, more than remain", n)
	}
	if err := w.in.st.Skip(int64(n)); err != nil {
		return w.bad("truncated")
	}
	return nil
}

// payload skips n bytes of bin (or ext, whose first byte is the type) data,
// first scanning it as a pickle when it starts like one and can be read in
// place.
func (w *msgpackWalker) payload(n uint64, ext bool) error {
	st := w.in.st
	if rem := st.remaining(); rem >= 0 && n > uint64(rem) {
		return w.bad("value declares %d bytes, more than remain", n)
	}
	start := st.Offset() - w.in.base
	data := start
	if ext {
		data++
	}
	if w.in.ra != nil && n >= 4 {
		head := st.Peek(int(min(n, 3)))
		if ext && len(head) == 3 {
			head = head[1:]
		}
		if len(head) >= 2 && head[0] == opPROTO && head[1] >= 2 && head[1] <= 5 {
			size := int64(n) - (data - start)
			sub := w.s.regionAt(w.in.ra, data, size, w.in.l.child(fmt.Sprintf("msgpack bytes at %d", data), fileOffAdd(w.in.l.fileOff, data)))
			if err := w.s.scanRegion(w.ctx, sub); err != nil {
				return err
			}
		}
	}
	return w.skip(n)
}

// fileOffAdd is a file offset off bytes into a region at base (-1 stays -1).
func fileOffAdd(base, off int64) int64 {
	if base < 0 {
		return -1
	}
	return base + off
}

// ---- TensorFlow Lite ----

// A .tflite model is a FlatBuffer (identifier "TFL3"). Its operator_codes
// (Model field 1, a vector of OperatorCode tables: deprecated_builtin_code 0,
// custom_code 1, version 2, builtin_code 3) say which kernels the interpreter
// needs. Builtin operators are TensorFlow Lite's own; a CUSTOM (32) one runs
// native code the application registers, except the few TensorFlow Lite ships;
// a "Flex" custom op runs the TensorFlow op it names through the Flex delegate,
// which for file and Python ops reaches outside the model.

// tfliteCustomOK are the custom ops TensorFlow Lite's own builds register,
// and those MediaPipe's runtime registers for its published models.
var tfliteCustomOK = setOf("TFLite_Detection_PostProcess", "Mfcc", "AudioSpectrogram", "MaxUnpooling2D",
	"MaxPoolingWithArgmax2D", "Convolution2DTransposeBias", "Landmarks2TransformMatrix", "TransformLandmarks",
	"TransformTensorBilinear")

const tfliteBuiltinCustom = 32

// maxTFLiteOpcodes bounds the operator codes read from one model.
const maxTFLiteOpcodes = 1 << 14

func looksTFLite(head []byte) bool {
	return len(head) >= 8 && string(head[4:8]) == "TFL3" && binary.LittleEndian.Uint32(head) >= 8
}

// fbReader reads a FlatBuffer in place with bounds checks (the flatbuffers Go
// runtime trusts its input and panics on a bad offset).
type fbReader struct {
	ra   io.ReaderAt
	size int64
}

var errFB = errors.New("flatbuffer: offset out of range")

func (r fbReader) u32(off int64) (uint32, error) {
	var b [4]byte
	if off < 0 || off > r.size-4 {
		return 0, errFB
	}
	if _, err := r.ra.ReadAt(b[:], off); err != nil {
		return 0, errFB
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

func (r fbReader) u16(off int64) (uint16, error) {
	var b [2]byte
	if off < 0 || off > r.size-2 {
		return 0, errFB
	}
	if _, err := r.ra.ReadAt(b[:], off); err != nil {
		return 0, errFB
	}
	return binary.LittleEndian.Uint16(b[:]), nil
}

// field returns the position of field i of the table at t, or 0 when absent.
func (r fbReader) field(t int64, i int) (int64, error) {
	so, err := r.u32(t)
	if err != nil {
		return 0, err
	}
	vt := t - int64(int32(so))
	vsize, err := r.u16(vt)
	if err != nil {
		return 0, err
	}
	if 4+2*i+2 > int(vsize) {
		return 0, nil
	}
	fo, err := r.u16(vt + 4 + 2*int64(i))
	if err != nil || fo == 0 {
		return 0, err
	}
	return t + int64(fo), nil
}

// deref follows the uoffset stored at p.
func (r fbReader) deref(p int64) (int64, error) {
	o, err := r.u32(p)
	if err != nil {
		return 0, err
	}
	return p + int64(o), nil
}

func (r fbReader) str(p int64, maxLen int) (string, error) {
	s, err := r.deref(p)
	if err != nil {
		return "", err
	}
	n, err := r.u32(s)
	if err != nil || int64(n) > r.size-s-4 {
		return "", errFB
	}
	b := make([]byte, min(int(n), maxLen))
	if _, err := r.ra.ReadAt(b, s+4); err != nil {
		return "", errFB
	}
	return string(b), nil
}

// tfliteOpcode is one OperatorCode: its builtin code, and its name when custom.
type tfliteOpcode struct {
	builtin int64
	custom  string
}

// readTFLiteOpcodes reads a model's operator codes (at most maxTFLiteOpcodes;
// total is how many it declares). bad describes a structure that does not
// read.
func readTFLiteOpcodes(ctx context.Context, r fbReader) (codes []tfliteOpcode, total uint32, bad string, err error) {
	root, err := r.deref(0)
	if err != nil {
		return nil, 0, "root table offset lies past the end", nil
	}
	p, err := r.field(root, 1)
	if err != nil {
		return nil, 0, "model table is malformed", nil
	}
	if p == 0 {
		return nil, 0, "", nil // no operators
	}
	vec, err := r.deref(p)
	if err != nil {
		return nil, 0, "operator_codes offset lies past the end", nil
	}
	total, err = r.u32(vec)
	if err != nil || int64(total) > (r.size-vec-4)/4 {
		return nil, 0, "operator_codes vector runs past the end", nil
	}
	for i := range int64(min(total, maxTFLiteOpcodes)) {
		if err := ctx.Err(); err != nil {
			return nil, 0, "", err
		}
		malformed := fmt.Sprintf("operator code %d is malformed", i)
		t, err := r.deref(vec + 4 + 4*i)
		if err != nil {
			return nil, 0, fmt.Sprintf("operator code %d lies past the end", i), nil
		}
		var oc tfliteOpcode
		// deprecated_builtin_code (int8, field 0) and builtin_code (int32,
		// field 3): TensorFlow Lite takes the larger.
		if fp, err := r.field(t, 0); err != nil {
			return nil, 0, malformed, nil
		} else if fp != 0 {
			var b [1]byte
			if fp >= r.size {
				return nil, 0, malformed, nil
			}
			if _, err := r.ra.ReadAt(b[:], fp); err != nil {
				return nil, 0, malformed, nil
			}
			oc.builtin = int64(int8(b[0]))
		}
		if fp, err := r.field(t, 3); err != nil {
			return nil, 0, malformed, nil
		} else if fp != 0 {
			u, err := r.u32(fp)
			if err != nil {
				return nil, 0, malformed, nil
			}
			oc.builtin = max(oc.builtin, int64(int32(u)))
		}
		if fp, err := r.field(t, 1); err != nil {
			return nil, 0, malformed, nil
		} else if fp != 0 {
			if oc.custom, err = r.str(fp, 256); err != nil {
				return nil, 0, fmt.Sprintf("operator code %d's custom name lies past the end", i), nil
			}
		}
		codes = append(codes, oc)
	}
	return codes, total, "", nil
}

// scanTFLite reads the model's operator codes and reports custom operators.
func (s *scanner) scanTFLite(ctx context.Context, in region) error {
	if in.ra == nil || in.size < 0 {
		s.c.skip(in.l, "TensorFlow Lite model inside a compressed member cannot be read in place; not scanned")
		return nil
	}
	codes, total, bad, err := readTFLiteOpcodes(ctx, fbReader{ra: in.ra, size: in.size})
	if err != nil {
		return err
	}
	if bad != "" {
		s.c.add(in.l, ruleStructInvalid, -1, map[string]any{"format": string(fmtTFLite)}, "TensorFlow Lite model", bad)
		return nil
	}
	if total > maxTFLiteOpcodes {
		s.c.skip(in.l, "only the first %d of %d operator codes were checked", maxTFLiteOpcodes, total)
	}
	for _, oc := range codes {
		if oc.builtin == tfliteBuiltinCustom {
			s.tfliteCustom(in.l, oc.custom)
		}
	}
	return nil
}

// tfliteCustom reports one custom operator of a TFLite model.
func (s *scanner) tfliteCustom(l loc, name string) {
	if tfliteCustomOK[name] {
		return
	}
	if op, ok := strings.CutPrefix(name, "Flex"); ok {
		if cat := tfDangerousOps[op]; cat != "" {
			s.c.add(l, ruleTFLiteFlexOp, -1, map[string]any{"format": string(fmtTFLite), "op": quote(name, 100), "category": cat}, quote(op, 100), cat)
		}
		return // other Flex ops compute, as in a SavedModel
	}
	s.c.add(l, ruleTFLiteCustomOp, -1, map[string]any{"format": string(fmtTFLite), "op": quote(name, 100)}, quote(name, 100))
}
