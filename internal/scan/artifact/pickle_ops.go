package artifact

// The pickle machine's opcode loop (run) and the readers of the operands that
// follow an opcode in the stream: fixed-width integers, length-prefixed strings
// and bytes, and the nested pickles or archives such bytes may hold.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unsafe"

	"mirror/internal/scan"
)

// run executes opcodes until STOP, the end of the stream or a fatal error.
func (m *machine) run() (res pickleResult, err error) {
	st := m.st
	for {
		m.ops++
		if m.ops&0xffff == 0 {
			if err := m.ctx.Err(); err != nil {
				return res, fmt.Errorf("pickle scan: %w", err)
			}
		}
		if len(m.stack) > maxStack || len(m.marks) > maxStack {
			res.fatal, res.abort = fmt.Sprintf("stack deeper than %d entries", maxStack), true
			return res, nil
		}
		off := st.Offset()
		if m.frameEnd != 0 && off >= m.frameEnd {
			m.leaveFrame(off)
		}
		op, ok := st.takeByte()
		var rerr error
		if !ok {
			op, rerr = st.readByteSlow()
		}
		if rerr != nil {
			if rerr == errTruncated {
				res.fatal, res.fatalOff = "stream ends before STOP", off
				return res, nil
			}
			return res, rerr
		}
		var e error
		switch op {
		case opMARK:
			m.marks = append(m.marks, len(m.stack))
			m.floor = len(m.stack)
		case opSTOP:
			res.top = m.pop()
			res.stopped = true
			return res, nil
		case opPOP:
			if len(m.stack) > m.floor {
				m.stack = m.stack[:len(m.stack)-1]
			} else {
				m.popMark()
			}
		case opPOP_MARK:
			m.popMark()
		case opDUP:
			m.push(m.top())
			m.shared = m.shared || isContainer(m.top().k)
		case opNONE:
			m.push(slot{k: kNone})
		case opNEWTRUE:
			m.push(slot{k: kBool, v: 1})
		case opNEWFALSE:
			m.push(slot{k: kBool})
		case opBINFLOAT:
			_, e = st.Next(8)
			m.push(slot{k: kFloat})
		case opBININT:
			var u uint64
			u, e = m.readUint(4)
			m.push(slot{k: kInt, v: int64(int32(uint32(u)))})
		case opBININT1:
			var u uint64
			u, e = m.readUint(1)
			m.push(slot{k: kInt, v: int64(u)})
		case opBININT2:
			var u uint64
			u, e = m.readUint(2)
			m.push(slot{k: kInt, v: int64(u)})
		case opLONG1:
			var n uint64
			if n, e = m.readUint(1); e == nil {
				var s slot
				s, e = m.readLong(n, op)
				m.push(s)
			}
		case opLONG4:
			var n uint64
			if n, e = m.readUint(4); e == nil {
				if int32(uint32(n)) < 0 {
					res.fatal, res.fatalOff = "LONG4 with negative length", off
					return res, nil
				}
				var s slot
				s, e = m.readLong(n, op)
				m.push(s)
			}
		case opINT, opLONG, opFLOAT:
			var line []byte
			var long bool
			if line, long, e = m.line(1024); e == nil {
				if long {
					m.push(m.longNumberLine(op, line))
				} else {
					m.push(m.parseNumberLine(op, line))
				}
			}
		case opSTRING:
			var line []byte
			var long bool
			if line, long, e = m.line(maxStrKeep * 4); e == nil {
				if long {
					// Consumed to its newline; only a prefix was kept, so the
					// value is unknown (an import built from it is computed).
					if len(line) == 0 || (line[0] != '\'' && line[0] != '"') {
						m.fail("STRING argument is not quoted")
					}
					m.push(slot{k: kStr, v: -1})
					break
				}
				s, ok := unquotePy2(line)
				if !ok {
					m.fail("STRING argument is not quoted")
				}
				m.push(m.strSlot(kStr, []byte(s)))
			}
		case opUNICODE:
			var line []byte
			var long bool
			if line, long, e = m.line(maxStrKeep * 4); e == nil {
				if long {
					m.push(slot{k: kStr, v: -1})
					break
				}
				u := rawUnicodeEscape(line)
				m.push(m.strSlot(kStr, []byte(u)))
			}
		case opBINSTRING, opSHORT_BINSTRING, opSHORT_BINUNICODE, opBINUNICODE, opBINUNICODE8,
			opBINBYTES, opSHORT_BINBYTES, opBINBYTES8, opBYTEARRAY8:
			lp := lengthPrefixed[op]
			var n uint64
			if n, e = m.readUint(lp.width); e == nil {
				if lp.signed && int32(uint32(n)) < 0 {
					res.fatal, res.fatalOff = opNameTab[op]+" with negative length", off
					return res, nil
				}
				var s slot
				if lp.bytes {
					s, e = m.readBytes(n, op)
				} else {
					s, e = m.readString(kStr, n, op)
				}
				m.push(s)
			}
		case opNEXT_BUFFER:
			m.push(opaque)
		case opREADONLY_BUFFER:
		case opEMPTY_TUPLE:
			// Tuples are immutable (addItems refuses them), so one value serves all.
			if m.emptyTuple.v == 0 {
				m.emptyTuple = m.container(kTuple, nil)
			}
			m.push(m.emptyTuple)
		case opTUPLE:
			m.push(m.container(kTuple, m.popMark()))
		case opTUPLE1, opTUPLE2, opTUPLE3:
			n := int(op-opTUPLE1) + 1
			if len(m.stack) < n {
				m.fail("stack underflow")
				for len(m.stack) < n {
					m.stack = append([]slot{opaque}, m.stack...)
				}
			}
			items := m.stack[len(m.stack)-n:]
			t := m.container(kTuple, items)
			m.stack = m.stack[:len(m.stack)-n]
			m.push(t)
		case opEMPTY_LIST:
			m.push(m.alloc(kList, pval{}))
		case opLIST:
			m.push(m.container(kList, m.popMark()))
		case opAPPEND:
			v := m.pop()
			m.addItems(m.top(), []slot{v}, op)
		case opAPPENDS:
			items := m.popMark() // valid until the next push
			m.addItems(m.top(), items, op)
		case opEMPTY_DICT:
			m.push(m.alloc(kDict, pval{}))
		case opDICT:
			m.push(m.container(kDict, m.popMark()))
		case opSETITEM:
			v := m.pop()
			k := m.pop()
			m.addItems(m.top(), []slot{k, v}, op)
		case opSETITEMS:
			items := m.popMark() // valid until the next push
			m.addItems(m.top(), items, op)
		case opEMPTY_SET:
			m.push(m.alloc(kSet, pval{}))
		case opADDITEMS:
			items := m.popMark() // valid until the next push
			m.addItems(m.top(), items, op)
		case opFROZENSET:
			m.push(m.container(kSet, m.popMark()))
		case opGET, opBINGET, opLONG_BINGET:
			var key uint64
			var known bool
			key, known, e = m.memoKey(op)
			if e == nil {
				if known {
					v := m.memoGet(key)
					m.shared = m.shared || isContainer(v.k)
					m.push(v)
				} else {
					m.push(opaque)
				}
			}
		case opPUT, opBINPUT, opLONG_BINPUT:
			var key uint64
			var known bool
			key, known, e = m.memoKey(op)
			if e == nil {
				if known {
					m.memoPut(key, m.top())
				} else {
					m.memoLost = true
				}
			}
		case opMEMOIZE:
			m.memoPut(uint64(len(m.memo)+len(m.memoMap)), m.top())
		case opGLOBAL, opINST:
			if g, ok := m.globalLines(op); ok {
				if op == opINST {
					args := m.container(kTuple, m.popMark())
					m.push(m.call(g, args, op))
				} else {
					m.push(g)
				}
				break
			}
			var module, name []byte
			var longMod, longName bool
			if module, longMod, e = m.line(1024); e == nil {
				m.modBuf = append(m.modBuf[:0], module...)
				if name, longName, e = m.line(1024); e == nil {
					var g slot
					if longMod || longName {
						// Protocol 4 resolves dotted names, and os.path.os is os:
						// a long name can reach anything, so it is not guessed at.
						m.computedFinding(off, "GLOBAL/INST operand line longer than 1024 bytes",
							opNameTab[op], quote(string(m.modBuf), 80), quote(string(name), 80))
						g = m.allocStr(kGlobal, pval{imp: -1}, "<computed>")
					} else {
						g = m.global(op, m.modBuf, name, off)
					}
					if op == opINST {
						args := m.container(kTuple, m.popMark())
						m.push(m.call(g, args, op))
					} else {
						m.push(g)
					}
				}
			}
		case opSTACK_GLOBAL:
			nameS := m.pop()
			modS := m.pop()
			module, ok1 := m.str(modS)
			name, ok2 := m.str(nameS)
			if ok1 && ok2 {
				m.push(m.global(op, unsafe.Slice(unsafe.StringData(module), len(module)), unsafe.Slice(unsafe.StringData(name), len(name)), off))
			} else {
				m.computedImport(modS, nameS, off)
				m.push(m.allocStr(kGlobal, pval{imp: -1}, "<computed>"))
			}
		case opEXT1, opEXT2, opEXT4:
			width := map[byte]int{opEXT1: 1, opEXT2: 2, opEXT4: 4}[op]
			var code uint64
			if code, e = m.readUint(width); e == nil {
				if !m.spec {
					m.add(rulePickleExtension, off, map[string]any{"opcode": opNameTab[op], "extension_code": code}, code)
				}
				m.push(m.allocStr(kGlobal, pval{imp: -1}, fmt.Sprintf("<extension %d>", code)))
			}
		case opREDUCE:
			args := m.pop()
			callee := m.pop()
			m.push(m.call(callee, args, op))
		case opNEWOBJ:
			args := m.pop()
			cls := m.pop()
			m.push(m.call(cls, args, op))
		case opNEWOBJ_EX:
			m.pop() // kwargs
			args := m.pop()
			cls := m.pop()
			m.push(m.call(cls, args, op))
		case opOBJ:
			items := m.popMark()
			if len(items) == 0 {
				m.fail("OBJ without a class")
				m.push(opaque)
				break
			}
			cls := items[0]
			args := m.container(kTuple, items[1:])
			m.push(m.call(cls, args, op))
		case opBUILD:
			state := m.pop()
			inst := m.top()
			if inst.k == kGlobal {
				m.mutates(inst, op)
			} else if p := m.val(inst); p != nil && inst.k == kObj && p.obj > 0 {
				m.objOf(p).state = state
				if abort, err := m.afterBuild(inst); err != nil || abort != "" {
					if err != nil {
						return res, err
					}
					res.fatal, res.fatalOff, res.abort = abort, off, true
					return res, nil
				}
			}
		case opPERSID:
			_, _, e = m.line(1024)
			m.push(opaque)
		case opBINPERSID:
			m.pop()
			m.push(opaque)
		case opPROTO:
			var v uint64
			if v, e = m.readUint(1); e == nil {
				m.proto = int(v)
				if v > 5 && !m.spec {
					m.add(rulePickleBadProtocol, off, map[string]any{"opcode": "PROTO", "protocol": v}, v)
				}
			}
		case opFRAME:
			var n uint64
			if n, e = m.readUint(8); e == nil {
				if rem := st.remaining(); rem >= 0 && n > uint64(rem) && !m.spec {
					m.add(rulePickleHugeLength, off, map[string]any{"opcode": "FRAME", "declared_length": n, "remaining": rem}, "FRAME", n)
				}
				if m.frameEnd != 0 && off < m.frameEnd {
					m.frameViolation(off, "FRAME", "a frame begins before the previous one ends")
				}
				m.frameEnd = 0
				if n > 0 && n < 1<<62 {
					m.frameEnd = st.Offset() + int64(n)
				}
			}
		default:
			res.fatal, res.fatalOff = fmt.Sprintf("invalid opcode 0x%02x", op), off
			return res, nil
		}
		if e != nil {
			if errors.Is(e, errTruncated) {
				res.fatal, res.fatalOff = fmt.Sprintf("stream ends inside %s", opName(op)), off
				return res, nil
			}
			if strings.HasPrefix(e.Error(), "line longer") || strings.HasPrefix(e.Error(), "memo key") {
				res.fatal, res.fatalOff = fmt.Sprintf("%s: %v", opName(op), e), off
				return res, nil
			}
			return res, e
		}
	}
}

