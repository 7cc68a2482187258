package artifact

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// scanNPY validates a NumPy .npy header and scans the pickle that follows it when
// the array holds Python objects (np.load(allow_pickle=True) unpickles it).
func (s *scanner) scanNPY(ctx context.Context, in region) error {
	st := in.st
	pre, err := st.Next(8)
	if err != nil {
		s.c.add(in.l, ruleStructInvalid, 0, map[string]any{"format": "npy"}, "NumPy header", "truncated magic")
		return nil
	}
	major := pre[6]
	var hlen uint64
	switch major {
	case 1:
		b, err := st.Next(2)
		if err != nil {
			s.c.add(in.l, ruleStructInvalid, 8, map[string]any{"format": "npy"}, "NumPy header", "truncated header length")
			return nil
		}
		hlen = uint64(binary.LittleEndian.Uint16(b))
	case 2, 3:
		b, err := st.Next(4)
		if err != nil {
			s.c.add(in.l, ruleStructInvalid, 8, map[string]any{"format": "npy"}, "NumPy header", "truncated header length")
			return nil
		}
		hlen = uint64(binary.LittleEndian.Uint32(b))
	default:
		s.c.add(in.l, ruleStructInvalid, 6, map[string]any{"format": "npy", "version": major}, "NumPy header", fmt.Sprintf("unknown format version %d", major))
		return nil
	}
	if rem := st.remaining(); rem >= 0 && hlen > uint64(rem) {
		s.c.add(in.l, ruleStructPastEnd, 8, map[string]any{"format": "npy", "header_length": hlen}, "NumPy header", fmt.Sprintf("declares %d header bytes but %d remain", hlen, rem))
		return nil
	}
	if hlen > uint64(min(s.opts.MaxHeaderBytes, streamBufSize)) {
		s.c.add(in.l, ruleStructHuge, 8, map[string]any{"format": "npy", "header_length": hlen}, "NumPy header", fmt.Sprintf("header of %d bytes is larger than any real one", hlen))
		return nil
	}
	hdr, err := st.Next(int(hlen))
	if err != nil {
		s.c.add(in.l, ruleStructPastEnd, 8, map[string]any{"format": "npy"}, "NumPy header", "header is truncated")
		return nil
	}
	descr, shape, err := parseNPYHeader(string(hdr))
	if err != nil {
		s.c.add(in.l, ruleStructInvalid, 10, map[string]any{"format": "npy", "header": quote(string(hdr), 200)}, "NumPy header", err.Error())
		return nil
	}
	dataOff := st.Offset() - in.base
	itemsize, object, ok := npyItemSize(descr)
	if object {
		return s.a.scanPicklesAt(ctx, st, in.l, in.base, false)
	}
	if !ok {
		s.c.skip(in.l, "NumPy dtype %s is not understood; array size not validated", quote(fmt.Sprint(descr), 80))
		return nil
	}
	n := uint64(itemsize)
	for _, d := range shape {
		hi, lo := bits.Mul64(n, uint64(d))
		if d < 0 || hi != 0 || lo > math.MaxInt64 {
			s.c.add(in.l, ruleStructHuge, 10, map[string]any{"format": "npy", "shape": shape}, "NumPy header", "array size overflows")
			return nil
		}
		n = lo
	}
	if rem := st.remaining(); rem >= 0 {
		switch {
		case n > uint64(rem):
			s.c.add(in.l, ruleStructPastEnd, dataOff, map[string]any{"format": "npy", "declared_bytes": n, "remaining": rem, "shape": shape, "descr": descr},
				"NumPy array", fmt.Sprintf("declares %d data bytes but %d remain", n, rem))
		case n < uint64(rem):
			s.c.add(in.l, ruleStructGap, dataOff+int64(n), map[string]any{"format": "npy", "trailing_bytes": uint64(rem) - n},
				"NumPy array", fmt.Sprintf("%d bytes follow the array data", uint64(rem)-n))
		}
	}
	return nil
}

// parseNPYHeader reads the header's Python dict literal: descr, fortran_order, shape.
func parseNPYHeader(h string) (descr any, shape []int64, err error) {
	p := &pyLit{s: strings.TrimRight(h, " \n\x00")}
	v, err := p.value(0)
	if err != nil {
		return nil, nil, fmt.Errorf("header is not a Python literal: %w", err)
	}
	d, ok := v.(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("header is not a dict")
	}
	descr, ok = d["descr"]
	if !ok {
		return nil, nil, fmt.Errorf("header lacks descr")
	}
	sv, ok := d["shape"].([]any)
	if !ok {
		return nil, nil, fmt.Errorf("header lacks a shape tuple")
	}
	for _, x := range sv {
		n, ok := x.(int64)
		if !ok {
			return nil, nil, fmt.Errorf("shape holds a non-integer")
		}
		shape = append(shape, n)
	}
	return descr, shape, nil
}

