package artifact

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protowire"
)

// Core ML models (model.mlmodel, alone or in an .mlpackage with
// Manifest.json and weights/weight.bin) are protobuf Model messages: a
// description, then one model type. Core ML runs no code from the file; a
// custom model or a neural network's custom layer names an Objective-C/Swift
// class that the application must provide, which is reported like other
// custom operators. ML Program weights (weight.bin) are a blob store: a
// 64-byte header (count, version 2), then for each blob 64 bytes of metadata
// (sentinel 0xDEADBEEF, data type, size, offset) and its data.

const (
	fmtCoreML     format = "coreml"
	fmtCoreMLBlob format = "coreml weights"
)

type cmlMsg uint8

const (
	cmlModel cmlMsg = iota
	cmlPipeline
	cmlPipelineWrap
	cmlNN
	cmlLayer
	cmlCustom
)

// cmlChildren maps (message, field) to the submessages that can hold custom
// classes: Model.pipeline* (200–202), .neuralNetwork* (303, 403, 500) and
// .customModel (555); Pipeline.models (1); PipelineClassifier/Regressor.pipeline
// (1); NeuralNetwork*.layers (1); NeuralNetworkLayer.custom (500).
var cmlChildren = map[cmlMsg]map[protowire.Number]cmlMsg{
	cmlModel:        {200: cmlPipelineWrap, 201: cmlPipelineWrap, 202: cmlPipeline, 303: cmlNN, 403: cmlNN, 500: cmlNN, 555: cmlCustom},
	cmlPipelineWrap: {1: cmlPipeline},
	cmlPipeline:     {1: cmlModel},
	cmlNN:           {1: cmlLayer},
	cmlLayer:        {500: cmlCustom},
}

// looksCoreML: specificationVersion (field 1, a small varint), then the
// description (field 2) whose first field is an input (1) whose first field is
// its name (1). An ONNX model also starts with fields 1 and 2, but its field 2
// is the producer's name, text.
func looksCoreML(head []byte) bool {
	rest, ok := afterSmallVersion(head)
	if !ok {
		return false
	}
	num, typ, k := protowire.ConsumeTag(rest)
	if k < 0 || num != 2 || typ != protowire.BytesType {
		return false
	}
	_, j := protowire.ConsumeVarint(rest[k:])
	if j < 0 || len(rest) < k+j+3 {
		return false
	}
	d := rest[k+j:]
	if d[0] != 0x0a {
		return false
	}
	_, j = protowire.ConsumeVarint(d[1:])
	return j > 0 && len(d) > 1+j && d[1+j] == 0x0a
}

type cmlWalker struct {
	protoWalk
	classes map[string]bool
}

var errCMLStop = errors.New("coreml: stop")

// scanCoreML reports the custom classes a Core ML model needs.
func (s *scanner) scanCoreML(ctx context.Context, in region) error {
	w := &cmlWalker{protoWalk: protoWalk{s: s, in: in, format: string(fmtCoreML), name: "Core ML model", maxDepth: 32, stop: errCMLStop}, classes: map[string]bool{}}
	end := int64(-1)
	if in.size >= 0 {
		end = in.base + in.size
	}
	if err := w.walk(ctx, cmlModel, end, 0); err != nil && !errors.Is(err, errCMLStop) {
		return err
	}
	for c := range w.classes {
		s.c.add(in.l, ruleCoreMLCustom, -1, map[string]any{"format": string(fmtCoreML), "class": c}, c)
	}
	return nil
}

func (w *cmlWalker) walk(ctx context.Context, msg cmlMsg, end int64, depth int) error {
	st := w.in.st
	return w.fields(ctx, end, depth, func(num protowire.Number, n uint64, off int64) (bool, error) {
		if child, ok := cmlChildren[msg][num]; ok {
			return true, w.walk(ctx, child, st.Offset()+int64(n), depth+1)
		}
		if msg == cmlCustom && num == 10 && n <= 256 { // className
			b, err := st.Next(int(n))
			if err != nil {
				return true, w.malformed(off, "truncated class name")
			}
			if len(w.classes) < 256 {
				w.classes[quote(string(b), 100)] = true
			}
			return true, nil
		}
		return false, nil
	})
}

// milBlobSentinel opens each blob's metadata in a Core ML weight.bin.
const milBlobSentinel = 0xdeadbeef

// looksMILBlob: the blob store header (a count, version 2) and the first
// blob's sentinel at offset 64.
func looksMILBlob(head []byte) bool {
	return len(head) >= 128 && binary.LittleEndian.Uint32(head[4:]) == 2 && binary.LittleEndian.Uint32(head) >= 1 &&
		binary.LittleEndian.Uint32(head[64:]) == milBlobSentinel
}

// scanMILBlob walks the blob store: every blob's metadata where the previous
// blob ends (64-byte aligned), its data inside the file.
func (s *scanner) scanMILBlob(ctx context.Context, in region) error {
	if in.ra == nil || in.size < 0 {
		s.c.skip(in.l, "Core ML weights inside a compressed member cannot be read in place; not scanned")
		return nil
	}
	var hdr [8]byte
	if in.size < 128 {
		s.c.add(in.l, ruleStructInvalid, -1, map[string]any{"format": string(fmtCoreMLBlob)}, "Core ML weights", "shorter than its header and first blob's metadata")
		return nil
	}
	if _, err := in.ra.ReadAt(hdr[:], 0); err != nil {
		return fmt.Errorf("read %s: %w", in.l.where(), err)
	}
	count := int64(binary.LittleEndian.Uint32(hdr[:]))
	ev := map[string]any{"format": string(fmtCoreMLBlob)}
	pos := int64(64)
	var meta [64]byte
	for i := range count {
		if i%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if pos > in.size-64 {
			s.c.add(in.l, ruleStructPastEnd, pos, ev, "Core ML weights", fmt.Sprintf("blob %d of %d: its metadata lies past the end of the %d-byte file", i, count, in.size))
			return nil
		}
		if _, err := in.ra.ReadAt(meta[:], pos); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read %s: %w", in.l.where(), err)
		}
		if binary.LittleEndian.Uint32(meta[:]) != milBlobSentinel {
			s.c.add(in.l, ruleStructInvalid, pos, ev, "Core ML weights", fmt.Sprintf("blob %d has no metadata sentinel", i))
			return nil
		}
		size := binary.LittleEndian.Uint64(meta[8:])
		off := binary.LittleEndian.Uint64(meta[16:])
		if off < uint64(pos+64) || off > uint64(in.size) || size > uint64(in.size)-off {
			s.c.add(in.l, ruleStructPastEnd, pos, ev, "Core ML weights", fmt.Sprintf("blob %d places %d bytes at offset %d, outside the %d-byte file", i, size, off, in.size))
			return nil
		}
		pos = int64(off+size+63) &^ 63
	}
	return nil
}
