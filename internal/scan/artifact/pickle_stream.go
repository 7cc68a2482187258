package artifact

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"regexp"
	"strings"
)

// legacyTorchMagic is the LONG1 payload of the first pickle in PyTorch's legacy
// (pre-1.6, non-zip) format: 0x1950a86a20f9469cfc6c, little-endian.
const legacyTorchMagic = "\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"

// scanPickles scans every pickle in st from its current position to its end (or
// limit): several pickles may follow each other (torch's legacy format, repeated
// pickle.dump calls, or an attacker's appended payload). base is the stream offset
// the region starts at, so evidence offsets are relative to l. spec marks bytes that
// only look like a pickle (a protocol 0 blob inside a bytes value).
func (a *analyzer) scanPicklesAt(ctx context.Context, st *stream, l loc, base int64, spec bool) error {
	legacy := false
	for count := 0; ; count++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("pickle scan: %w", err)
		}
		if st.atEnd() {
			return nil
		}
		start := st.Offset()
		head := st.Peek(1)
		if count > 0 && !validOpcode[head[0]] {
			a.trailing(st, l, base, start)
			return nil
		}
		// A later pickle without PROTO may be junk that happens to start with an
		// opcode, so it is parsed speculatively (what it holds counts once it
		// parses cleanly to STOP); in the legacy torch layout every pickle after
		// the magic number is loaded, so none is speculative.
		speculative := spec || (count > 0 && head[0] != opPROTO && !legacy)
		m := a.newMachine(ctx, st, l, speculative)
		m.base = base
		res, err := m.run()
		if err != nil {
			m.release()
			return err
		}
		clean := res.stopped && m.firstErr == ""
		if clean {
			m.checkExpansion(res.top)
		}
		m.report(clean)
		isMagic := false
		if count == 0 && !spec {
			if v, ok := m.strOf(res.top); ok && res.top.k == kLong && v == legacyTorchMagic {
				isMagic = true
			}
		}
		m.release()
		if !res.stopped || res.abort {
			switch {
			case res.abort:
				a.c.skip(l, "partially scanned: %s at offset %d; the rest of the stream was not analysed", res.fatal, res.fatalOff-base)
			case speculative && count > 0:
				a.trailing(st, l, base, start)
			case !speculative:
				a.c.add(l, rulePickleCorrupt, res.fatalOff-base, nil, res.fatal)
				// Bytes left after the stop were not analysed as pickle: the file is
				// only partly scanned (a stream cut at its end was read entirely,
				// and its corrupt finding says so).
				if !st.atEnd() {
					a.c.skip(l, "partially scanned: pickle stops at offset %d (%s); what precedes was analysed, the rest only searched for import names", res.fatalOff-base, res.fatal)
					a.salvage(st, l, base, "after the pickle stops ("+res.fatal+")")
				}
			}
			return nil
		}
		if isMagic {
			legacy = true
		}
		// Legacy PyTorch files hold five pickles (magic, protocol, sys_info, the
		// object, storage keys); raw storage data follows and is never unpickled.
		if legacy && count == 4 {
			return nil
		}
		if spec {
			return nil
		}
	}
}

// trailing reports the bytes from start to the end of the stream as not pickle.
func (a *analyzer) trailing(st *stream, l loc, base, start int64) {
	n := st.remaining()
	if n < 0 {
		n = 0
	} else {
		n += st.Offset() - start
	}
	a.c.add(l, rulePickleTrailing, start-base, map[string]any{"trailing_bytes": n}, n)
	a.salvage(st, l, base, "in data after the last pickle")
}

// salvageLimit bounds how much is searched for import names where pickle
// parsing cannot continue.
const salvageLimit = 16 << 20

// globalOperands matches GLOBAL and INST operands: c or i, module, name, newlines.
var globalOperands = regexp.MustCompile(`[ci]([A-Za-z_][\w.]{0,255})\n([A-Za-z_][\w.]{0,255})\n`)

