package artifact

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// looksSafetensors: an 8-byte little-endian header length followed by a JSON object.
// A length whose top byte is set is not a header length but text: a JSON document
// whose first eight bytes ({"data":) read as a number and whose next object
// begins at byte 8 (scikit-learn's OpenML fixtures, gzipped) looks the same.
func looksSafetensors(head []byte) bool {
	if len(head) < 10 {
		return false
	}
	n := binary.LittleEndian.Uint64(head)
	if n < 2 || n >= 1<<56 {
		return false
	}
	b := bytes.TrimLeft(head[8:], " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// looksPickle0 tries the first bytes as a protocol 0/1 pickle (which has no header)
// on a throwaway machine: it is one if it parses to STOP, or imports something,
// or runs many opcodes, without an error. size is the region's size (-1 when
// unknown).
func looksPickle0(head []byte, size int64, opts Options) bool {
	probe := &analyzer{opts: opts, c: newCollector(opts)}
	st := newStream(bytes.NewReader(head))
	st.setLimit(int64(len(head)))
	m := probe.newMachine(context.Background(), st, loc{fileOff: -1}, true)
	defer m.release()
	res, err := m.run()
	if err == nil && (dangerousCalls(m.imports) || (dangerousImports(m.imports) && !looksText(head))) {
		// A broken pickle still runs what it calls before its error
		// (fickling writes STRING without its newline: CPython has called
		// builtins.__import__("os") before it fails on the next argument).
		// In bytes that are not text, GLOBAL lines naming a dangerous import
		// are a pickle's too, whatever breaks after them: CPython imports
		// them first, and other loaders may read on. (Text such as a vocab
		// file of "cos", "sin" lines is left to the rules below.)
		return true
	}
	if err != nil || m.firstErr != "" {
		return false
	}
	if res.stopped {
		return importsResolve(m.imports)
	}
	if res.fatal != "" && st.atEnd() && (plausibleImports(m.imports) || m.ops >= 16) {
		return true
	}
	if strings.HasPrefix(res.fatal, "stream ends inside") && size >= 0 && size <= int64(len(head)) && dangerousImports(m.imports) {
		// A whole file that breaks off inside an argument (fickling writes
		// STRING without its newline) still makes CPython import every
		// GLOBAL it read before the error.
		return true
	}
	off := res.fatalOff
	if !strings.HasPrefix(res.fatal, "stream ends inside") || off < 0 || off >= int64(len(head)) ||
		(size >= 0 && size <= int64(len(head))) {
		return false
	}
	// The sniffed bytes end inside an opcode and more follow. CPython reads
	// arguments of any length, so a pickle may open with a STRING, INT or
	// BINUNICODE longer than what was sniffed: what was read of it must be
	// well formed, or the bytes before it a long run of opcodes.
	return off >= 512 || longLineArgument(head[off:]) || longBinaryArgument(head[off:], off, size)
}

// longBinaryArgument: b starts with a length-prefixed string or bytes opcode
// whose declared content runs past the end of b but fits in the region (of
// size bytes from 0, b starting at off), valid UTF-8 so far for text.
func longBinaryArgument(b []byte, off, size int64) bool {
	var n uint64
	var hdr int
	switch b[0] {
	case opBINSTRING, opBINUNICODE, opBINBYTES:
		if len(b) < 5 {
			return false
		}
		n, hdr = uint64(binary.LittleEndian.Uint32(b[1:])), 5
		if b[0] == opBINSTRING && int32(n) < 0 {
			return false
		}
	case opBINUNICODE8, opBINBYTES8, opBYTEARRAY8:
		if len(b) < 9 {
			return false
		}
		n, hdr = binary.LittleEndian.Uint64(b[1:]), 9
	default:
		return false
	}
	if n > 1<<40 || uint64(len(b)-hdr) >= n || (size >= 0 && uint64(off)+uint64(hdr)+n > uint64(size)) {
		return false
	}
	if b[0] == opBINUNICODE || b[0] == opBINUNICODE8 {
		body := b[hdr:]
		for len(body) > 0 && !utf8.Valid(body) && len(b)-hdr-len(body) < utf8.UTFMax {
			body = body[:len(body)-1] // a rune cut by the end of the sniffed bytes
		}
		return utf8.Valid(body)
	}
	return true
}

// longLineArgument: b starts with a STRING, INT, LONG or FLOAT opcode whose
// argument line runs past the end of b, at least 64 bytes of it, well formed
// so far.
func longLineArgument(b []byte) bool {
	if len(b) < 64 || bytes.IndexByte(b, '\n') >= 0 {
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
	if bytes.HasPrefix(b, []byte("{%")) || bytes.HasPrefix(b, []byte("{{")) || bytes.HasPrefix(b, []byte("{#")) {
		return false // a Jinja template (chat_template.jinja), text
	}
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

// plausibleImports reports whether a probe's imports include one that Python
// could resolve: module and name valid UTF-8 without spaces or control bytes.
// Text that happens to open with "c" ("cat is a small animal\n…") parses as a
// GLOBAL of a module named "at is a small animal", which no import finds; it is
// text, not a pickle (CPython fails on it before anything runs).
func plausibleImports(imports []importRec) bool {
	for _, im := range imports {
		if plausibleName(im.module) && plausibleName(im.name) {
			return true
		}
	}
	return false
}

// importsResolve reports whether a parse that ran to STOP could import what it
// names: it imports nothing, or some module it names is a dotted Python name.
// A CSV whose header opens with "c" (statsmodels' results_*.csv: "const_p1,
// const_p2,…" then a line of numbers and a "." that is STOP) parses as a GLOBAL
// of module "onst_p1,const_p2,…"; CPython fails to import it before anything
// runs, so it is text.
func importsResolve(imports []importRec) bool {
	if len(imports) == 0 {
		return true
	}
	for _, im := range imports {
		if pythonModuleName(im.module) {
			return true
		}
	}
	return false
}

// dangerousImports reports whether a parse imported a name on the dangerous lists.
func dangerousImports(imports []importRec) bool {
	for _, im := range imports {
		if im.cls.verdict == verdictDangerous && pythonModuleName(im.module) {
			return true
		}
	}
	return false
}

// dangerousCalls reports whether a parse called (REDUCE, INST, OBJ) a name on
// the dangerous lists.
func dangerousCalls(imports []importRec) bool {
	for _, im := range imports {
		if im.cls.verdict == verdictDangerous && im.reduced && pythonModuleName(im.module) {
			return true
		}
	}
	return false
}

// pythonModuleName: dot-separated Python identifiers.
func pythonModuleName(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if part == "" {
			return false
		}
		for i, r := range part {
			if !(r == '_' || unicode.IsLetter(r) || i > 0 && unicode.IsDigit(r)) {
				return false
			}
		}
	}
	return true
}

func plausibleName(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// looksUBJSON: a Universal Binary JSON object ('{') whose first key is a
// length-prefixed string (an integer type marker i, U, I, l or L, the length,
// then that many printable bytes), as XGBoost writes .ubj models.
func looksUBJSON(head []byte) bool {
	if len(head) < 4 || head[0] != '{' {
		return false
	}
	var n, w int
	switch head[1] {
	case 'i', 'U':
		n, w = int(head[2]), 1
	case 'I':
		if len(head) < 4 {
			return false
		}
		n, w = int(binary.BigEndian.Uint16(head[2:])), 2
	case 'l':
		if len(head) < 6 {
			return false
		}
		n, w = int(binary.BigEndian.Uint32(head[2:])), 4
	case 'L':
		if len(head) < 10 {
			return false
		}
		v := binary.BigEndian.Uint64(head[2:])
		if v > 1<<16 {
			return false
		}
		n, w = int(v), 8
	default:
		return false
	}
	key := head[2+w:]
	if n == 0 || n > len(key) || n > 256 {
		return false
	}
	for _, c := range key[:n] {
		if c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}
