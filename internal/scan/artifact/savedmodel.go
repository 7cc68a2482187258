package artifact

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

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
// (field 1, varint 1, which a writer may leave out) and then a MetaGraphDef
// (field 2) whose own first field is a message. An ONNX model also starts with
// field 1 and often field 2, but its field 2 is the producer's name, text.
func looksSavedModel(head []byte) bool {
	num, typ, n := protowire.ConsumeTag(head)
	if n < 0 {
		return false
	}
	if num == 1 && typ == protowire.VarintType {
		v, m := protowire.ConsumeVarint(head[n:])
		if m < 0 || v != 1 {
			return false
		}
		head = head[n+m:]
		if num, typ, n = protowire.ConsumeTag(head); n < 0 {
			return false
		}
	}
	if num != 2 || typ != protowire.BytesType {
		return false
	}
	l, j := protowire.ConsumeVarint(head[n:])
	if j < 0 || l < 2 || len(head) <= n+j {
		return false
	}
	num, typ, _ = protowire.ConsumeTag(head[n+j:])
	return num >= 1 && num <= 8 && typ == protowire.BytesType
}

// fmtGraphDef is a bare TensorFlow GraphDef (a TF1 frozen graph,
// frozen_inference_graph.pb): the graph a SavedModel holds, on its own.
const fmtGraphDef format = "tensorflow graphdef"