// salvage searches the rest of the stream, which no unpickler reaches in order
// but a second pickle.load after skipping junk, a resynchronising loader or a
// different pickle implementation may, for GLOBAL/INST and literal STACK_GLOBAL
// operands, and reports the dangerous names it finds.
func (a *analyzer) salvage(st *stream, l loc, base int64, where string) {
	a.salvageUpTo(st, l, base, where, salvageLimit, false)
}

// salvageUpTo is salvage searching at most limit bytes. In text (which is not
// known to be a pickle at all, and where "acos\nsin\n" occurs) only names that
// run code or commands count, not every name of a dangerous module.
func (a *analyzer) salvageUpTo(st *stream, l loc, base int64, where string, limit int64, text bool) {
	const chunk = 32 << 10
	const overlap = 1024
	seen := map[int64]bool{}
	report := func(off int64, opcode, module, name string) {
		if seen[off] {
			return
		}
		seen[off] = true
		// Only names on the dangerous list count here, not the attribute-path
		// heuristics: these bytes are not known to be pickle, and text can look
		// like "i<x>\n<sys>\n" by chance.
		cls := classify(module, name)
		if cls.verdict != verdictDangerous {
			return
		}
		if _, listed := dangerousMatch(cls.name); !listed {
			if _, listed := dangerousMatch(module + "." + name); !listed {
				return
			}
		}
		if text && !textExecName(cls.name) && !textExecName(module+"."+name) {
			return
		}
		ev := map[string]any{"opcode": opcode, "import": cls.name, "module": module, "name": name, "category": cls.category,
			"note": "found " + where + ", where scanners that stop parsing do not look"}
		a.c.add(l, rulePickleDangerousImport, off-base, ev, cls.name, cls.category)
	}
	var carry []byte
	carryOff := st.Offset()
	for searched := int64(0); searched < limit; {
		b := st.Peek(chunk)
		if len(b) == 0 {
			return
		}
		buf := append(carry, b...)
		for _, m := range globalOperands.FindAllSubmatchIndex(buf, -1) {
			op := "GLOBAL"
			if buf[m[0]] == 'i' {
				op = "INST"
			}
			report(carryOff+int64(m[0]), op, string(buf[m[2]:m[3]]), string(buf[m[4]:m[5]]))
		}
		for i := range buf {
			if mod, name, at, ok := stackGlobalAt(buf, i); ok {
				report(carryOff+int64(at), "STACK_GLOBAL", mod, name)
			}
		}
		if st.Skip(int64(len(b))) != nil {
			return
		}
		searched += int64(len(b))
		keep := min(overlap, len(buf))
		carry = append([]byte(nil), buf[len(buf)-keep:]...)
		carryOff += int64(len(buf) - keep)
	}
	if !st.atEnd() {
		a.c.skip(l, "only the first %d bytes %s were searched for import names", limit, where)
	}
}

// textExecNames are the last parts of dangerous names that run code or commands.
var textExecNames = setOf("system", "popen", "popen2", "popen3", "popen4", "execl", "execle", "execlp", "execlpe",
	"execv", "execve", "execvp", "execvpe", "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve", "spawnvp",
	"spawnvpe", "posix_spawn", "posix_spawnp", "startfile", "Popen", "call", "check_call", "check_output", "run",
	"getoutput", "getstatusoutput", "eval", "exec", "execfile", "compile", "__import__", "import_module", "loads",
	"load", "apply", "getattr", "runcode", "runsource", "interact", "open", "remove", "unlink", "rmtree", "kill", "fork")

// textExecName: a dangerous name (module.name) whose last part runs something.
func textExecName(full string) bool {
	if _, listed := dangerousPrefixes[full]; listed {
		return true
	}
	return textExecNames[full[strings.LastIndexByte(full, '.')+1:]]
}