// npyItemSize returns a descr's item size, and whether it holds Python objects.
func npyItemSize(descr any) (int64, bool, bool) {
	switch d := descr.(type) {
	case string:
		return dtypeStrSize(d)
	case []any:
		var total int64
		for _, f := range d {
			t, ok := f.([]any)
			if !ok || len(t) < 2 {
				return 0, false, false
			}
			size, obj, ok := npyItemSize(t[1])
			if obj {
				return 0, true, true
			}
			if !ok {
				return 0, false, false
			}
			if len(t) >= 3 {
				dims, ok := t[2].([]any)
				if !ok {
					return 0, false, false
				}
				for _, x := range dims {
					n, ok := x.(int64)
					if !ok || n < 0 || n > 1<<31 {
						return 0, false, false
					}
					size *= n
				}
			}
			total += size
		}
		return total, false, true
	}
	return 0, false, false
}

// dtypeStrSize parses '<f4', '|O', '<U10', '|S5', '<M8[ns]' and the like.
func dtypeStrSize(d string) (int64, bool, bool) {
	d = strings.TrimLeft(d, "<>|=")
	if i := strings.IndexByte(d, '['); i >= 0 {
		d = d[:i]
	}
	if d == "" {
		return 0, false, false
	}
	kind := d[0]
	if kind == 'O' {
		return 8, true, true
	}
	if kind == '?' && len(d) == 1 {
		return 1, false, true
	}
	n, err := strconv.ParseInt(d[1:], 10, 64)
	if err != nil || n < 0 {
		return 0, false, false
	}
	switch kind {
	case 'U':
		return n * 4, false, true
	case 'b', 'i', 'u', 'f', 'c', 'S', 'a', 'V', 'M', 'm':
		return n, false, true
	}
	return 0, false, false
}

// pyLit parses the Python literals NumPy headers use: dicts, tuples, lists,
// strings, integers, True/False/None.
type pyLit struct {
	s string
	i int
}

func (p *pyLit) ws() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *pyLit) value(depth int) (any, error) {
	if depth > 32 {
		return nil, fmt.Errorf("nesting too deep")
	}
	p.ws()
	if p.i >= len(p.s) {
		return nil, fmt.Errorf("unexpected end")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		p.i++
		m := map[string]any{}
		for {
			p.ws()
			if p.i < len(p.s) && p.s[p.i] == '}' {
				p.i++
				return m, nil
			}
			k, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("dict key is not a string")
			}
			p.ws()
			if p.i >= len(p.s) || p.s[p.i] != ':' {
				return nil, fmt.Errorf("expected ':'")
			}
			p.i++
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			m[ks] = v
			if err := p.sep('}'); err != nil {
				return nil, err
			}
		}
	case c == '(' || c == '[':
		closer := byte(')')
		if c == '[' {
			closer = ']'
		}
		p.i++
		var items []any
		for {
			p.ws()
			if p.i < len(p.s) && p.s[p.i] == closer {
				p.i++
				return items, nil
			}
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			items = append(items, v)
			if err := p.sep(closer); err != nil {
				return nil, err
			}
		}
	case c == '\'' || c == '"':
		end := strings.IndexByte(p.s[p.i+1:], c)
		if end < 0 {
			return nil, fmt.Errorf("unterminated string")
		}
		v := p.s[p.i+1 : p.i+1+end]
		p.i += end + 2
		return v, nil
	default:
		j := p.i
		for j < len(p.s) && strings.IndexByte(",:)]} \t\r\n", p.s[j]) < 0 {
			j++
		}
		tok := p.s[p.i:j]
		p.i = j
		switch tok {
		case "True":
			return true, nil
		case "False":
			return false, nil
		case "None":
			return nil, nil
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(tok, "L"), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("unexpected token %q", quote(tok, 20))
		}
		return n, nil
	}
}

// sep consumes a ',' or sees the closer.
func (p *pyLit) sep(closer byte) error {
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == ',' {
		p.i++
		return nil
	}
	if p.i < len(p.s) && p.s[p.i] == closer {
		return nil
	}
	return fmt.Errorf("expected ',' or %q", closer)
}