// looksGraphDef recognises a GraphDef start: a NodeDef (field 1) whose first
// fields are its name (1) and its op (2), an identifier.
func looksGraphDef(head []byte) bool {
	num, typ, n := protowire.ConsumeTag(head)
	if n < 0 || num != 1 || typ != protowire.BytesType {
		return false
	}
	l, m := protowire.ConsumeVarint(head[n:])
	if m < 0 || l < 4 {
		return false
	}
	node := head[n+m:]
	if uint64(len(node)) > l {
		node = node[:l]
	}
	num, typ, k := protowire.ConsumeTag(node)
	if k < 0 || num != 1 || typ != protowire.BytesType {
		return false
	}
	name, j := protowire.ConsumeBytes(node[k:])
	if j < 0 || len(name) == 0 || !utf8.Valid(name) {
		return false
	}
	node = node[k+j:]
	num, typ, k = protowire.ConsumeTag(node)
	if k < 0 || num != 2 || typ != protowire.BytesType {
		return false
	}
	op, j := protowire.ConsumeBytes(node[k:])
	if j < 0 || len(op) == 0 || len(op) > 128 {
		return false
	}
	for i, c := range op {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// scanGraphDef reports the dangerous ops of a bare GraphDef, as for a
// SavedModel's graphs.
func (s *scanner) scanGraphDef(ctx context.Context, in region) error {
	return s.scanTFGraph(ctx, in, tfGraph, string(fmtGraphDef))
}

type tfWalker struct {
	protoWalk
	ops map[string]bool
}

var errTFStop = errors.New("savedmodel: stop")

// scanSavedModel collects the op of every node in the model's graphs and
// function libraries and reports those in tfDangerousOps.
func (s *scanner) scanSavedModel(ctx context.Context, in region) error {
	return s.scanTFGraph(ctx, in, tfSavedModel, "savedmodel")
}

// scanTFGraph walks a SavedModel or GraphDef (root) and reports the dangerous
// ops of its graphs and functions.
func (s *scanner) scanTFGraph(ctx context.Context, in region, root tfMsg, formatName string) error {
	w := &tfWalker{protoWalk: protoWalk{s: s, in: in, format: formatName, name: "SavedModel", maxDepth: 32, stop: errTFStop}, ops: map[string]bool{}}
	if root == tfGraph {
		w.name = "TensorFlow GraphDef"
	}
	end := int64(-1)
	if in.size >= 0 {
		end = in.base + in.size
	}
	if err := w.walk(ctx, root, end, 0); err != nil && !errors.Is(err, errTFStop) {
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
		s.c.add(in.l, ruleTFDangerousOp, -1, map[string]any{"format": formatName, "op": op, "category": tfDangerousOps[op]}, op, tfDangerousOps[op])
	}
	return nil
}

// walk reads the fields of message msg up to stream offset end (-1: the end).
func (w *tfWalker) walk(ctx context.Context, msg tfMsg, end int64, depth int) error {
	st := w.in.st
	return w.fields(ctx, end, depth, func(num protowire.Number, n uint64, fieldOff int64) (bool, error) {
		if child, ok := tfChildren[msg][num]; ok {
			return true, w.walk(ctx, child, st.Offset()+int64(n), depth+1)
		}
		if msg == tfNode && num == 2 && n <= 256 { // NodeDef.op
			b, err := st.Next(int(n))
			if err != nil {
				return true, w.malformed(fieldOff, "truncated op name")
			}
			if len(w.ops) < maxTFOps || w.ops[string(b)] {
				w.ops[string(b)] = true
			} else if tfDangerousOps[string(b)] != "" {
				w.ops[string(b)] = true // a dangerous op is never dropped for the bound
			}
			return true, nil
		}
		return false, nil
	})
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

// fmtKerasMetadata is keras_metadata.pb, which tf_keras (Keras 2) writes
// beside saved_model.pb: a SavedMetadata message of SavedObjects (node_path 3,
// identifier 4, metadata 5), each metadata a layer's Keras config as JSON,
// Lambda layers' marshalled code included. Keras rebuilds the model from it.
const fmtKerasMetadata format = "keras metadata"

// looksKerasMetadata: a first node (field 1) whose identifier (field 4),
// reached through node_id (2) and node_path (3), starts with "_tf_keras".
func looksKerasMetadata(head []byte) bool {
	num, typ, n := protowire.ConsumeTag(head)
	if n < 0 || num != 1 || typ != protowire.BytesType {
		return false
	}
	_, m := protowire.ConsumeVarint(head[n:])
	if m < 0 {
		return false
	}
	b := head[n+m:]
	for range 3 {
		num, typ, k := protowire.ConsumeTag(b)
		if k < 0 {
			return false
		}
		b = b[k:]
		switch {
		case num == 2 && typ == protowire.VarintType:
			_, j := protowire.ConsumeVarint(b)
			if j < 0 {
				return false
			}
			b = b[j:]
		case num == 3 && typ == protowire.BytesType:
			_, j := protowire.ConsumeBytes(b)
			if j < 0 {
				return false
			}
			b = b[j:]
		case num == 4 && typ == protowire.BytesType:
			v, j := protowire.ConsumeBytes(b)
			return j > 0 && strings.HasPrefix(string(v), "_tf_keras")
		default:
			return false
		}
	}
	return false
}

// scanKerasMetadata checks each node's Keras config as the Keras scanner
// checks a .keras file's config.json.
func (s *scanner) scanKerasMetadata(ctx context.Context, in region) error {
	w := protoWalk{s: s, in: in, format: string(fmtKerasMetadata), name: "Keras metadata", maxDepth: 1, stop: errTFStop}
	end := int64(-1)
	if in.size >= 0 {
		end = in.base + in.size
	}
	err := w.fields(ctx, end, 0, func(num protowire.Number, n uint64, off int64) (bool, error) {
		if num != 1 {
			return false, nil
		}
		if n > maxConfigBytes {
			s.c.skip(in.l, "Keras metadata node at %d is %d bytes, more than the %d-byte limit; not scanned", off, n, maxConfigBytes)
			return false, nil
		}
		node, err := in.st.Next(int(n))
		if err != nil {
			return true, w.malformed(off, "truncated node")
		}
		for b := node; len(b) > 0; {
			fn, ft, k := protowire.ConsumeTag(b)
			if k < 0 {
				return true, w.malformed(off, "malformed node field")
			}
			b = b[k:]
			j := protowire.ConsumeFieldValue(fn, ft, b)
			if j < 0 {
				return true, w.malformed(off, "malformed node field")
			}
			if fn == 5 && ft == protowire.BytesType {
				meta, _ := protowire.ConsumeBytes(b)
				var v any
				if err := json.Unmarshal(meta, &v); err != nil {
					s.c.skip(in.l, "Keras metadata node at %d: JSON does not parse (%v); not scanned", off, err)
				} else {
					s.walkKeras(ctx, in.l, v, "", off, false, 0)
				}
			}
			b = b[j:]
		}
		return true, nil
	})
	if err != nil && !errors.Is(err, errTFStop) {
		return err
	}
	return nil
}
