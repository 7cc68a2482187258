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
		return s.npyBodyAsPickle(ctx, in)
	}
	dataOff := st.Offset() - in.base
	itemsize, object, ok := npyItemSize(descr)
	if object {
		return s.a.scanPicklesAt(ctx, st, in.l, in.base, false)
	}
	if !ok {
		s.c.skip(in.l, "NumPy dtype %s is not understood; array size not validated", quote(fmt.Sprint(descr), 80))
		return s.npyBodyAsPickle(ctx, in)
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

// npyBodyAsPickle is the safety net for a header this scanner does not fully
// understand: NumPy may still read it as an object array and unpickle the body, so
// a body that sniffs as a pickle (as a whole file would) is scanned as one, at its real severity.
func (s *scanner) npyBodyAsPickle(ctx context.Context, in region) error {
	b := in.st.Peek(4096)
	if len(b) == 0 || b[0] != opPROTO && !(validOpcode[b[0]] && looksPickle0(b, -1, s.opts)) {
		return nil
	}
	return s.a.scanPicklesAt(ctx, in.st, in.l, in.base, false)
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

// numpyDtypeNames are the dtype names and one-letter codes np.dtype accepts for
// fixed-size numbers (platform sizes as on 64-bit Linux).
var numpyDtypeNames = map[string]int64{
	"bool": 1, "bool_": 1, "int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4,
	"int64": 8, "uint64": 8, "float16": 2, "float32": 4, "float64": 8, "complex64": 8, "complex128": 16,
	"half": 2, "single": 4, "double": 8, "float": 8, "int": 8, "complex": 16, "longlong": 8, "ulonglong": 8,
	"byte": 1, "ubyte": 1, "short": 2, "ushort": 2, "intc": 4, "uintc": 4, "intp": 8, "uintp": 8,
	"b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4, "l": 8, "L": 8, "q": 8, "Q": 8, "p": 8, "P": 8,
	"e": 2, "f": 4, "d": 8, "g": 16, "F": 8, "D": 16, "G": 32, "?": 1,
}

// dtypeStrSize parses '<f4', '|O', '<U10', '|S5', '<M8[ns]' and the like.
func dtypeStrSize(d string) (int64, bool, bool) {
	switch strings.TrimSpace(d) {
	case "object", "object_", "object0", "O", "O8", "O4", "|O", "|O8", "|O4", "=O", "<O", ">O", "=O8", "<O8", ">O8":
		return 8, true, true // np.dtype accepts all these for Python objects
	}
	d = strings.TrimLeft(d, "<>|=")
	if n, ok := numpyDtypeNames[d]; ok {
		return n, false, true
	}
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

// pyLit parses the Python literals NumPy headers use, as ast.literal_eval reads
// them: dicts, tuples, lists, sets, strings (u/b/r prefixes, escapes, triple
// quotes, implicit concatenation), integers, floats, True/False/None, with
// parentheses, comments and line continuations.
type pyLit struct {
	s string
	i int
}

// ws skips white space, comments and backslash-newline continuations.
func (p *pyLit) ws() {
	for p.i < len(p.s) {
		switch c := p.s[p.i]; {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v':
			p.i++
		case c == '#':
			for p.i < len(p.s) && p.s[p.i] != '\n' && p.s[p.i] != '\r' {
				p.i++
			}
		case c == '\\' && p.i+1 < len(p.s) && (p.s[p.i+1] == '\n' || p.s[p.i+1] == '\r'):
			p.i += 2
			if p.s[p.i-1] == '\r' && p.i < len(p.s) && p.s[p.i] == '\n' {
				p.i++
			}
		default:
			return
		}
	}
}

// stringStart reports whether a string literal (with any u/b/r prefix) starts at
// the cursor, and the prefix length.
func (p *pyLit) stringStart() (int, bool) {
	j := p.i
	for j < len(p.s) && j-p.i < 2 && strings.IndexByte("uUbBrR", p.s[j]) >= 0 {
		j++
	}
	if j < len(p.s) && (p.s[j] == '\'' || p.s[j] == '"') {
		pre := strings.ToLower(p.s[p.i:j])
		switch pre {
		case "", "u", "b", "r", "br", "rb":
			return j - p.i, true
		}
	}
	return 0, false
}

// strings reads one or more adjacent string literals and concatenates them.
func (p *pyLit) strings() (string, error) {
	var out strings.Builder
	for {
		n, ok := p.stringStart()
		if !ok {
			return out.String(), nil
		}
		raw := strings.ContainsAny(p.s[p.i:p.i+n], "rR")
		p.i += n
		if err := p.oneString(raw, &out); err != nil {
			return "", err
		}
		if out.Len() > 1<<16 {
			return "", fmt.Errorf("string too long")
		}
		p.ws()
	}
}

func (p *pyLit) oneString(raw bool, out *strings.Builder) error {
	q := p.s[p.i]
	triple := strings.HasPrefix(p.s[p.i:], strings.Repeat(string(q), 3))
	if triple {
		p.i += 3
	} else {
		p.i++
	}
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == q && (!triple || strings.HasPrefix(p.s[p.i:], strings.Repeat(string(q), 3))):
			if triple {
				p.i += 3
			} else {
				p.i++
			}
			return nil
		case (c == '\n' || c == '\r') && !triple:
			return fmt.Errorf("unterminated string")
		case c == '\\' && p.i+1 < len(p.s):
			if raw {
				out.WriteByte('\\')
				out.WriteByte(p.s[p.i+1])
				p.i += 2
				continue
			}
			if err := p.escape(out); err != nil {
				return err
			}
		default:
			out.WriteByte(c)
			p.i++
		}
	}
	return fmt.Errorf("unterminated string")
}

// escape decodes one backslash escape at the cursor.
func (p *pyLit) escape(out *strings.Builder) error {
	e := p.s[p.i+1]
	p.i += 2
	hex := func(n int) error {
		if p.i+n > len(p.s) {
			return fmt.Errorf("truncated escape")
		}
		v, err := strconv.ParseUint(p.s[p.i:p.i+n], 16, 32)
		if err != nil {
			return fmt.Errorf("bad escape")
		}
		p.i += n
		out.WriteRune(rune(v))
		return nil
	}
	switch e {
	case '\n':
	case '\r':
		if p.i < len(p.s) && p.s[p.i] == '\n' {
			p.i++
		}
	case '\\', '\'', '"':
		out.WriteByte(e)
	case 'a':
		out.WriteByte('\a')
	case 'b':
		out.WriteByte('\b')
	case 'f':
		out.WriteByte('\f')
	case 'n':
		out.WriteByte('\n')
	case 'r':
		out.WriteByte('\r')
	case 't':
		out.WriteByte('\t')
	case 'v':
		out.WriteByte('\v')
	case 'x':
		return hex(2)
	case 'u':
		return hex(4)
	case 'U':
		return hex(8)
	case 'N':
		return fmt.Errorf("named escape")
	case '0', '1', '2', '3', '4', '5', '6', '7':
		v := int(e - '0')
		for k := 0; k < 2 && p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '7'; k++ {
			v = v*8 + int(p.s[p.i]-'0')
			p.i++
		}
		out.WriteRune(rune(v))
	default:
		out.WriteByte('\\')
		out.WriteByte(e)
	}
	return nil
}

func (p *pyLit) value(depth int) (any, error) {
	if depth > 32 {
		return nil, fmt.Errorf("nesting too deep")
	}
	p.ws()
	if p.i >= len(p.s) {
		return nil, fmt.Errorf("unexpected end")
	}
	if _, ok := p.stringStart(); ok {
		return p.strings()
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
			p.ws()
			if p.i < len(p.s) && (p.s[p.i] == ',' || p.s[p.i] == '}') && len(m) == 0 {
				// a set literal: not a header, but a literal all the same
				return nil, fmt.Errorf("header is a set")
			}
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("dict key is not a string")
			}
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
		comma := false
		for {
			p.ws()
			if p.i < len(p.s) && p.s[p.i] == closer {
				p.i++
				if c == '(' && len(items) == 1 && !comma {
					return items[0], nil // (x) is x, not a tuple
				}
				return items, nil
			}
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			items = append(items, v)
			p.ws()
			if p.i < len(p.s) && p.s[p.i] == ',' {
				comma = true
			}
			if err := p.sep(closer); err != nil {
				return nil, err
			}
		}
	default:
		j := p.i
		if c == '-' || c == '+' {
			p.i++
			p.ws()
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			switch n := v.(type) {
			case int64:
				if c == '-' {
					return -n, nil
				}
				return n, nil
			case float64:
				if c == '-' {
					return -n, nil
				}
				return n, nil
			}
			return nil, fmt.Errorf("unary %c on a non-number", c)
		}
		for j < len(p.s) && strings.IndexByte(",:)]}#\\ \t\r\n\f\v", p.s[j]) < 0 {
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
		t := strings.TrimSuffix(strings.TrimSuffix(tok, "L"), "l") // Python 2 longs (numpy filters them)
		if len(t) > 1 && t[0] == '0' && t[1] >= '0' && t[1] <= '9' {
			t = strings.TrimLeft(t, "0_") // Python allows 00 only; be lenient
			if t == "" {
				t = "0"
			}
		}
		if n, err := strconv.ParseInt(t, 0, 64); err == nil {
			return n, nil
		}
		if f, err := strconv.ParseFloat(strings.ReplaceAll(t, "_", ""), 64); err == nil {
			return f, nil
		}
		return nil, fmt.Errorf("unexpected token %q", quote(tok, 20))
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