func opName(op byte) string {
	if n := opNameTab[op]; n != "" {
		return n
	}
	if op >= 0x20 && op < 0x7f {
		return fmt.Sprintf("opcode %q", rune(op))
	}
	return fmt.Sprintf("opcode 0x%02x", op)
}

// lengthPrefixed describes the opcodes whose operand is a little-endian length
// of width bytes and then that many bytes: strings (kept, bounded) or bytes
// (never kept; scanned when they hold a nested pickle or archive). CPython
// reads BINSTRING's length as signed and refuses a negative one.
var lengthPrefixed = [256]struct {
	width  int
	signed bool
	bytes  bool
}{
	opSHORT_BINSTRING:  {width: 1},
	opSHORT_BINUNICODE: {width: 1},
	opBINSTRING:        {width: 4, signed: true},
	opBINUNICODE:       {width: 4},
	opBINUNICODE8:      {width: 8},
	opSHORT_BINBYTES:   {width: 1, bytes: true},
	opBINBYTES:         {width: 4, bytes: true},
	opBINBYTES8:        {width: 8, bytes: true},
	opBYTEARRAY8:       {width: 8, bytes: true},
}

// readUint reads n little-endian bytes as an unsigned integer.
func (m *machine) readUint(n int) (uint64, error) {
	if b, ok := m.st.take(n); ok {
		if n == 1 {
			return uint64(b[0]), nil
		}
		return readUintN(b), nil
	}
	b, err := m.st.Next(n)
	if err != nil {
		return 0, err
	}
	if n == 1 {
		return uint64(b[0]), nil
	}
	return readUintN(b), nil
}

