package artifact

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"

	"google.golang.org/protobuf/encoding/protowire"
)

// A TensorFlow SavedModel's saved_model.pb is a protobuf SavedModel: its graphs
// (and the functions in their libraries) are lists of NodeDefs, each naming an op
// that TensorFlow runs when the model is served. Most ops compute; a few read or
// write files, or call back into Python. The walk is the ONNX walker's: fields
// are read from a stream with protowire, descending only into the messages that
// hold nodes and seeking past the rest (constants included).

type tfMsg uint8

const (
	tfSavedModel tfMsg = iota
	tfMetaGraph
	tfGraph
	tfLibrary
	tfFunction
	tfNode
)

// tfChildren maps (message, field number) to the submessage that holds nodes:
// SavedModel.meta_graphs, MetaGraphDef.graph_def, GraphDef.node and .library,
// FunctionDefLibrary.function, FunctionDef.node_def.
var tfChildren = map[tfMsg]map[protowire.Number]tfMsg{
	tfSavedModel: {2: tfMetaGraph},
	tfMetaGraph:  {2: tfGraph},
	tfGraph:      {1: tfNode, 2: tfLibrary},
	tfLibrary:    {1: tfFunction},
	tfFunction:   {3: tfNode},
}

// tfDangerousOps are the ops that reach outside the graph: the file ops modelscan
// reports, ImmutableConst (maps a file named in the graph into memory), and the
// Python callbacks of tf.py_function and tf.numpy_function. The checkpoint ops
// every SavedModel carries (SaveV2, RestoreV2, MergeV2Checkpoints) take the path
// the loader gives them and are not listed.
var tfDangerousOps = map[string]string{
	"ReadFile":        "filesystem",
	"WriteFile":       "filesystem",
	"MatchingFiles":   "filesystem",
	"ImmutableConst":  "filesystem",
	"PyFunc":          "code_execution",
	"PyFuncStateless": "code_execution",
	"EagerPyFunc":     "code_execution",
}

// maxTFOps bounds the distinct op names remembered from one model.
const maxTFOps = 4096

// looksSavedModel recognises a SavedModel start: saved_model_schema_version
// (field 1, varint 1) and then a MetaGraphDef (field 2) whose own first field is
// a message. An ONNX model also starts with field 1 and often field 2, but its
// field 2 is the producer's name, text.
func looksSavedModel(head []byte) bool {
	num, typ, n := protowire.ConsumeTag(head)
	if n < 0 || num != 1 || typ != protowire.VarintType {
		return false
	}
	v, m := protowire.ConsumeVarint(head[n:])
	if m < 0 || v != 1 {
		return false
	}
	rest := head[n+m:]
	num, typ, k := protowire.ConsumeTag(rest)
	if k < 0 || num != 2 || typ != protowire.BytesType {
		return false
	}
	l, j := protowire.ConsumeVarint(rest[k:])
	if j < 0 || l < 2 || len(rest) <= k+j {
		return false
	}
	num, typ, _ = protowire.ConsumeTag(rest[k+j:])
	return num >= 1 && num <= 8 && typ == protowire.BytesType
}

type tfWalker struct {
	s   *scanner
	in  region
	ops map[string]bool
}

var errTFStop = errors.New("savedmodel: stop")

// scanSavedModel collects the op of every node in the model's graphs and
// function libraries and reports those in tfDangerousOps.
func (s *scanner) scanSavedModel(ctx context.Context, in region) error {
	w := &tfWalker{s: s, in: in, ops: map[string]bool{}}
	end := int64(-1)
	if in.size >= 0 {
		end = in.base + in.size
	}
	if err := w.walk(ctx, tfSavedModel, end, 0); err != nil && !errors.Is(err, errTFStop) {
		return err
	}
	found := make([]string, 0, len(w.ops))
	for op := range w.ops {
		if tfDangerousOps[op] != "" {
			found = append(found, op)
		}
	}
	sort.Strings(found)
	for _, op := range found {
		s.c.add(in.l, ruleTFDangerousOp, -1, map[string]any{"format": "savedmodel", "op": op, "category": tfDangerousOps[op]}, op, tfDangerousOps[op])
	}
	return nil
}