// stackGlobalAt parses two literal strings (SHORT_BINUNICODE, BINUNICODE,
// BINUNICODE8, SHORT_BINSTRING, BINSTRING or BINBYTES8, each optionally memoised) followed by STACK_GLOBAL at buf[i:], returning the
// operands and the STACK_GLOBAL's index.
func stackGlobalAt(buf []byte, i int) (mod, name string, at int, ok bool) {
	str := func(j int) (string, int, bool) {
		if j >= len(buf) {
			return "", 0, false
		}
		switch buf[j] {
		case opSHORT_BINUNICODE, opSHORT_BINSTRING:
			if j+1 >= len(buf) || j+2+int(buf[j+1]) > len(buf) {
				return "", 0, false
			}
			n := int(buf[j+1])
			return string(buf[j+2 : j+2+n]), j + 2 + n, true
		case opBINUNICODE, opBINSTRING:
			if j+5 > len(buf) {
				return "", 0, false
			}
			n := int(binary.LittleEndian.Uint32(buf[j+1:]))
			if n > 1024 || j+5+n > len(buf) {
				return "", 0, false
			}
			return string(buf[j+5 : j+5+n]), j + 5 + n, true
		case opBINUNICODE8, opBINBYTES8:
			if j+9 > len(buf) {
				return "", 0, false
			}
			n := binary.LittleEndian.Uint64(buf[j+1:])
			if n > 1024 || j+9+int(n) > len(buf) {
				return "", 0, false
			}
			return string(buf[j+9 : j+9+int(n)]), j + 9 + int(n), true
		}
		return "", 0, false
	}
	memo := func(j int) int {
		for j < len(buf) {
			switch buf[j] {
			case opMEMOIZE:
				j++
			case opBINPUT:
				j += 2
			case opLONG_BINPUT:
				j += 5
			default:
				return j
			}
		}
		return j
	}
	switch buf[i] {
	case opSHORT_BINUNICODE, opBINUNICODE, opBINUNICODE8, opSHORT_BINSTRING, opBINSTRING, opBINBYTES8:
	default:
		return "", "", 0, false
	}
	mod, j, ok := str(i)
	if !ok || mod == "" {
		return "", "", 0, false
	}
	name, j, ok = str(memo(j))
	if !ok || name == "" {
		return "", "", 0, false
	}
	j = memo(j)
	if j >= len(buf) || buf[j] != opSTACK_GLOBAL {
		return "", "", 0, false
	}
	return mod, name, j, true
}

