package artifact

// Protocol 0 operands are Python literals on a line: INT, LONG and FLOAT
// numbers, STRING (a Python 2 repr, quoted and escaped) and UNICODE (raw-unicode-
// escape). These parse them as CPython's unpickler does, bounded.

import (
	"strconv"
	"strings"
)

// line reads a protocol 0 argument line. One of up to max bytes comes back
// whole; a longer one (CPython reads lines of any length) is consumed to its
// newline with only its first max bytes kept, and long is set.
func (m *machine) line(max int) (line []byte, long bool, err error) {
	line, err = m.st.ReadLine(max)
	if err == nil || !strings.HasPrefix(err.Error(), "line longer") {
		return line, false, err
	}
	m.lineBuf, _, err = m.st.ReadLongLine(m.lineBuf, max)
	return m.lineBuf, true, err
}

// longNumberLine is an INT, LONG or FLOAT argument too long to keep (CPython's
// int() takes surrounding whitespace and any number of digits): its value is
// unknown, but it must look like a number.
func (m *machine) longNumberLine(op byte, prefix []byte) slot {
	if !numberish(prefix) {
		m.fail("%s argument %q is not a number", opName(op), quote(string(prefix), 40))
		return opaque
	}
	if op == opFLOAT {
		return slot{k: kFloat}
	}
	return slot{k: kLong, v: -1}
}

// numberish: the bytes could start a Python int or float literal (with blanks).
func numberish(b []byte) bool {
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9', c == ' ', c == '\t', c == '\r', c == '\f', c == '\v',
			c == '+', c == '-', c == '_', c == '.', c == 'e', c == 'E', c == 'L':
		default:
			return false
		}
	}
	return true
}

// readLong reads LONG1/LONG4 content: small values as ints, others kept as bytes
// (the legacy PyTorch magic number is a 10-byte LONG1).
func (m *machine) readLong(n uint64, op byte) (slot, error) {
	if err := m.checkLength(op, n); err != nil {
		return opaque, err
	}
	if n <= 8 {
		b, err := m.st.Next(int(n))
		if err != nil {
			return opaque, err
		}
		var v int64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | int64(b[i])
		}
		if n > 0 && n < 8 && b[n-1]&0x80 != 0 {
			v -= 1 << (8 * n)
		}
		return slot{k: kInt, v: v}, nil
	}
	if n <= 64 {
		b, err := m.st.Next(int(n))
		if err != nil {
			return opaque, err
		}
		return m.strSlot(kLong, b), nil
	}
	if err := m.st.Skip(int64(n)); err != nil {
		return opaque, err
	}
	return slot{k: kLong, v: -1}, nil
}

func (m *machine) parseNumberLine(op byte, line []byte) slot {
	s := strings.TrimSpace(string(line))
	switch op {
	case opFLOAT:
		return slot{k: kFloat}
	case opLONG:
		s = strings.TrimSuffix(s, "L")
	case opINT:
		if s == "00" {
			return slot{k: kBool}
		}
		if s == "01" {
			return slot{k: kBool, v: 1}
		}
	}
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return slot{k: kLong, v: -1} // "+99999999999999999999999": CPython's int() takes it
		}
		if _, ok := new(bigIntCheck).parse(s); ok {
			return slot{k: kLong, v: -1}
		}
		m.fail("%s argument %q is not a number", opName(op), quote(s, 40))
		return opaque
	}
	return slot{k: kInt, v: v}
}

type bigIntCheck struct{}

func (bigIntCheck) parse(s string) (string, bool) {
	if s != "" && (s[0] == '-' || s[0] == '+') {
		s = s[1:]
	}
	s = strings.ReplaceAll(s, "_", "")
	if !allDigits(s) {
		return "", false
	}
	return s, true
}

// unquotePy2 decodes a protocol 0 STRING argument: a Python 2 repr in single or
// double quotes with backslash escapes.
func unquotePy2(line []byte) (string, bool) {
	s := string(line)
	if len(s) < 2 || s[0] != s[len(s)-1] || (s[0] != '\'' && s[0] != '"') {
		return s, false
	}
	s = s[1 : len(s)-1]
	if !strings.Contains(s, `\`) {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '0':
			b.WriteByte(0)
		case 'x':
			if i+2 < len(s)+0 && i+2 <= len(s)-1 {
				if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
					b.WriteByte(byte(v))
					i += 2
					continue
				}
			}
			b.WriteString(`\x`)
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), true
}

// rawUnicodeEscape decodes protocol 0 UNICODE arguments (\uXXXX and \UXXXXXXXX).
func rawUnicodeEscape(line []byte) string {
	s := string(line)
	if !strings.Contains(s, `\u`) && !strings.Contains(s, `\U`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') {
			w := 4
			if s[i+1] == 'U' {
				w = 8
			}
			if i+2+w <= len(s) {
				if v, err := strconv.ParseUint(s[i+2:i+2+w], 16, 32); err == nil {
					b.WriteRune(rune(v))
					i += 1 + w
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
