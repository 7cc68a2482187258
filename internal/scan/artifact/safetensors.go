package artifact

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
)

// safetensorsDtypeBits is the width of each dtype the format defines.
var safetensorsDtypeBits = map[string]uint64{
	"BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "I16": 16, "U16": 16,
	"F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "F64": 64, "I64": 64, "U64": 64,
	"C64": 64, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}

type stTensor struct {
	name       string
	begin, end uint64
}

// scanSafetensors validates a safetensors header: its length, JSON, duplicate
// keys, dtypes, shapes against byte ranges, ranges against the file, overlaps and
// coverage. Tensor data is never read.
func (s *scanner) scanSafetensors(ctx context.Context, in region) error {
	ev := func(extra map[string]any) map[string]any {
		m := map[string]any{"format": "safetensors"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	b, err := in.st.Next(8)
	if err != nil {
		s.c.add(in.l, ruleStructInvalid, 0, ev(nil), "safetensors", "truncated header length")
		return nil
	}
	n := binary.LittleEndian.Uint64(b)
	if rem := in.st.remaining(); rem >= 0 && n > uint64(rem) {
		s.c.add(in.l, ruleStructPastEnd, 0, ev(map[string]any{"header_length": n, "remaining": rem}), "safetensors header",
			fmt.Sprintf("declares %d header bytes but %d remain", n, rem))
		return nil
	}
	if n > uint64(s.opts.MaxHeaderBytes) {
		s.c.add(in.l, ruleStructHuge, 0, ev(map[string]any{"header_length": n}), "safetensors header",
			fmt.Sprintf("declares %d header bytes (limit %d)", n, s.opts.MaxHeaderBytes))
		return nil
	}
	dec := json.NewDecoder(io.LimitReader(in.st, int64(n)))
	dec.UseNumber()
	tensors, ok := s.readSafetensorsHeader(dec, in.l, ev)
	if !ok {
		return nil
	}
	if in.size < 0 {
		return nil
	}
	dataLen := uint64(in.size) - 8 - n
	slices.SortFunc(tensors, func(a, b stTensor) int { return cmp.Or(cmp.Compare(a.begin, b.begin), cmp.Compare(a.end, b.end)) })
	var covered uint64
	for i, t := range tensors {
		if t.end > dataLen {
			s.c.add(in.l, ruleStructPastEnd, -1, ev(map[string]any{"tensor": t.name, "data_offsets": []uint64{t.begin, t.end}, "data_length": dataLen}),
				"safetensors tensor "+quote(t.name, 80), fmt.Sprintf("data_offsets end at %d but the data section has %d bytes", t.end, dataLen))
		}
		if i > 0 && t.begin < tensors[i-1].end {
			prev := tensors[i-1]
			s.c.add(in.l, ruleStructOverlap, -1, ev(map[string]any{"tensor": t.name, "other_tensor": prev.name}),
				"safetensors tensors "+quote(prev.name, 60)+" and "+quote(t.name, 60), "byte ranges overlap")
		}
		if t.begin > covered {
			s.c.add(in.l, ruleStructGap, int64(8+n+covered), ev(map[string]any{"gap_start": covered, "gap_end": t.begin}),
				"safetensors data", fmt.Sprintf("bytes %d-%d belong to no tensor", covered, t.begin))
		}
		covered = max(covered, t.end)
	}
	if covered < dataLen {
		s.c.add(in.l, ruleStructGap, int64(8+n+covered), ev(map[string]any{"gap_start": covered, "gap_end": dataLen}),
			"safetensors data", fmt.Sprintf("%d bytes after the last tensor belong to no tensor", dataLen-covered))
	}
	return nil
}

// readSafetensorsHeader walks the header object token by token so duplicate keys
// (which JSON parsers resolve differently) are seen.
func (s *scanner) readSafetensorsHeader(dec *json.Decoder, l loc, ev func(map[string]any) map[string]any) ([]stTensor, bool) {
	invalid := func(msg string) ([]stTensor, bool) {
		s.c.add(l, ruleStructInvalid, 8, ev(nil), "safetensors header", msg)
		return nil, false
	}
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return invalid("header is not a JSON object")
	}
	seen := map[string]bool{}
	var tensors []stTensor
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return invalid("header JSON is malformed: " + err.Error())
		}
		name, _ := tok.(string)
		if seen[name] {
			s.c.add(l, ruleStructDuplicate, 8, ev(map[string]any{"key": name}), "safetensors header", fmt.Sprintf("key %q appears more than once", quote(name, 80)))
		}
		seen[name] = true
		if name == "__metadata__" {
			var meta map[string]any
			if err := dec.Decode(&meta); err != nil {
				return invalid("__metadata__ is not an object")
			}
			for k, v := range meta {
				if _, ok := v.(string); !ok {
					s.c.add(l, ruleStructInvalid, 8, ev(map[string]any{"key": k}), "safetensors __metadata__", fmt.Sprintf("value of %q is not a string", quote(k, 80)))
				}
			}
			continue
		}
		var t struct {
			Dtype       string        `json:"dtype"`
			Shape       []json.Number `json:"shape"`
			DataOffsets []json.Number `json:"data_offsets"`
		}
		if err := dec.Decode(&t); err != nil {
			return invalid(fmt.Sprintf("tensor %q is malformed: %v", quote(name, 80), err))
		}
		width, ok := safetensorsDtypeBits[t.Dtype]
		if !ok {
			s.c.add(l, ruleStructInvalid, 8, ev(map[string]any{"tensor": name, "dtype": t.Dtype}), "safetensors tensor "+quote(name, 80), fmt.Sprintf("unknown dtype %q", quote(t.Dtype, 20)))
		}
		if len(t.DataOffsets) != 2 {
			s.c.add(l, ruleStructInvalid, 8, ev(map[string]any{"tensor": name}), "safetensors tensor "+quote(name, 80), "data_offsets must hold two numbers")
			continue
		}
		begin, err1 := parseU64(t.DataOffsets[0])
		end, err2 := parseU64(t.DataOffsets[1])
		if err1 != nil || err2 != nil || end < begin {
			s.c.add(l, ruleStructInvalid, 8, ev(map[string]any{"tensor": name}), "safetensors tensor "+quote(name, 80), "data_offsets are not an increasing pair of integers")
			continue
		}
		if ok {
			elems := uint64(1)
			overflow := false
			for _, d := range t.Shape {
				v, err := parseU64(d)
				hi, lo := bits.Mul64(elems, v)
				if err != nil || hi != 0 {
					overflow = true
					break
				}
				elems = lo
			}
			hi, lo := bits.Mul64(elems, width)
			want := lo / 8
			if overflow || hi != 0 || lo > math.MaxInt64 {
				s.c.add(l, ruleStructHuge, 8, ev(map[string]any{"tensor": name}), "safetensors tensor "+quote(name, 80), "shape overflows")
			} else if lo%8 == 0 && want != end-begin {
				s.c.add(l, ruleStructPastEnd, 8, ev(map[string]any{"tensor": name, "shape_bytes": want, "range_bytes": end - begin}),
					"safetensors tensor "+quote(name, 80), fmt.Sprintf("shape needs %d bytes but data_offsets span %d", want, end-begin))
			}
		}
		tensors = append(tensors, stTensor{name: name, begin: begin, end: end})
	}
	if _, err := dec.Token(); err != nil {
		return invalid("header JSON is malformed: " + err.Error())
	}
	return tensors, true
}

func parseU64(n json.Number) (uint64, error) {
	v, err := n.Int64()
	if err != nil || v < 0 {
		return 0, fmt.Errorf("not a non-negative integer: %s", n)
	}
	return uint64(v), nil
}
