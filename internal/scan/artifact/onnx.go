package artifact

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// ONNX is protobuf. Rather than generated code (which would read a whole model,
// initializers included, into memory), the scanner walks fields with protowire
// over a stream: it descends only into the messages that can carry operator
// domains or external data references and seeks past everything else.

type onnxMsg uint8

const (
	onnxModel onnxMsg = iota
	onnxGraph
	onnxNode
	onnxAttribute
	onnxTensor
	onnxSparseTensor
	onnxOpset
	onnxFunction
	onnxTraining
	onnxStringEntry
)

// onnxChildren maps (message, field number) to the submessage to descend into.
var onnxChildren = map[onnxMsg]map[protowire.Number]onnxMsg{
	onnxModel:        {7: onnxGraph, 8: onnxOpset, 25: onnxFunction, 20: onnxTraining},
	onnxTraining:     {1: onnxGraph, 3: onnxGraph},
	onnxGraph:        {1: onnxNode, 5: onnxTensor, 15: onnxSparseTensor},
	onnxNode:         {5: onnxAttribute},
	onnxAttribute:    {5: onnxTensor, 6: onnxGraph, 10: onnxTensor, 11: onnxGraph, 22: onnxSparseTensor, 23: onnxSparseTensor},
	onnxSparseTensor: {1: onnxTensor, 2: onnxTensor},
	onnxFunction:     {4: onnxNode, 9: onnxOpset},
	onnxTensor:       {13: onnxStringEntry},
}

// onnxStrings are the string fields read (bounded) from each message.
var onnxStrings = map[onnxMsg]map[protowire.Number]string{
	onnxNode:        {4: "op_type", 7: "domain", 3: "name"},
	onnxOpset:       {1: "domain"},
	onnxFunction:    {1: "name", 10: "domain"},
	onnxTensor:      {8: "name"},
	onnxStringEntry: {1: "key", 2: "value"},
}

// standardONNXDomains are the operator sets ONNX Runtime implements itself.
var standardONNXDomains = setOf("", "ai.onnx", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training",
	"com.microsoft", "com.microsoft.nchwc", "com.microsoft.experimental", "com.ms.internal.nhwc", "com.microsoft.dml")

// ortxDomain is onnxruntime-extensions' operator domain. Its own operators
// (tokenizers, string, audio and image kernels, listed from the 0.15.2 wheel's
// library) are native code of that package: a model using them carries no
// code. Other operators there are Python functions (PyOp / onnx_op) or the
// Azure and OpenAI operators that call out to the network, so they remain
// custom-domain findings.
const ortxDomain = "ai.onnx.contrib"

var ortxNativeOps = setOf("AudioDecoder", "AudioDecoderEx", "BertPreTokenizer", "BertTokenizer",
	"BertTokenizerDecoder", "BlingFireSentenceBreaker", "BpeDecoder", "CLIPTokenizer", "DecodeImage",
	"DrawBoundingBoxes", "EncodeImage", "GaussianBlur", "GPT2Tokenizer", "HfJsonTokenizer", "ImageDecoder",
	"ImageReader", "Inverse", "MaskedFill", "MergeSignalSegments", "NegPos", "RaggedTensorToDense",
	"RaggedTensorToSparse", "RobertaTokenizer", "SegmentExtraction", "SegmentSum", "SentencepieceDecoder",
	"SentencepieceTokenizer", "SplitSignalSegments", "SpmTokenizer", "StftNorm", "StringConcat",
	"StringECMARegexReplace", "StringECMARegexSplitWithOffsets", "StringEqual", "StringJoin", "StringLength",
	"StringLower", "StringMapping", "StringRaggedTensorToDense", "StringRegexReplace",
	"StringRegexSplitWithOffsets", "StringSplit", "StringStrip", "StringToHashBucket",
	"StringToHashBucketFast", "StringToVector", "StringUpper", "TrieDetokenizer", "TrieTokenizer",
	"VectorToString", "WordpieceTokenizer")