func readUintN(b []byte) uint64 {
	switch len(b) {
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	}
	return binary.LittleEndian.Uint64(b)
}

// checkLength reports a declared length larger than what remains of the stream.
func (m *machine) checkLength(op byte, n uint64) error {
	if rem := m.st.remaining(); rem >= 0 && n > uint64(rem) {
		if !m.spec {
			m.add(rulePickleHugeLength, m.st.Offset()-m.lenWidth(op)-1,
				map[string]any{"opcode": opNameTab[op], "declared_length": n, "remaining": rem}, opNameTab[op], n)
		}
		return errTruncated
	}
	if n > math.MaxInt64/2 {
		return errTruncated
	}
	return nil
}

func (m *machine) lenWidth(op byte) int64 {
	switch op {
	case opBINBYTES8, opBINUNICODE8, opBYTEARRAY8, opFRAME:
		return 8
	case opSHORT_BINBYTES, opSHORT_BINSTRING, opSHORT_BINUNICODE, opLONG1:
		return 1
	}
	return 4
}

// readString reads a length-prefixed string value, keeping content up to
// maxStrKeep bytes; longer ones are skipped and kept as partial.
func (m *machine) readString(k kind, n uint64, op byte) (slot, error) {
	if n <= maxStrKeep {
		if b, ok := m.st.take(int(n)); ok {
			return m.strSlot(k, b), nil
		}
	}
	if err := m.checkLength(op, n); err != nil {
		return opaque, err
	}
	if n <= maxStrKeep {
		b, err := m.st.Next(int(n))
		if err != nil {
			return opaque, err
		}
		return m.strSlot(k, b), nil
	}
	if err := m.st.Skip(int64(n)); err != nil {
		return opaque, err
	}
	return slot{k: k, v: -1}, nil
}