// afterBuild handles joblib's NumpyArrayWrapper: joblib writes the array's raw
// bytes into the stream right after the wrapper's BUILD, outside any opcode. The
// size comes from the wrapper's state (shape, dtype, alignment padding); object
// arrays are a nested pickle instead. It returns a reason when the stream cannot be
// followed further.
func (m *machine) afterBuild(inst slot) (string, error) {
	cls := m.className(inst)
	if cls != "joblib.numpy_pickle.NumpyArrayWrapper" && cls != "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper" {
		return "", nil
	}
	// joblib commits the pickle's frame before writing the array, and reads
	// the array from the file, not through the frame: the frame ends here.
	if off := m.st.Offset(); m.frameEnd != 0 && off > m.frameEnd {
		m.leaveFrame(off)
	}
	m.frameEnd = 0
	p := m.val(inst)
	state := m.dictGet(m.objOf(p).state)
	shape, ok := m.intTuple(state["shape"])
	if !ok {
		return "joblib array wrapper without a readable shape", nil
	}
	itemsize, object, ok := m.dtypeSize(state["dtype"])
	if !ok {
		// A dtype we cannot read: when a pickle follows (PROTO), joblib may well
		// load it (an object dtype), so it is scanned as one rather than left.
		if h := m.st.Peek(2); len(h) == 2 && h[0] == opPROTO && h[1] <= 5 {
			object = true
		} else {
			return "joblib array wrapper with an unsupported dtype", nil
		}
	}
	if object {
		// pickle.dump(array, protocol=2) follows: one nested pickle, inline.
		sub := m.a.newMachine(m.ctx, m.st, m.l, false)
		sub.base = m.base
		res, err := sub.run()
		if err != nil {
			sub.release()
			return "", err
		}
		sub.report(res.stopped && sub.firstErr == "")
		sub.release()
		if !res.stopped {
			return "joblib object array: " + res.fatal, nil
		}
		return "", nil
	}
	n := uint64(itemsize)
	for _, d := range shape {
		if d < 0 {
			return "joblib array with a negative dimension", nil
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			m.add(ruleStructHuge, m.st.Offset(), map[string]any{"format": "joblib"}, "joblib array", "declared array size overflows 64 bits")
			return "joblib array size overflows", nil
		}
		n = lo
	}
	// joblib's read_array: when numpy_array_alignment_bytes is present and not
	// None (True, 0 and any other value included), one byte gives the padding
	// length and that many bytes are skipped, whatever the alignment says.
	if align, present := state["numpy_array_alignment_bytes"]; present && align.k != kNone {
		if align.k == kOpaque {
			return "joblib array alignment is not a known value", nil
		}
		pad, err := m.st.ReadByte()
		if err != nil {
			return "joblib array padding is truncated", nil
		}
		if err := m.st.Skip(int64(pad)); err != nil {
			return "joblib array padding is truncated", nil
		}
	}
	if rem := m.st.remaining(); rem >= 0 && n > uint64(rem) {
		m.add(ruleStructPastEnd, m.st.Offset(), map[string]any{"format": "joblib", "declared_bytes": n, "remaining": rem},
			"joblib array", fmt.Sprintf("declares %d bytes of array data but %d remain", n, rem))
		return "joblib array data past the end", nil
	}
	if err := m.st.Skip(int64(n)); err != nil {
		if err == errTruncated {
			return "joblib array data is truncated", nil
		}
		return "", err
	}
	return "", nil
}

// dictGet returns a dict value's string-keyed entries (those that were kept).
func (m *machine) dictGet(s slot) map[string]slot {
	out := map[string]slot{}
	p := m.val(s)
	if s.k != kDict || p == nil {
		return out
	}
	for i := 0; i+1 < len(m.itemsOf(p)); i += 2 {
		if k, ok := m.str(m.itemsOf(p)[i]); ok {
			out[k] = m.itemsOf(p)[i+1]
		}
	}
	return out
}

// intTuple returns a fully known tuple (or list) of integers.
func (m *machine) intTuple(s slot) ([]int64, bool) {
	p := m.val(s)
	if (s.k != kTuple && s.k != kList) || p == nil || p.partial || len(m.itemsOf(p)) != int(p.n) {
		return nil, false
	}
	out := make([]int64, 0, len(m.itemsOf(p)))
	for _, it := range m.itemsOf(p) {
		if it.k != kInt {
			return nil, false
		}
		out = append(out, it.v)
	}
	return out, true
}

// dtypeSize reads a pickled numpy.dtype: numpy.dtype('f8', False, True) with the
// BUILD state (version, byteorder, subarray, names, fields, elsize, alignment,
// flags[, metadata]). It returns the item size and whether the dtype holds Python
// objects (numpy's hasobject, for which joblib calls pickle.load on the data).
func (m *machine) dtypeSize(s slot) (int64, bool, bool) {
	return m.dtypeInfo(s, 0)
}

// npyItemRefcount is NPY_ITEM_REFCOUNT (== NPY_ITEM_HASOBJECT): the dtype flag
// numpy's hasobject tests. Object dtypes carry NPY_OBJECT_DTYPE_FLAGS (0x3F),
// structured dtypes with an object field NPY_FROM_FIELDS (0x1B).
const npyItemRefcount = 0x01

// isObjectCode reports whether a dtype code names numpy's object type ('O',
// '|O', 'O8', 'object', 'object_').
func isObjectCode(code string) bool {
	t := strings.TrimLeft(code, "<>|=")
	switch t {
	case "object", "object_", "O", "O4", "O8":
		return true
	}
	return false
}

