package artifact

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"strings"
	"unicode/utf8"
)

// looksSafetensors: an 8-byte little-endian header length followed by a JSON object.
func looksSafetensors(head []byte) bool {
	if len(head) < 10 {
		return false
	}
	n := binary.LittleEndian.Uint64(head)
	if n < 2 {
		return false
	}
	b := bytes.TrimLeft(head[8:], " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// looksPickle0 tries the first bytes as a protocol 0/1 pickle (which has no header)
// on a throwaway machine: it is one if it parses to STOP, or imports something,
// or runs many opcodes, without an error.
func looksPickle0(head []byte, opts Options) bool {
	probe := &analyzer{opts: opts, c: newCollector(opts)}
	st := newStream(bytes.NewReader(head))
	st.setLimit(int64(len(head)))
	m := probe.newMachine(context.Background(), st, loc{fileOff: -1}, true)
	defer m.release()
	res, err := m.run()
	if err != nil || m.firstErr != "" {
		return false
	}
	if res.stopped {
		return true
	}
	if res.fatal != "" && st.atEnd() && (len(m.imports) > 0 || m.ops >= 16) {
		return true
	}
	// CPython reads a protocol 0 argument line of any length, so a pickle may
	// open with a STRING or INT longer than the sniffed bytes: what was read
	// of it must be well formed (a quoted string, a number) and long.
	if off := res.fatalOff; strings.HasPrefix(res.fatal, "stream ends inside") && off >= 0 && off < int64(len(head)) {
		return longLineArgument(head[off:])
	}
	return false
}

// longLineArgument: b starts with a STRING, INT, LONG or FLOAT opcode whose
// argument line runs past the end of b, at least 512 bytes of it, well formed
// so far.
func longLineArgument(b []byte) bool {
	if len(b) < 512 || bytes.IndexByte(b, '\n') >= 0 {
		return false
	}
	switch b[0] {
	case opSTRING:
		return b[1] == '\'' || b[1] == '"'
	case opINT, opLONG, opFLOAT:
		return numberish(b[1:])
	}
	return false
}

// looksJSON: optional whitespace (or a UTF-8 BOM) then '{' or '['.
func looksJSON(head []byte) bool {
	b := bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && (b[0] == '{' || b[0] == '[') && looksText(head)
}

// looksText: valid UTF-8 (allowing a rune cut at the end) without NUL or other
// control bytes than whitespace.
func looksText(head []byte) bool {
	for i := 0; i < len(head); {
		c := head[i]
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f' {
			return false
		}
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(head[i:])
		if r == utf8.RuneError && size == 1 {
			return len(head)-i < utf8.UTFMax && !utf8.FullRune(head[i:])
		}
		i += size
	}
	return true
}

// hasEOCD reports whether the last 64 KiB of a region hold a zip end of central
// directory record whose comment reaches exactly to the end. (A looser match
// would mistake a zip nested inside a pickle's bytes for an appended archive.)
func hasEOCD(ra io.ReaderAt, size int64) bool {
	off, rec, ok := findEOCD(ra, size)
	return ok && off+22+int64(binary.LittleEndian.Uint16(rec[20:])) == size
}
