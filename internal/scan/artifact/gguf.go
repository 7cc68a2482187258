package artifact

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"
)

// ggmlTypes gives (block size, bytes per block) for the tensor types whose layout
// is certain; others are not size-checked.
var ggmlTypes = map[uint32][2]uint64{
	0: {1, 4}, 1: {1, 2}, 2: {32, 18}, 3: {32, 20}, 6: {32, 22}, 7: {32, 24}, 8: {32, 34}, 9: {32, 36},
	10: {256, 84}, 11: {256, 110}, 12: {256, 144}, 13: {256, 176}, 14: {256, 210}, 15: {256, 292},
	16: {256, 66}, 17: {256, 74}, 18: {256, 98}, 19: {256, 50}, 20: {32, 18}, 21: {256, 110},
	22: {256, 82}, 23: {256, 136}, 24: {1, 1}, 25: {1, 2}, 26: {1, 4}, 27: {1, 8}, 28: {1, 8},
	29: {256, 56}, 30: {1, 2}, 35: {256, 66}, 39: {32, 17},
}

// ggufScalarSize is the byte width of GGUF metadata scalar types.
var ggufScalarSize = map[uint32]uint64{0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

const (
	ggufString       = 8
	ggufArray        = 9
	maxGGUFTensors   = 1 << 20
	maxTemplateBytes = 16 << 20
	ggufDefaultAlign = 32
)

type ggufTensor struct {
	name      string
	off, size uint64
	sizeKnown bool
}

// ggufReader reads GGUF's little-endian fields, reporting structure problems.
type ggufReader struct {
	s       *scanner
	in      region
	version uint32
}

var errGGUFStop = errors.New("gguf: stop")

func (g *ggufReader) u32() (uint32, error) {
	b, err := g.in.st.Next(4)
	if err != nil {
		return 0, g.truncated()
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (g *ggufReader) u64() (uint64, error) {
	if g.version == 1 {
		v, err := g.u32()
		return uint64(v), err
	}
	b, err := g.in.st.Next(8)
	if err != nil {
		return 0, g.truncated()
	}
	return binary.LittleEndian.Uint64(b), nil
}

func (g *ggufReader) truncated() error {
	g.s.c.add(g.in.l, ruleStructPastEnd, g.in.st.Offset()-g.in.base, map[string]any{"format": "gguf"}, "GGUF", "file ends inside its metadata")
	return errGGUFStop
}

// length checks a declared length against what remains.
func (g *ggufReader) length(what string, n, unit uint64) error {
	hi, total := bits.Mul64(n, unit)
	if rem := g.in.st.remaining(); hi != 0 || (rem >= 0 && total > uint64(rem)) {
		g.s.c.add(g.in.l, ruleStructHuge, g.in.st.Offset()-g.in.base, map[string]any{"format": "gguf", "declared": n},
			"GGUF "+what, fmt.Sprintf("declares %d entries/bytes, more than the file holds", n))
		return errGGUFStop
	}
	return nil
}

// str reads a string, keeping at most keep bytes (the rest is skipped).
func (g *ggufReader) str(what string, keep int) (string, error) {
	n, err := g.u64()
	if err != nil {
		return "", err
	}
	if err := g.length(what, n, 1); err != nil {
		return "", err
	}
	if n <= uint64(keep) {
		var sb strings.Builder
		for left := int(n); left > 0; {
			chunk := min(left, streamBufSize)
			b, err := g.in.st.Next(chunk)
			if err != nil {
				return "", g.truncated()
			}
			sb.Write(b)
			left -= chunk
		}
		return sb.String(), nil
	}
	if err := g.in.st.Skip(int64(n)); err != nil {
		return "", g.truncated()
	}
	return "", nil
}

// scanGGUF reads the metadata (checking chat templates) and the tensor table
// (checking every tensor lies inside the file without overlapping another).
func (s *scanner) scanGGUF(ctx context.Context, in region) error {
	g := &ggufReader{s: s, in: in}
	if _, err := in.st.Next(4); err != nil {
		return nil
	}
	v, err := g.u32()
	if err != nil {
		return nil
	}
	g.version = v
	if v < 1 || v > 3 {
		s.c.add(in.l, ruleStructInvalid, 4, map[string]any{"format": "gguf", "version": v}, "GGUF", fmt.Sprintf("unknown version %d", v))
		return nil
	}
	nTensors, err := g.u64()
	if err != nil {
		return nil
	}
	nKV, err := g.u64()
	if err != nil {
		return nil
	}
	if g.length("metadata count", nKV, 13) != nil || g.length("tensor count", nTensors, 24) != nil {
		return nil
	}
	align := uint64(ggufDefaultAlign)
	for i := uint64(0); i < nKV; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		key, err := g.str("metadata key", 1<<16)
		if err != nil {
			return nil
		}
		typ, err := g.u32()
		if err != nil {
			return nil
		}
		if typ == ggufString && strings.HasPrefix(key, "tokenizer.chat_template") {
			off := in.st.Offset() - in.base
			tmpl, err := g.str("chat template", maxTemplateBytes)
			if err != nil {
				return nil
			}
			s.checkTemplate(in.l, key, tmpl, off)
			continue
		}
		if key == "general.alignment" && typ == 4 {
			a, err := g.u32()
			if err != nil {
				return nil
			}
			if a == 0 || a&(a-1) != 0 {
				s.c.add(in.l, ruleStructInvalid, in.st.Offset()-in.base-4, map[string]any{"format": "gguf", "alignment": a}, "GGUF", "general.alignment is not a power of two")
				return nil
			}
			align = uint64(a)
			continue
		}
		if err := g.skipValue(typ, 0); err != nil {
			return nil
		}
	}
	tensors := make([]ggufTensor, 0, min(nTensors, 4096))
	for i := uint64(0); i < nTensors; i++ {
		name, err := g.str("tensor name", 256)
		if err != nil {
			return nil
		}
		nDims, err := g.u32()
		if err != nil {
			return nil
		}
		if nDims > 8 {
			s.c.add(in.l, ruleStructInvalid, in.st.Offset()-in.base-4, map[string]any{"format": "gguf", "tensor": name}, "GGUF tensor "+quote(name, 80), fmt.Sprintf("%d dimensions", nDims))
			return nil
		}
		elems, overflow := uint64(1), false
		var ne0 uint64
		for d := uint32(0); d < nDims; d++ {
			n, err := g.u64()
			if err != nil {
				return nil
			}
			if d == 0 {
				ne0 = n
			}
			hi, lo := bits.Mul64(elems, n)
			overflow = overflow || hi != 0
			elems = lo
		}
		typ, err := g.u32()
		if err != nil {
			return nil
		}
		off, err := g.u64()
		if err != nil {
			return nil
		}
		t := ggufTensor{name: name, off: off}
		if lay, ok := ggmlTypes[typ]; ok {
			if overflow {
				s.c.add(in.l, ruleStructHuge, -1, map[string]any{"format": "gguf", "tensor": name}, "GGUF tensor "+quote(name, 80), "element count overflows")
				continue
			}
			if nDims > 0 && ne0%lay[0] != 0 {
				s.c.add(in.l, ruleStructInvalid, -1, map[string]any{"format": "gguf", "tensor": name}, "GGUF tensor "+quote(name, 80), "first dimension is not a multiple of the block size")
			} else {
				t.size, t.sizeKnown = elems/lay[0]*lay[1], true
			}
		}
		if off%align != 0 {
			s.c.add(in.l, ruleStructInvalid, -1, map[string]any{"format": "gguf", "tensor": name, "offset": off}, "GGUF tensor "+quote(name, 80), "data offset is not aligned")
		}
		if len(tensors) < maxGGUFTensors {
			tensors = append(tensors, t)
		} else if len(tensors) == maxGGUFTensors {
			s.c.skip(in.l, "tensor table has more than %d entries; the rest were not range-checked", maxGGUFTensors)
		}
	}
	if in.size < 0 {
		return nil
	}
	infoEnd := uint64(in.st.Offset() - in.base)
	dataStart := (infoEnd + align - 1) / align * align
	dataLen := uint64(0)
	if uint64(in.size) > dataStart {
		dataLen = uint64(in.size) - dataStart
	}
	slices.SortFunc(tensors, func(a, b ggufTensor) int { return cmp.Compare(a.off, b.off) })
	var prevEnd uint64
	var prevName string
	for _, t := range tensors {
		if t.off < prevEnd {
			s.c.add(in.l, ruleStructOverlap, -1, map[string]any{"format": "gguf", "tensor": t.name, "other_tensor": prevName},
				"GGUF tensors "+quote(prevName, 60)+" and "+quote(t.name, 60), "data ranges overlap")
		}
		if !t.sizeKnown {
			continue
		}
		end, carry := bits.Add64(t.off, t.size, 0)
		if carry != 0 || end > dataLen {
			s.c.add(in.l, ruleStructPastEnd, -1, map[string]any{"format": "gguf", "tensor": t.name, "offset": t.off, "size": t.size, "data_length": dataLen},
				"GGUF tensor "+quote(t.name, 80), "data lies past the end of the file")
		}
		if end > prevEnd {
			prevEnd, prevName = end, t.name
		}
	}
	return nil
}

// skipValue skips one metadata value of type typ.
func (g *ggufReader) skipValue(typ uint32, depth int) error {
	if w, ok := ggufScalarSize[typ]; ok {
		if err := g.in.st.Skip(int64(w)); err != nil {
			return g.truncated()
		}
		return nil
	}
	switch typ {
	case ggufString:
		_, err := g.str("string value", 0)
		return err
	case ggufArray:
		if depth >= g.s.opts.MaxNesting {
			g.s.c.add(g.in.l, ruleNestingTooDeep, g.in.st.Offset()-g.in.base, map[string]any{"format": "gguf"}, g.s.opts.MaxNesting)
			return errGGUFStop
		}
		et, err := g.u32()
		if err != nil {
			return err
		}
		n, err := g.u64()
		if err != nil {
			return err
		}
		if w, ok := ggufScalarSize[et]; ok {
			if err := g.length("array", n, w); err != nil {
				return err
			}
			if err := g.in.st.Skip(int64(n * w)); err != nil {
				return g.truncated()
			}
			return nil
		}
		minSize := uint64(8)
		if g.version == 1 {
			minSize = 4
		}
		if err := g.length("array", n, minSize); err != nil {
			return err
		}
		for i := uint64(0); i < n; i++ {
			if err := g.skipValue(et, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	g.s.c.add(g.in.l, ruleStructInvalid, g.in.st.Offset()-g.in.base-4, map[string]any{"format": "gguf", "value_type": typ}, "GGUF metadata", fmt.Sprintf("unknown value type %d", typ))
	return errGGUFStop
}