// readBytes handles BINBYTES and friends: the content is never kept; when it looks
// like a nested pickle or archive it is scanned in place, otherwise skipped
// (seeking past tensor data when the source allows).
func (m *machine) readBytes(n uint64, op byte) (slot, error) {
	if err := m.checkLength(op, n); err != nil {
		return opaque, err
	}
	start := m.st.Offset()
	end := start + int64(n)
	if n >= 2 {
		head := m.st.Peek(min(int(n), 8))
		if err := m.scanNested(head, n, start); err != nil {
			return opaque, err
		}
	}
	if cur := m.st.Offset(); cur < end {
		if err := m.st.Skip(end - cur); err != nil {
			return opaque, err
		}
	}
	return slot{k: kBytes, v: int64(min(n, math.MaxInt32))}, nil
}

// scanNested scans a bytes value that is itself a pickle or an archive.
func (m *machine) scanNested(head []byte, n uint64, start int64) error {
	isPickle := len(head) >= 2 && head[0] == opPROTO && head[1] <= 5
	isPickle0 := !isPickle && n <= nestedSniffIn && len(head) >= 2 && (head[0] == opGLOBAL || head[0] == opMARK) && validOpcode[head[1]]
	isZip := len(head) >= 4 && bytes.Equal(head[:4], []byte("PK\x03\x04"))
	if !isPickle && !isPickle0 && !isZip {
		return nil
	}
	member := fmt.Sprintf("bytes@%d", start)
	if m.l.fileOff >= 0 {
		member = fmt.Sprintf("bytes@%d", m.l.fileOff+start)
	}
	fileOff := int64(-1)
	if m.l.fileOff >= 0 {
		fileOff = m.l.fileOff + start
	}
	child := m.l.child(member, fileOff)
	if child.depth > m.a.opts.MaxNesting {
		m.add(ruleNestingTooDeep, start, nil, m.a.opts.MaxNesting)
		return nil
	}
	old := m.st.setLimit(start + int64(n))
	defer m.st.restoreLimit(old)
	if isZip {
		if m.a.nested == nil {
			return nil
		}
		return m.a.nested(m.ctx, m.st, int64(n), child)
	}
	// Speculative: tensor bytes can start like a pickle by chance, so only what
	// is certain (resolved dangerous imports, or a cleanly parsed pickle) counts.
	// Its findings are held apart: a bytes value is only data unless this pickle
	// passes it to a loader (see report).
	sub := &analyzer{opts: m.a.opts, c: newCollector(m.a.opts), nested: m.a.nested}
	err := sub.scanPicklesAt(m.ctx, m.st, child, start, true)
	m.nested = append(m.nested, nestedRec{off: start, l: child, c: sub.c})
	return err
}