type onnxWalker struct {
	protoWalk
	localDoms map[string]bool // domains of model-local functions
	nodeDoms  map[string]string
	collect   bool      // gather external data references into refs
	ext       *dataRef  // the tensor being read, when collecting
	refs      []dataRef // external data references (datafiles.go)
}

var errONNXStop = errors.New("onnx: stop")

// afterSmallVersion returns the bytes after a message's first field when that
// is field 1, a varint from 1 to 64 (ONNX's ir_version, Core ML's
// specificationVersion); ok is false otherwise.
func afterSmallVersion(head []byte) (rest []byte, ok bool) {
	num, typ, n := protowire.ConsumeTag(head)
	if n < 0 || num != 1 || typ != protowire.VarintType {
		return nil, false
	}
	v, m := protowire.ConsumeVarint(head[n:])
	if m < 0 || v == 0 || v > 64 {
		return nil, false
	}
	return head[n+m:], true
}

// looksONNX recognises a ModelProto start: ir_version (field 1, varint, small)
// followed by another valid ModelProto field.
func looksONNX(head []byte) bool {
	rest, ok := afterSmallVersion(head)
	if !ok {
		return false
	}
	num, typ, k := protowire.ConsumeTag(rest)
	if k < 0 {
		return false
	}
	switch num {
	case 2, 3, 4, 6, 7, 8, 14, 20, 25:
		return typ == protowire.BytesType
	case 5:
		return typ == protowire.VarintType
	}
	return false
}

// scanONNX walks the model and reports custom operator domains and external data
// paths that leave the model's folder.
func (s *scanner) scanONNX(ctx context.Context, in region) error {
	w := &onnxWalker{protoWalk: protoWalk{s: s, in: in, format: "onnx", name: "ONNX", maxDepth: 64, stop: errONNXStop},
		localDoms: map[string]bool{}, nodeDoms: map[string]string{}}
	end := int64(-1)
	if in.size >= 0 {
		end = in.base + in.size
	}
	err := w.walk(ctx, onnxModel, end, 0)
	if err != nil && !errors.Is(err, errONNXStop) {
		return err
	}
	for dom, op := range w.nodeDoms {
		if standardONNXDomains[dom] || w.localDoms[dom] {
			continue
		}
		s.c.add(in.l, ruleONNXCustomDomain, -1, map[string]any{"format": "onnx", "domain": dom, "op_type": op}, quote(dom, 100))
	}
	return nil
}