// walk reads the fields of message msg up to stream offset end (-1: the end).
func (w *tfWalker) walk(ctx context.Context, msg tfMsg, end int64, depth int) error {
	st := w.in.st
	if depth > 32 {
		w.s.c.add(w.in.l, ruleNestingTooDeep, st.Offset()-w.in.base, map[string]any{"format": "savedmodel"}, 32)
		return errTFStop
	}
	for end < 0 || st.Offset() < end {
		if end < 0 && st.atEnd() {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		fieldOff := st.Offset() - w.in.base
		tag, err := binary.ReadUvarint(st)
		if err != nil {
			return w.malformed(fieldOff, "truncated field tag")
		}
		num, typ := protowire.DecodeTag(tag)
		if num < protowire.MinValidNumber || num > protowire.MaxValidNumber {
			return w.malformed(fieldOff, fmt.Sprintf("invalid field number %d", num))
		}
		switch typ {
		case protowire.VarintType:
			if _, err := binary.ReadUvarint(st); err != nil {
				return w.malformed(fieldOff, "truncated varint")
			}
		case protowire.Fixed32Type, protowire.Fixed64Type:
			if err := st.Skip(map[protowire.Type]int64{protowire.Fixed32Type: 4, protowire.Fixed64Type: 8}[typ]); err != nil {
				return w.malformed(fieldOff, "truncated fixed-size field")
			}
		case protowire.BytesType:
			n, err := binary.ReadUvarint(st)
			if err != nil {
				return w.malformed(fieldOff, "truncated length")
			}
			limit := st.remaining()
			if end >= 0 {
				limit = end - st.Offset()
			}
			if limit >= 0 && n > uint64(limit) {
				w.s.c.add(w.in.l, ruleStructPastEnd, fieldOff, map[string]any{"format": "savedmodel", "field": int(num), "declared_length": n},
					"SavedModel field", fmt.Sprintf("declares %d bytes but %d remain in its message", n, limit))
				return errTFStop
			}
			if child, ok := tfChildren[msg][num]; ok {
				if err := w.walk(ctx, child, st.Offset()+int64(n), depth+1); err != nil {
					return err
				}
				continue
			}
			if msg == tfNode && num == 2 && n <= 256 { // NodeDef.op
				b, err := st.Next(int(n))
				if err != nil {
					return w.malformed(fieldOff, "truncated op name")
				}
				if len(w.ops) < maxTFOps || w.ops[string(b)] {
					w.ops[string(b)] = true
				} else if tfDangerousOps[string(b)] != "" {
					w.ops[string(b)] = true // a dangerous op is never dropped for the bound
				}
				continue
			}
			if err := st.Skip(int64(n)); err != nil {
				return w.malformed(fieldOff, "truncated bytes")
			}
		default:
			return w.malformed(fieldOff, fmt.Sprintf("unsupported wire type %d", typ))
		}
	}
	return nil
}

func (w *tfWalker) malformed(off int64, msg string) error {
	w.s.c.add(w.in.l, ruleStructInvalid, off, map[string]any{"format": "savedmodel"}, "SavedModel protobuf", msg)
	return errTFStop
}

// TensorFlow writes a SavedModel's variables as a tensor bundle: an index, which
// is a LevelDB-format table of entries giving each tensor's dtype, shape and place
// in the data shards, and the shards of raw tensor bytes. The index ends with
// the LevelDB table magic number; nothing in it is run. (The shards have no
// header to recognise them by and are reported as not scanned.)
var leveldbTableMagic = []byte{0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb}

// looksTensorBundleIndex reports whether size bytes of ra end with a LevelDB
// table footer: two block handles (offset and size varints) that lie inside the
// file, padding, and the magic number.
func looksTensorBundleIndex(ra io.ReaderAt, size int64) bool {
	if ra == nil || size < 48 {
		return false
	}
	var foot [48]byte
	if _, err := ra.ReadAt(foot[:], size-48); err != nil || string(foot[40:]) != string(leveldbTableMagic) {
		return false
	}
	b := foot[:40]
	for range 2 { // the metaindex and index block handles
		off, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return false
		}
		ln, m := protowire.ConsumeVarint(b[n:])
		if m < 0 || off > uint64(size) || ln > uint64(size) || off+ln+5 > uint64(size-48) {
			return false
		}
		b = b[n+m:]
	}
	return true
}

// looksTFFingerprint recognises a SavedModel's fingerprint.pb, a FingerprintDef:
// a small message of five hashes (fields 1–5, varints), a VersionDef (6) and a
// UUID string (7), read whole from head.
func looksTFFingerprint(head []byte, size int64) bool {
	if size != int64(len(head)) || size > 1024 || size < 2 || head[0] != 0x08 {
		return false
	}
	for b := head; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		switch {
		case num >= 1 && num <= 5 && typ == protowire.VarintType, (num == 6 || num == 7) && typ == protowire.BytesType:
		default:
			return false
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return false
		}
		b = b[n+m:]
	}
	return true
}