// nestedRec is a pickle found in a bytes value and what scanning it found.
type nestedRec struct {
	off int64
	l   loc
	c   *collector
}

// reportNested merges the findings of nested pickles. When this pickle imports
// a loader of nested data (torch.storage._load_from_bytes, pickle.loads …) or
// anything dangerous that could reach one, loading the file unpickles them: their
// findings stand as they are. Otherwise the bytes are only a value handed to the
// application: what the nested pickle would run is reported at medium, naming it,
// since it runs only if the application unpickles the value.
func (m *machine) reportNested() {
	if len(m.nested) == 0 {
		return
	}
	loads := false
	for _, im := range m.imports {
		if im.cls.verdict == verdictNested || im.cls.verdict == verdictDangerous {
			loads = true
		}
	}
	for _, n := range m.nested {
		var would []string
		for _, f := range n.c.findings {
			if loads || f.Severity.Rank() < scan.Medium.Rank() {
				m.a.c.addFinding(f)
				continue
			}
			if imp, ok := f.Evidence["import"].(string); ok && !slices.Contains(would, imp) {
				would = append(would, imp)
			} else if !ok && !slices.Contains(would, f.Title) {
				would = append(would, f.Title)
			}
		}
		m.a.c.notScanned = append(m.a.c.notScanned, n.c.notScanned...)
		if len(would) > 0 {
			m.add(rulePickleNestedPickle, n.off, map[string]any{"nested_member": n.l.member, "would_import": would},
				strings.Join(would, ", "))
		}
	}
	m.nested = nil
}

// leaveFrame is called at the first opcode at or past the current frame's end:
// one that starts past it belongs to an opcode that crossed the boundary.
func (m *machine) leaveFrame(off int64) {
	if off > m.frameEnd {
		m.frameViolation(m.frameEnd, "", "an opcode's argument runs past the end of its frame")
	}
	m.frameEnd = 0
}

// frameViolation reports a frame that CPython's two unpicklers and parsers read
// differently (once per pickle; not for speculative parses).
func (m *machine) frameViolation(off int64, opcode, why string) {
	if m.frameBad || m.spec {
		return
	}
	m.frameBad = true
	ev := map[string]any{"frame_end": m.frameEnd - m.base}
	if opcode != "" {
		ev["opcode"] = opcode
	}
	m.add(rulePickleFrameStraddle, off, ev, why)
}