// walk reads fields of message kind msg until the stream offset reaches end
// (-1: end of stream).
func (w *onnxWalker) walk(ctx context.Context, msg onnxMsg, end int64, depth int) error {
	st := w.in.st
	var op, dom, key, val string
	var domSet bool
	if msg == onnxTensor && w.collect {
		prev := w.ext
		w.ext = &dataRef{length: -1}
		defer func() {
			if w.ext.location != "" && len(w.refs) < maxDataRefs {
				w.refs = append(w.refs, *w.ext)
			}
			w.ext = prev
		}()
	}
	err := w.fields(ctx, end, depth, func(num protowire.Number, n uint64, fieldOff int64) (bool, error) {
		if child, ok := onnxChildren[msg][num]; ok {
			return true, w.walk(ctx, child, st.Offset()+int64(n), depth+1)
		}
		name, ok := onnxStrings[msg][num]
		if !ok || n > 4096 {
			return false, nil
		}
		b, err := st.Next(int(n))
		if err != nil {
			return true, w.malformed(fieldOff, "truncated string")
		}
		v := string(b)
		switch name {
		case "op_type":
			op = v
		case "domain":
			dom, domSet = v, true
		case "key":
			key = v
		case "value":
			val = v
		case "name":
			if msg == onnxTensor && w.ext != nil {
				w.ext.name = v
			}
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	switch msg {
	case onnxNode:
		if dom == ortxDomain && ortxNativeOps[op] {
			break // onnxruntime-extensions' own kernels: no code from the model
		}
		if _, ok := w.nodeDoms[dom]; !ok && len(w.nodeDoms) < 1024 {
			w.nodeDoms[dom] = op
		}
	case onnxFunction:
		if domSet {
			w.localDoms[dom] = true
		}
	case onnxStringEntry:
		if key == "location" {
			w.checkExternal(val)
		}
		if w.ext != nil {
			switch key {
			case "location":
				w.ext.location = val
			case "offset":
				w.ext.offset = parseRefInt(val)
			case "length":
				w.ext.length = parseRefInt(val)
			}
		}
	}
	return nil
}

// checkExternal reports external data locations that are absolute, climb out of
// the model's folder, or name devices and URLs: ONNX Runtime resolves them
// relative to the model, so such a path reads files the model does not own.
func (w *onnxWalker) checkExternal(p string) {
	if !unsafeMemberName(p) && !strings.HasPrefix(p, "~") && !strings.Contains(p, "://") && !strings.HasPrefix(strings.ToLower(p), "file:") {
		return
	}
	w.s.c.add(w.in.l, ruleONNXExternalPath, -1, map[string]any{"format": "onnx", "location": quote(p, 200)}, quote(p, 200))
}

// parseRefInt reads an external data offset or length; a malformed one is -2,
// which lies outside any file.
func parseRefInt(v string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return -2
	}
	return n
}

// fmtONNXTensor is a serialized TensorProto on its own: the input_N.pb and
// output_N.pb files of ONNX test data sets (test_data_set_0/ beside a model).
const fmtONNXTensor format = "onnx tensor"

// onnxTensorWire gives the wire types TensorProto's fields may have (packed
// repeated numbers are length-delimited too).
var onnxTensorWire = map[protowire.Number][]protowire.Type{
	1: {protowire.VarintType, protowire.BytesType}, 2: {protowire.VarintType}, 3: {protowire.BytesType},
	4: {protowire.Fixed32Type, protowire.BytesType}, 5: {protowire.VarintType, protowire.BytesType},
	6: {protowire.BytesType}, 7: {protowire.VarintType, protowire.BytesType}, 8: {protowire.BytesType},
	9: {protowire.BytesType}, 10: {protowire.Fixed64Type, protowire.BytesType}, 11: {protowire.VarintType, protowire.BytesType},
	12: {protowire.BytesType}, 13: {protowire.BytesType}, 14: {protowire.VarintType}, 16: {protowire.BytesType},
}

// looksONNXTensor: a TensorProto that opens with dims (1) or data_type (2)
// and whose fields, as far as head shows them, are all TensorProto's, with a
// data_type among ONNX's (1–23) and some data or a name.
func looksONNXTensor(head []byte) bool {
	num, _, n := protowire.ConsumeTag(head)
	if n < 0 || num != 1 && num != 2 {
		return false
	}
	dtype, payload := false, false
	for b := head; len(b) > 0; {
		num, typ, k := protowire.ConsumeTag(b)
		if k < 0 || !slices.Contains(onnxTensorWire[num], typ) {
			return false
		}
		m := protowire.ConsumeFieldValue(num, typ, b[k:])
		if m < 0 {
			return (typ == protowire.BytesType) && dtype // a field that runs past what was sniffed
		}
		if num == 2 {
			v, _ := protowire.ConsumeVarint(b[k:])
			if v < 1 || v > 23 {
				return false
			}
			dtype = true
		} else if num >= 4 {
			payload = true
		}
		b = b[k+m:]
	}
	return dtype && payload
}

// scanONNXTensor walks the tensor as the ONNX scanner walks initializers:
// external data locations that leave the folder are reported.
func (s *scanner) scanONNXTensor(ctx context.Context, in region) error {
	w := &onnxWalker{protoWalk: protoWalk{s: s, in: in, format: string(fmtONNXTensor), name: "ONNX tensor", maxDepth: 8, stop: errONNXStop},
		localDoms: map[string]bool{}, nodeDoms: map[string]string{}}
	end := int64(-1)
	if in.size >= 0 {
		end = in.base + in.size
	}
	if err := w.walk(ctx, onnxTensor, end, 0); err != nil && !errors.Is(err, errONNXStop) {
		return err
	}
	return nil
}