// headDtypeHoldsObjects reads a dtype's subarray (base, shape) or a field's
// (dtype, offset[, title]): a tuple of at least minItems whose first item is a dtype.
// ok is false when it is not one this scanner understands.
func (m *machine) headDtypeHoldsObjects(s slot, minItems, depth int) (obj, ok bool) {
	p := m.val(s)
	if s.k != kTuple || p == nil || len(m.itemsOf(p)) < minItems {
		return false, false
	}
	_, obj, ok = m.dtypeInfo(m.itemsOf(p)[0], depth+1)
	return obj, ok
}

func (m *machine) dtypeInfo(s slot, depth int) (int64, bool, bool) {
	if depth > 8 || m.className(s) != "numpy.dtype" {
		return 0, false, false
	}
	p := m.val(s)
	o := m.objOf(p)
	ap := m.val(o.args)
	if ap == nil || len(m.itemsOf(ap)) == 0 {
		return 0, false, false
	}
	first := m.itemsOf(ap)[0]
	if first.k == kGlobal {
		if gp := m.val(first); gp != nil {
			switch m.sOf(gp) {
			case "builtins.object", "__builtin__.object", "numpy.object_", "numpy.core.numerictypes.object_":
				return 8, true, true
			}
		}
		return 0, false, false
	}
	code, ok := m.str(first)
	if !ok || code == "" {
		return 0, false, false
	}
	if code[0] == 'O' || isObjectCode(code) {
		return 8, true, true
	}
	size, _, codeOK := dtypeStrSize(code)
	// NumPy takes the state's elsize only for flexible types (S, U, V); for
	// numbers the code decides. Reading elsize for them would let a file make
	// the scanner skip a different number of bytes than joblib reads.
	trimmed := strings.TrimLeft(code, "<>|=")
	if trimmed == "" {
		return 0, false, false
	}
	flexible := strings.IndexByte("SUVa", trimmed[0]) >= 0
	sp := m.val(o.state)
	if sp == nil || o.state.k != kTuple || len(m.itemsOf(sp)) < 6 {
		if !codeOK || size <= 0 {
			return 0, false, false
		}
		return size, false, true
	}
	st := m.itemsOf(sp)
	// The state's flags become the dtype's flags: hasobject is their
	// NPY_ITEM_REFCOUNT bit, whatever the code says.
	if len(st) >= 8 {
		switch fl := st[7]; fl.k {
		case kInt:
			if fl.v&npyItemRefcount != 0 {
				return 8, true, true
			}
		case kNone:
		default:
			return 0, false, false
		}
	}
	// A subarray (base dtype, shape) or fields {name: (dtype, offset[, title])}
	// holding objects makes the whole dtype hold them too.
	if sub := st[2]; sub.k != kNone {
		obj, ok := m.headDtypeHoldsObjects(sub, 1, depth)
		if !ok {
			return 0, false, false
		}
		if obj {
			return 8, true, true
		}
	}
	if fields := st[4]; fields.k != kNone {
		fp := m.val(fields)
		if fields.k != kDict || fp == nil || fp.partial {
			return 0, false, false
		}
		items := m.itemsOf(fp)
		for i := 1; i < len(items); i += 2 {
			obj, ok := m.headDtypeHoldsObjects(items[i], 2, depth)
			if !ok {
				return 0, false, false
			}
			if obj {
				return 8, true, true
			}
		}
		// A structured dtype without objects: its item size is elsize.
		if el := st[5]; el.k == kInt && el.v > 0 {
			return el.v, false, true
		}
		return 0, false, false
	}
	if el := st[5]; flexible && el.k == kInt && el.v > 0 {
		return el.v, false, true
	}
	if !codeOK || size <= 0 {
		return 0, false, false
	}
	return size, false, true
}
