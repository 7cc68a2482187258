package artifact

import (
	"context"
	"encoding/binary"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// protoWalk reads the fields of protobuf messages from a region's stream
// without holding the message in memory: the ONNX and SavedModel scanners share
// it and differ only in which length-delimited fields they look into. A
// malformed field, a length past the end of its message or nesting deeper than
// maxDepth is reported as a finding and ends the walk with stop.
type protoWalk struct {
	s        *scanner
	in       region
	format   string // evidence "format", e.g. "onnx"
	name     string // what a malformed-structure finding names, e.g. "ONNX"
	maxDepth int
	stop     error // returned after a finding ends the walk
}

// protoVisit is called for each length-delimited field of n bytes whose tag
// starts at off (relative to the region). It returns handled=false to have the
// walker skip the field's bytes; when it returns handled=true it has consumed
// exactly those n bytes itself.
type protoVisit func(num protowire.Number, n uint64, off int64) (handled bool, err error)

// fields reads fields at nesting depth up to stream offset end (-1: the end of
// the stream), skipping varint and fixed-size fields and passing every
// length-delimited one to visit.
func (p *protoWalk) fields(ctx context.Context, end int64, depth int, visit protoVisit) error {
	st := p.in.st
	if depth > p.maxDepth {
		p.s.c.add(p.in.l, ruleNestingTooDeep, st.Offset()-p.in.base, map[string]any{"format": p.format}, p.maxDepth)
		return p.stop
	}
	for end < 0 || st.Offset() < end {
		if end < 0 && st.atEnd() {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		fieldOff := st.Offset() - p.in.base
		tag, err := binary.ReadUvarint(st)
		if err != nil {
			return p.malformed(fieldOff, "truncated field tag")
		}
		num, typ := protowire.DecodeTag(tag)
		if num < protowire.MinValidNumber || num > protowire.MaxValidNumber {
			return p.malformed(fieldOff, fmt.Sprintf("invalid field number %d", num))
		}
		switch typ {
		case protowire.VarintType:
			if _, err := binary.ReadUvarint(st); err != nil {
				return p.malformed(fieldOff, "truncated varint")
			}
		case protowire.Fixed32Type:
			if err := st.Skip(4); err != nil {
				return p.malformed(fieldOff, "truncated fixed32")
			}
		case protowire.Fixed64Type:
			if err := st.Skip(8); err != nil {
				return p.malformed(fieldOff, "truncated fixed64")
			}
		case protowire.BytesType:
			n, err := binary.ReadUvarint(st)
			if err != nil {
				return p.malformed(fieldOff, "truncated length")
			}
			limit := st.remaining()
			if end >= 0 {
				limit = end - st.Offset()
			}
			if limit >= 0 && n > uint64(limit) {
				p.s.c.add(p.in.l, ruleStructPastEnd, fieldOff, map[string]any{"format": p.format, "field": int(num), "declared_length": n},
					p.name+" field", fmt.Sprintf("declares %d bytes but %d remain in its message", n, limit))
				return p.stop
			}
			handled, err := visit(num, n, fieldOff)
			if err != nil {
				return err
			}
			if handled {
				continue
			}
			if err := st.Skip(int64(n)); err != nil {
				return p.malformed(fieldOff, "truncated bytes")
			}
		default:
			return p.malformed(fieldOff, fmt.Sprintf("unsupported wire type %d", typ))
		}
	}
	return nil
}

// malformed reports a broken protobuf structure at off and ends the walk.
func (p *protoWalk) malformed(off int64, msg string) error {
	p.s.c.add(p.in.l, ruleStructInvalid, off, map[string]any{"format": p.format}, p.name+" protobuf", msg)
	return p.stop
}
