package artifact

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unsafe"
)

// Pickle opcodes (CPython Lib/pickletools.py), protocols 0 to 5.
const (
	opMARK             = '('
	opSTOP             = '.'
	opPOP              = '0'
	opPOP_MARK         = '1'
	opDUP              = '2'
	opFLOAT            = 'F'
	opINT              = 'I'
	opBININT           = 'J'
	opBININT1          = 'K'
	opLONG             = 'L'
	opBININT2          = 'M'
	opNONE             = 'N'
	opPERSID           = 'P'
	opBINPERSID        = 'Q'
	opREDUCE           = 'R'
	opSTRING           = 'S'
	opBINSTRING        = 'T'
	opSHORT_BINSTRING  = 'U'
	opUNICODE          = 'V'
	opBINUNICODE       = 'X'
	opAPPEND           = 'a'
	opBUILD            = 'b'
	opGLOBAL           = 'c'
	opDICT             = 'd'
	opEMPTY_DICT       = '}'
	opAPPENDS          = 'e'
	opGET              = 'g'
	opBINGET           = 'h'
	opINST             = 'i'
	opLONG_BINGET      = 'j'
	opLIST             = 'l'
	opEMPTY_LIST       = ']'
	opOBJ              = 'o'
	opPUT              = 'p'
	opBINPUT           = 'q'
	opLONG_BINPUT      = 'r'
	opSETITEM          = 's'
	opTUPLE            = 't'
	opEMPTY_TUPLE      = ')'
	opSETITEMS         = 'u'
	opBINFLOAT         = 'G'
	opPROTO            = 0x80
	opNEWOBJ           = 0x81
	opEXT1             = 0x82
	opEXT2             = 0x83
	opEXT4             = 0x84
	opTUPLE1           = 0x85
	opTUPLE2           = 0x86
	opTUPLE3           = 0x87
	opNEWTRUE          = 0x88
	opNEWFALSE         = 0x89
	opLONG1            = 0x8a
	opLONG4            = 0x8b
	opBINBYTES         = 'B'
	opSHORT_BINBYTES   = 'C'
	opSHORT_BINUNICODE = 0x8c
	opBINUNICODE8      = 0x8d
	opBINBYTES8        = 0x8e
	opEMPTY_SET        = 0x8f
	opADDITEMS         = 0x90
	opFROZENSET        = 0x91
	opNEWOBJ_EX        = 0x92
	opSTACK_GLOBAL     = 0x93
	opMEMOIZE          = 0x94
	opFRAME            = 0x95
	opBYTEARRAY8       = 0x96
	opNEXT_BUFFER      = 0x97
	opREADONLY_BUFFER  = 0x98
)

// opNames names opcodes for evidence.
var opNames = map[byte]string{
	opGLOBAL: "GLOBAL", opSTACK_GLOBAL: "STACK_GLOBAL", opINST: "INST", opOBJ: "OBJ", opREDUCE: "REDUCE",
	opBUILD: "BUILD", opNEWOBJ: "NEWOBJ", opNEWOBJ_EX: "NEWOBJ_EX", opEXT1: "EXT1", opEXT2: "EXT2", opEXT4: "EXT4",
	opSETITEM: "SETITEM", opSETITEMS: "SETITEMS", opAPPEND: "APPEND", opAPPENDS: "APPENDS", opADDITEMS: "ADDITEMS",
	opFRAME: "FRAME", opBINBYTES: "BINBYTES", opBINBYTES8: "BINBYTES8", opBYTEARRAY8: "BYTEARRAY8",
	opBINUNICODE8: "BINUNICODE8", opBINUNICODE: "BINUNICODE", opBINSTRING: "BINSTRING", opLONG4: "LONG4",
	opSHORT_BINBYTES: "SHORT_BINBYTES",
}

// opNameTab is opNames as an array, for the hot path.
var opNameTab = func() (t [256]string) {
	for op, n := range opNames {
		t[op] = n
	}
	return t
}()

// validOpcode marks every byte the CPython unpickler accepts as an opcode.
var validOpcode = func() (v [256]bool) {
	for _, c := range "(.012FIJKLMNPQRSTUVXabcd}eghijl]opqrst)uGBC" {
		v[c] = true
	}
	for c := opPROTO; c <= opREADONLY_BUFFER; c++ {
		v[c] = true
	}
	return v
}()

// kind is the type of a symbolic value on the pickle machine's stack.
type kind uint8

const (
	kOpaque kind = iota // anything whose content is not tracked
	kNone
	kBool
	kInt
	kFloat
	kStr
	kBytes
	kLong
	kTuple
	kList
	kDict
	kSet
	kGlobal
	kObj
)

// slot is a stack, memo or container entry: immediates (ints, bools) in v, others
// an index into the machine's arena. It is small so the hot loop does not allocate.
type slot struct {
	k kind
	v int64
}

var opaque = slot{}

// pval is an arena value: a string, a container, an imported global or the result of
// a call. Containers keep at most maxItems entries (n counts them all).
// It holds no pointers (strings and entries live in the machine's tables), so
// the arena costs the garbage collector nothing.
type pval struct {
	n       int32 // entries (containers) or bytes (strings, bytes) in the original, saturating
	soff    int32 // kStr, kLong, kGlobal: content is sbuf[soff:soff+slen]
	slen    int32
	ioff    int32 // containers and call results: kept entries at slot arena offset ioff
	imp     int32 // kGlobal: index into imports, -1 for derived names
	obj     int32 // kObj: index into the machine's objs (callee, args, state)
	ilen    uint8 // … how many entries are kept (at most maxItems)
	icap    uint8 // … and how many fit before the entries must move
	partial bool  // content was truncated or dropped for the memory budget
}

type recentGlobal struct {
	op  byte
	key string // "module\nname"
	g   slot
}

// objRec is what a call result was built from: the callee, its arguments and the
// state a later BUILD gave it.
type objRec struct{ callee, args, state slot }

const (
	maxItems      = 32      // container entries kept per container
	arenaChunk    = 1024    // values per arena chunk
	slotChunk     = 1024    // container entries per slot chunk
	maxStrKeep    = 4096    // longest string whose content is kept
	maxStack      = 1 << 20 // deeper stacks stop the analysis
	pvalCost      = 96      // approximate bytes per arena value
	nestedSniffIn = 16 << 20
)

// importRec is one distinct import a pickle makes.
type importRec struct {
	module, name string
	cls          classification
	opcode       string
	off          int64
	reduced      bool   // called as a function (REDUCE, INST, OBJ), not only instantiated with NEWOBJ
	unverified   bool   // a nested loader called on something other than a bytes constant scanned here
	via          string // how a derived name was reached (getattr …)
	calls        int    // times called (markCalled), directly, as a partial's function or a reconstructor's base
	toNested     int    // calls that derived a nested loader's name (getattr)
	derived      int    // calls that derived a name (getattr(obj, "name"), import_module("m"))
	binds        int32  // times a functools.partial of a safe function was built with it (bindsSafeFunction)
}

// machine symbolically executes one pickle: it tracks the stack, the memo and
// enough of each value to resolve import names, but calls nothing.
type machine struct {
	ctx        context.Context
	st         *stream
	a          *analyzer
	l          loc
	stack      []slot
	marks      []int
	emptyTuple slot // the shared value of EMPTY_TUPLE
	floor      int  // the last mark (the height pop may not go below), 0 without marks
	memo       []slot
	memoMap    map[uint64]slot
	arena      [][]pval // chunks of arenaChunk values, so growth never copies
	nvals      int64
	slots      [][]slot // chunks of slotChunk container entries
	nslots     int      // entries used in slots
	// sbuf holds the string contents of values. Strings returned by sOf point
	// into it and are valid until the machine is released: whatever outlives
	// the machine (imports, evidence) is cloned.
	sbuf    []byte
	objs    []objRec
	globs   map[string]slot // GLOBAL/STACK_GLOBAL operands already resolved, to their value
	scratch []byte
	modBuf  []byte
	lineBuf []byte // the kept prefix of a protocol 0 argument line too long to buffer
	// computed holds STACK_GLOBAL operands that are not constants, seen while
	// speculative: they are reported once the pickle proves real (parses cleanly).
	computed []computedRec
	// recent are the last globals resolved, checked before globs: checkpoints
	// repeat two or three names.
	recent     [4]recentGlobal
	nextRecent int
	used       int64
	budget     int64
	overBudg   bool
	memoLost   bool // a PUT's key was too long to read: later GETs may miss
	imports    []importRec
	impIndex   map[string]int
	proto      int
	firstErr   string
	errOff     int64
	mutated    []importRec
	// nested are the findings of pickles found inside bytes values, held until
	// report knows whether this pickle hands bytes to a loader.
	nested []nestedRec
	spec   bool // speculative: parsing bytes that may not be a pickle
	ops    int
	// frameEnd is the stream offset where the current FRAME ends (0: none).
	// An opcode that starts inside a frame and ends past it, or a FRAME
	// inside a frame, is read differently by CPython's C and Python
	// unpicklers and by parsers (cpython#154848): reported once.
	frameEnd int64
	frameBad bool
	// shared is set when a container is pushed a second time (GET, DUP), the
	// precondition of an expansion (checkExpansion).
	shared bool
	base   int64 // stream offset of the region's first byte; evidence offsets are relative to it
}

// add records a finding at stream offset off (converted to the region's offsets).
func (m *machine) add(r rule, off int64, ev map[string]any, args ...any) {
	if off >= 0 {
		off -= m.base
	}
	m.a.c.add(m.l, r, off, ev, args...)
}

// analyzer carries what every pickle in one input shares.
type analyzer struct {
	opts Options
	c    *collector
	// nested scans a nested blob that is not a pickle (a zip in a bytes value).
	nested func(ctx context.Context, st *stream, n int64, l loc) error
}

// pickleResult is how one pickle ended.
type pickleResult struct {
	top      slot
	stopped  bool   // reached STOP
	fatal    string // why parsing stopped early, "" if it did not
	fatalOff int64
	abort    bool // the stream cannot be continued (joblib size unknown, budget)
}

// machinePool recycles machines' stacks, memo and value arenas: a checkpoint
// scan runs several pickles, and a scan service runs many scans.
var machinePool = newFreeList(4, func() *machine { return new(machine) })

// maxPooledBytes is the largest machine (by the memory its tables hold) kept
// for reuse; bigger ones are left to the garbage collector.
const maxPooledBytes = 2 << 20

func (a *analyzer) newMachine(ctx context.Context, st *stream, l loc, spec bool) *machine {
	m := machinePool.get()
	if m.impIndex == nil {
		m.impIndex = map[string]int{}
		m.globs = map[string]slot{}
		m.objs = make([]objRec, 1, 64) // index 0 is never used
	} else {
		clear(m.impIndex)
		clear(m.globs)
	}
	*m = machine{
		ctx: ctx, st: st, a: a, l: l, budget: a.opts.MaxPickleMemory, spec: spec,
		stack: m.stack[:0], marks: m.marks[:0], memo: m.memo[:0], arena: m.arena, slots: m.slots,
		objs: m.objs[:1], sbuf: m.sbuf[:0], imports: m.imports[:0], mutated: m.mutated[:0], impIndex: m.impIndex, globs: m.globs,
		scratch: m.scratch[:0], modBuf: m.modBuf[:0], lineBuf: m.lineBuf[:0], computed: m.computed[:0],
	}
	m.alloc(kOpaque, pval{}) // index 0 is never used
	// A fresh machine sizes its tables for the region (checkpoint pickles make
	// about one call per 80 bytes and a string byte per 4) rather than growing
	// them by doubling.
	if rem := st.remaining(); rem > 0 && cap(m.objs) < 1024 {
		n := int(min(rem, 256<<10))
		m.objs = slices.Grow(m.objs, n/80)
		m.sbuf = slices.Grow(m.sbuf, n/4)
		m.stack = slices.Grow(m.stack, n/128)
	}
	return m
}

// release returns the machine to the pool; it must not be used afterwards.
func (m *machine) release() {
	held := len(m.arena)*arenaChunk*int(unsafe.Sizeof(pval{})) + len(m.slots)*slotChunk*int(unsafe.Sizeof(slot{})) +
		cap(m.objs)*int(unsafe.Sizeof(objRec{})) + cap(m.sbuf) + (cap(m.stack)+cap(m.memo))*int(unsafe.Sizeof(slot{})) +
		cap(m.marks)*8 + len(m.impIndex)*64 + len(m.globs)*64 + cap(m.imports)*int(unsafe.Sizeof(importRec{}))
	if held > maxPooledBytes || m.memoMap != nil {
		return
	}
	m.ctx, m.st, m.a = nil, nil, nil
	machinePool.put(m)
}

// alloc adds an arena value, or returns false when the budget is spent.
func (m *machine) alloc(k kind, p pval) slot {
	return m.allocCost(k, p, 0)
}

// allocStr adds a value whose content is str.
func (m *machine) allocStr(k kind, p pval, str string) slot {
	return m.allocBytes(k, p, unsafe.Slice(unsafe.StringData(str), len(str)))
}

// allocBytes adds a value whose content is a copy of b.
func (m *machine) allocBytes(k kind, p pval, b []byte) slot {
	if m.used+int64(pvalCost+len(b)) > m.budget || len(m.sbuf)+len(b) > math.MaxInt32 {
		m.overBudg = true
		return slot{k: k, v: 0}
	}
	p.soff, p.slen = int32(len(m.sbuf)), int32(len(b))
	m.sbuf = append(m.sbuf, b...)
	return m.allocCost(k, p, int64(len(b)))
}

// sOf is a value's string content.
func (m *machine) sOf(p *pval) string {
	if p == nil || p.slen <= 0 || int(p.soff)+int(p.slen) > len(m.sbuf) {
		return ""
	}
	return unsafe.String(&m.sbuf[p.soff], int(p.slen))
}

// itemsOf is a container's kept entries (read only).
func (m *machine) itemsOf(p *pval) []slot {
	if p == nil || p.ilen == 0 {
		return nil
	}
	c, i := int(p.ioff)/slotChunk, int(p.ioff)%slotChunk
	return m.slots[c][i : i+int(p.ilen) : i+int(p.ilen)]
}

func (m *machine) allocCost(k kind, p pval, extra int64) slot {
	cost := int64(pvalCost+int(p.icap)*16) + extra
	c, i := m.nvals/arenaChunk, m.nvals%arenaChunk
	if m.used+cost > m.budget || c >= int64(len(m.arena)) {
		return m.allocSlow(k, p, cost)
	}
	m.used += cost
	m.arena[c][i] = p
	m.nvals++
	return slot{k: k, v: m.nvals - 1}
}

func (m *machine) allocSlow(k kind, p pval, cost int64) slot {
	if m.used+cost > m.budget {
		m.overBudg = true
		return slot{k: k, v: 0}
	}
	m.arena = append(m.arena, make([]pval, arenaChunk))
	return m.allocCost(k, p, cost-int64(pvalCost+int(p.icap)*16))
}

// reserveSlots reserves n (≤ slotChunk) contiguous entries in the slot arena
// and returns their offset.
func (m *machine) reserveSlots(n int) int32 {
	c, i := m.nslots/slotChunk, m.nslots%slotChunk
	if i+n > slotChunk {
		c, i = c+1, 0
		m.nslots = c * slotChunk
	}
	for c >= len(m.slots) {
		m.slots = append(m.slots, make([]slot, slotChunk))
	}
	m.nslots += n
	return int32(c*slotChunk + i)
}

func (m *machine) slotsAt(off int32, n int) []slot {
	c, i := int(off)/slotChunk, int(off)%slotChunk
	return m.slots[c][i : i+n]
}

// newObj records a call's callee and arguments.
func (m *machine) newObj(callee, args slot) int32 {
	if len(m.objs) >= math.MaxInt32 {
		return 0
	}
	m.objs = append(m.objs, objRec{callee: callee, args: args})
	return int32(len(m.objs) - 1)
}

// objOf returns what a call result was built from (zero slots for other values).
func (m *machine) objOf(p *pval) *objRec {
	if p == nil || p.obj <= 0 || int(p.obj) >= len(m.objs) {
		return &objRec{}
	}
	return &m.objs[p.obj]
}

func (m *machine) val(s slot) *pval {
	if s.v <= 0 || s.v >= m.nvals {
		return nil
	}
	switch s.k {
	case kTuple, kList, kDict, kSet, kGlobal, kObj:
		return &m.arena[s.v/arenaChunk][s.v%arenaChunk]
	}
	return nil
}

// str returns a string value's full content.
func (m *machine) str(s slot) (string, bool) {
	if s.k != kStr {
		return "", false
	}
	return m.strOf(s)
}

// strSlot keeps a copy of b as a string (or long) value. Strings need no arena
// value: the slot holds where the content is (offset<<32 | length), or -1 when
// the content was not kept.
func (m *machine) strSlot(k kind, b []byte) slot {
	if m.used+int64(16+len(b)) > m.budget || len(m.sbuf)+len(b) > math.MaxInt32 {
		m.overBudg = true
		return slot{k: k, v: -1}
	}
	m.used += int64(16 + len(b))
	off := len(m.sbuf)
	m.sbuf = append(m.sbuf, b...)
	return slot{k: k, v: int64(off)<<32 | int64(len(b))}
}

// strOf returns a kStr or kLong value's content when it was kept.
func (m *machine) strOf(s slot) (string, bool) {
	if (s.k != kStr && s.k != kLong) || s.v < 0 {
		return "", false
	}
	off, n := int(s.v>>32), int(uint32(s.v))
	if n == 0 {
		return "", true
	}
	if off+n > len(m.sbuf) {
		return "", false
	}
	return unsafe.String(&m.sbuf[off], n), true
}

func (m *machine) fail(format string, args ...any) {
	if m.firstErr == "" {
		m.firstErr = fmt.Sprintf(format, args...)
		m.errOff = m.st.Offset() - 1
	}
}

func (m *machine) push(s slot) {
	m.stack = append(m.stack, s)
}

func (m *machine) pop() slot {
	if n := len(m.stack); n > m.floor {
		s := m.stack[n-1]
		m.stack = m.stack[:n-1]
		return s
	}
	return m.underflow()
}

// setFloor recomputes floor after the marks change.
func (m *machine) setFloor() {
	m.floor = 0
	if n := len(m.marks); n > 0 {
		m.floor = m.marks[n-1]
	}
}

func (m *machine) underflow() slot {
	m.fail("stack underflow")
	return opaque
}

func (m *machine) top() slot {
	if n := len(m.stack); n > 0 {
		return m.stack[n-1]
	}
	m.fail("stack underflow")
	return opaque
}

// popMark removes and returns the items above the last mark.
func (m *machine) popMark() []slot {
	if len(m.marks) == 0 {
		m.fail("mark not found")
		items := m.stack
		m.stack = m.stack[:0]
		return items
	}
	at := m.marks[len(m.marks)-1]
	m.marks = m.marks[:len(m.marks)-1]
	m.setFloor()
	if at > len(m.stack) {
		at = len(m.stack)
	}
	items := m.stack[at:]
	m.stack = m.stack[:at]
	return items
}

// container builds a tuple/list/set value from items (copied, bounded).
func (m *machine) container(k kind, items []slot) slot {
	keep := items
	if len(keep) > maxItems {
		keep = keep[:maxItems]
	}
	p := pval{n: int32(min(len(items), math.MaxInt32)), partial: len(items) > maxItems}
	if len(keep) > 0 {
		p.ioff = m.reserveSlots(len(keep))
		p.ilen, p.icap = uint8(len(keep)), uint8(len(keep))
		copy(m.slotsAt(p.ioff, len(keep)), keep)
	}
	return m.alloc(k, p)
}

// expansionWalk is where a value's walk becomes a finding: past 2^32 visits
// (hours of repr or hashing) from a pickle that loads in microseconds. Real
// data shares objects (interned strings, a dtype) but does not nest shares of
// shares, so its walk is about as long as its pickle.
const expansionWalk = 1 << 32

// maxWalkDepth bounds the recursion of checkExpansion; deeper values count as one.
const maxWalkDepth = 10_000

// isContainer reports whether values of kind k hold other values.
func isContainer(k kind) bool {
	return k == kTuple || k == kList || k == kDict || k == kSet || k == kObj
}

// checkExpansion reports a billion-laughs result: top, the value the pickle
// loads to, visits more than expansionWalk values when walked recursively (by
// repr, the hash of a tuple, json.dumps or ==), shared containers counted each
// time they are reached. It runs once the pickle has stopped, over the values
// as they ended (containers filled after they were shared included), and only
// when some container was pushed twice (GET or DUP): without that no value is
// reached twice. A container already on the walk's path is a cycle, at which
// repr and deep copies stop: it counts once. Objects (a call's result) count
// their arguments and state. Entries past the kept maxItems count one each,
// so a walk is a lower bound.
func (m *machine) checkExpansion(top slot) {
	if !m.shared || m.nvals <= 1 {
		return
	}
	memo := make([]float32, m.nvals) // 0: not walked; -1: on the walk's path
	var walk func(s slot, depth int) float64
	walk = func(s slot, depth int) float64 {
		if !isContainer(s.k) {
			return 1
		}
		p := m.val(s)
		if p == nil || depth > maxWalkDepth {
			return 1
		}
		switch w := memo[s.v]; {
		case w < 0:
			return 1 // a cycle
		case w > 0:
			return float64(w)
		}
		memo[s.v] = -1
		w := 1.0
		if s.k == kObj {
			if o := m.objOf(p); o != nil {
				w += walk(o.args, depth+1) + walk(o.state, depth+1)
			}
		} else {
			for _, it := range m.itemsOf(p) {
				w += walk(it, depth+1)
			}
			w += float64(max(int(p.n)-int(p.ilen), 0))
		}
		memo[s.v] = float32(min(w, math.MaxFloat32))
		return w
	}
	if w := walk(top, 0); w > expansionWalk {
		exp := int(min(math.Log2(w), 128))
		m.add(rulePickleExpansion, -1, map[string]any{"walk_log2": exp}, exp, "shared containers nested in shared containers")
	}
}

// addItems appends items to a container value, keeping at most maxItems.
func (m *machine) addItems(target slot, items []slot, op byte) {
	if target.k == kGlobal {
		m.mutates(target, op)
		return
	}
	if target.k == kTuple {
		m.fail("%s on a tuple", opName(op)) // CPython stops here too
		return
	}
	p := m.val(target)
	if p == nil {
		return
	}
	p.n = int32(min(int64(p.n)+int64(len(items)), math.MaxInt32))
	for _, it := range items {
		if p.ilen >= maxItems {
			p.partial = true
			return
		}
		if m.used+16 > m.budget {
			m.overBudg = true
			p.partial = true
			return
		}
		m.used += 16
		if p.ilen == p.icap {
			// Move the entries to a bigger run (the old one is left unused).
			want := min(max(2*int(p.icap), len(items), 4), maxItems)
			off := m.reserveSlots(want)
			copy(m.slotsAt(off, int(p.ilen)), m.itemsOf(p))
			p.ioff, p.icap = off, uint8(want)
		}
		m.slotsAt(p.ioff+int32(p.ilen), 1)[0] = it
		p.ilen++
	}
}

// mutates records a BUILD/SETITEM/APPEND applied to an imported object itself:
// monkey-patching a module, class or registry the host will use.
func (m *machine) mutates(target slot, op byte) {
	rec := importRec{opcode: opNameTab[op], off: m.st.Offset() - 1}
	if p := m.val(target); p != nil {
		rec.name = strings.Clone(m.sOf(p))
	} else {
		rec.name = "an imported object"
	}
	m.mutated = append(m.mutated, rec)
}

// recordImport notes an import and returns the global value for the stack.
func (m *machine) recordImport(module, name, opcode string, off int64, via string) slot {
	// Names may point into the machine's string chunks; findings outlive them.
	module, name = strings.Clone(module), strings.Clone(name)
	cls := classify(module, name)
	key := cls.name + "\x00" + opcode + "\x00" + via
	idx, ok := m.impIndex[key]
	if !ok {
		if len(m.imports) < 10000 {
			idx = len(m.imports)
			m.imports = append(m.imports, importRec{module: module, name: name, cls: cls, opcode: opcode, off: off, via: via})
			m.impIndex[key] = idx
		} else {
			idx = -1
		}
	}
	return m.allocStr(kGlobal, pval{imp: int32(idx)}, cls.name)
}

// global resolves a GLOBAL, INST or STACK_GLOBAL operand pair. Real checkpoints
// import the same few names hundreds of times, so the value made for a pair is
// reused: imported globals are never modified in place.
func (m *machine) global(op byte, module, name []byte, off int64) slot {
	m.scratch = append(append(append(append(m.scratch[:0], op), module...), '\n'), name...)
	if g, ok := m.recentGlobal(op, m.scratch[1:]); ok {
		return g
	}
	if g, ok := m.globs[string(m.scratch)]; ok {
		return g
	}
	g := m.recordImport(string(module), string(name), opNameTab[op], off, "")
	if g.v <= 0 || len(m.globs) >= 4096 {
		return g
	}
	key := string(m.scratch)
	m.globs[key] = g
	m.recent[m.nextRecent%len(m.recent)] = recentGlobal{op: op, key: key[1:], g: g}
	m.nextRecent++
	return g
}

// recentGlobal looks "module\nname" up among the last globals resolved.
func (m *machine) recentGlobal(op byte, key []byte) (slot, bool) {
	for i := range m.recent {
		if r := &m.recent[i]; r.g.v > 0 && r.op == op && r.key == string(key) {
			return r.g, true
		}
	}
	return slot{}, false
}

// globalLines is the fast path of GLOBAL and INST: both operand lines are in the
// buffer and name a global resolved recently.
func (m *machine) globalLines(op byte) (slot, bool) {
	st := m.st
	b := st.buf[st.r:st.end]
	i := bytes.IndexByte(b, '\n')
	if i < 0 || i >= 1024 {
		return slot{}, false
	}
	j := bytes.IndexByte(b[i+1:], '\n')
	if j < 0 || j >= 1024 {
		return slot{}, false
	}
	g, ok := m.recentGlobal(op, b[:i+1+j])
	if ok {
		st.r += i + 1 + j + 1
	}
	return g, ok
}

// call models REDUCE, NEWOBJ, INST and OBJ: marks the callee as called and, for the
// indirections attackers use to hide a name (getattr, import_module), derives the
// name that the call would produce.
func (m *machine) call(callee, args slot, op byte) slot {
	off := m.st.Offset() - 1
	res := pval{imp: -1}
	if callee.k == kObj && op != opNEWOBJ && op != opNEWOBJ_EX {
		m.callPartial(callee)
	}
	if callee.k == kGlobal {
		if p := m.val(callee); p != nil {
			if p.imp >= 0 && op == opREDUCE && m.bindsSafeFunction(m.sOf(p), args) {
				m.imports[p.imp].binds++
			} else if p.imp >= 0 {
				m.markCalled(p.imp, op != opNEWOBJ && op != opNEWOBJ_EX)
				if m.imports[p.imp].cls.verdict == verdictNested && !m.bytesArg(args) {
					m.imports[p.imp].unverified = true
				}
			}
			if m.sOf(p) == "copyreg._reconstructor" && op != opNEWOBJ && op != opNEWOBJ_EX {
				m.reconstructorBase(args)
			}
			if derived, ok := m.derive(m.sOf(p), args); ok {
				if p.imp >= 0 {
					m.imports[p.imp].derived++
				}
				if p.imp >= 0 && (nestedLoaders[derived] || safeExact[derived]) {
					// (or a name on the allow-list: getattr(ZoneInfo, "_unpickle")
					// is how CPython pickles a classmethod below protocol 4)
					// getattr that only reaches a loader whose bytes are scanned here
					// (Keras 3's Model._unpickle_model) is that loader's call, not an
					// indirection of its own
					m.imports[p.imp].toNested++
				}
				return m.recordImportDerived(derived, strings.Clone(m.sOf(p)), off)
			}
		}
	}
	res.obj = m.newObj(callee, args)
	return m.alloc(kObj, res)
}

// onlyMethodReferences reports whether every call of a builtins.getattr import
// derived a plain attribute name that nothing then calls and no list calls
// dangerous: how CPython pickles a bound method kept as a value (a module's
// registered hook, getattr(module, "_infer_parameters")). The derived names are
// still reported (medium when on no list); a derived name that is called, a
// dunder, or dangerous keeps the getattr a dangerous call.
func (m *machine) onlyMethodReferences(im importRec) bool {
	if im.cls.name != "builtins.getattr" || im.calls == 0 || im.derived != im.calls || im.via != "" {
		return false
	}
	n := 0
	for _, d := range m.imports {
		if d.via != im.module+"."+im.name && d.via != im.cls.name {
			continue
		}
		n++
		if d.calls > 0 || d.cls.verdict == verdictDangerous || d.cls.verdict == verdictNested || !strings.HasPrefix(d.cls.name, "<object>.") {
			return false // only methods of objects the pickle built; getattr on a global stays a call
		}
	}
	return n > 0
}

// partialNames build a callable that calls their first argument later.
var partialNames = setOf("functools.partial", "_functools.partial", "functools.partialmethod")

// bindsSafeFunction reports whether fn(args) only builds a functools.partial
// of a global that is not dangerous: what pickle writes for a partial (an
// sklearn FunctionTransformer(partial(np.round, decimals=2)), gensim's
// TF-IDF weighting functions). Building it calls nothing; calling the partial
// later is a call of its function (callPartial).
func (m *machine) bindsSafeFunction(fn string, args slot) bool {
	if !partialNames[fn] {
		return false
	}
	ap := m.val(args)
	if args.k != kTuple || ap == nil || len(m.itemsOf(ap)) != 1 {
		return false
	}
	f := m.itemsOf(ap)[0]
	if f.k != kGlobal {
		return false
	}
	fp := m.val(f)
	return fp != nil && fp.imp >= 0 && m.imports[fp.imp].cls.verdict != verdictDangerous
}

// markCalled records a call of import i, as a function (REDUCE, INST, OBJ)
// when reduce, else an instantiation with NEWOBJ. Every way a pickle calls an
// import goes through here, so calls counts them all.
func (m *machine) markCalled(i int32, reduce bool) {
	m.imports[i].calls++
	if reduce {
		m.imports[i].reduced = true
	}
}

// callPartial handles a call of a call result: when it is a functools.partial,
// the partial and the function it wraps (from its arguments or the state its
// BUILD set) are called.
func (m *machine) callPartial(callee slot) {
	rec := m.objOf(m.val(callee))
	if rec.callee.k != kGlobal {
		return
	}
	pp := m.val(rec.callee)
	if pp == nil || pp.imp < 0 || !partialNames[m.sOf(pp)] {
		return
	}
	m.markCalled(pp.imp, true)
	for _, holder := range []slot{rec.args, rec.state} {
		hp := m.val(holder)
		if holder.k != kTuple || hp == nil || len(m.itemsOf(hp)) == 0 {
			continue
		}
		if f := m.itemsOf(hp)[0]; f.k == kGlobal {
			if fp := m.val(f); fp != nil && fp.imp >= 0 {
				m.markCalled(fp.imp, true)
			}
		}
	}
}

// reconstructorBase marks the base of copyreg._reconstructor(cls, base, state)
// as called when running its __init__ does harm: the reconstructor calls
// base.__init__(obj, state) for any base but object, so
// _reconstructor(Popen, Popen, "id") runs a command and a loader class of an
// ecosystem (SentenceTransformer) loads what state names. Real files pass
// object or a built-in container there.
func (m *machine) reconstructorBase(args slot) {
	ap := m.val(args)
	if args.k != kTuple || ap == nil || len(m.itemsOf(ap)) < 2 {
		return
	}
	base := m.itemsOf(ap)[1]
	if base.k != kGlobal {
		return
	}
	if bp := m.val(base); bp != nil && bp.imp >= 0 {
		if im := m.imports[bp.imp]; im.cls.verdict == verdictDangerous || isEcosystemLoader(im.cls.name) {
			m.markCalled(bp.imp, true)
		}
	}
}

// recordImportDerived records a name reached through an indirection as a called import.
func (m *machine) recordImportDerived(full, via string, off int64) slot {
	module, name := full, ""
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		module, name = full[:i], full[i+1:]
	}
	return m.recordImport(module, name, "REDUCE", off, via)
}

// derive evaluates the name produced by getattr(global, "attr"),
// importlib.import_module("mod") and __import__("mod").
func (m *machine) derive(fn string, args slot) (string, bool) {
	ap := m.val(args)
	if args.k != kTuple || ap == nil || len(m.itemsOf(ap)) == 0 {
		return "", false
	}
	switch fn {
	case "builtins.getattr":
		if len(m.itemsOf(ap)) < 2 {
			return "", false
		}
		attr, ok := m.str(m.itemsOf(ap)[1])
		if !ok {
			return "", false
		}
		base := "<object>"
		if t := m.itemsOf(ap)[0]; t.k == kGlobal {
			if bp := m.val(t); bp != nil {
				base = m.sOf(bp)
			}
		}
		return base + "." + attr, true
	case "importlib.import_module", "builtins.__import__":
		mod, ok := m.str(m.itemsOf(ap)[0])
		if !ok {
			return "", false
		}
		return mod, true
	}
	return "", false
}

// className returns the class an object was built from: NEWOBJ's class, or the
// first argument of copyreg._reconstructor.
func (m *machine) className(obj slot) string {
	p := m.val(obj)
	if obj.k != kObj || p == nil {
		return ""
	}
	o := m.objOf(p)
	cp := m.val(o.callee)
	if o.callee.k != kGlobal || cp == nil {
		return ""
	}
	if m.sOf(cp) == "copyreg._reconstructor" {
		if ap := m.val(o.args); ap != nil && len(m.itemsOf(ap)) > 0 && m.itemsOf(ap)[0].k == kGlobal {
			if c := m.val(m.itemsOf(ap)[0]); c != nil {
				return m.sOf(c)
			}
		}
	}
	return m.sOf(cp)
}

// computedRec is a computed import held back while speculative.
type computedRec struct {
	off                    int64
	why, opcode, mod, name string
}

// computedImport reports STACK_GLOBAL operands that are not literal strings. A
// speculative machine holds the finding until report knows whether the bytes
// parsed cleanly as a pickle: a pickle without PROTO after another one (legacy
// torch files, repeated dumps) is still loaded, and must not hide its imports.
func (m *machine) computedImport(mod, name slot, off int64) {
	why := "module and name are not string constants"
	if (mod.k == kStr || mod.k == kOpaque) && (name.k == kStr || name.k == kOpaque) && m.overBudg {
		why = "operands were dropped by the analysis memory budget"
	}
	describe := func(s slot) string {
		if str, ok := m.str(s); ok {
			return strings.Clone(str) // evidence outlives the machine
		}
		if p := m.val(s); p != nil && s.k == kObj {
			if cp := m.val(m.objOf(p).callee); cp != nil {
				return "result of calling " + m.sOf(cp)
			}
			return "result of a call"
		}
		return "<unknown>"
	}
	m.computedFinding(off, why, "STACK_GLOBAL", describe(mod), describe(name))
}

// computedFinding reports an import whose name is not known, or holds it
// while speculative.
func (m *machine) computedFinding(off int64, why, opcode, mod, name string) {
	if m.spec {
		if len(m.computed) < 64 {
			m.computed = append(m.computed, computedRec{off: off, why: why, opcode: opcode, mod: mod, name: name})
		}
		return
	}
	m.add(rulePickleComputedImport, off, map[string]any{
		"opcode": opcode, "module_operand": mod, "name_operand": name,
	}, why)
}

func (m *machine) memoKey(op byte) (uint64, bool, error) {
	switch op {
	case opBINGET, opBINPUT:
		k, err := m.readUint(1)
		return k, true, err
	case opLONG_BINGET, opLONG_BINPUT:
		k, err := m.readUint(4)
		return k, true, err
	}
	line, long, err := m.line(64)
	if err != nil {
		return 0, false, err
	}
	// CPython parses the key with int(s, 10): blanks, a + sign, underscores
	// and leading zeros are accepted.
	s := strings.ReplaceAll(strings.TrimSpace(string(line)), "_", "")
	s = strings.TrimPrefix(s, "+")
	if long {
		if !numberish(line) {
			return 0, false, fmt.Errorf("memo key %q: not a number", quote(string(line), 40))
		}
		// Only a prefix was kept (leading zeros can make a key of any length).
		return 0, false, nil
	}
	k, perr := strconv.ParseUint(s, 10, 63)
	if perr != nil {
		return 0, false, fmt.Errorf("memo key %q: %w", line, perr)
	}
	return k, true, nil
}

func (m *machine) memoPut(key uint64, v slot) {
	if key == uint64(len(m.memo)) && m.used+16 <= m.budget {
		m.used += 16
		m.memo = append(m.memo, v)
		return
	}
	if key < uint64(len(m.memo)) {
		m.memo[key] = v
		return
	}
	if m.used+48 > m.budget {
		m.overBudg = true
		return
	}
	if m.memoMap == nil {
		m.memoMap = map[uint64]slot{}
	}
	m.used += 48
	m.memoMap[key] = v
}

func (m *machine) memoGet(key uint64) slot {
	if key < uint64(len(m.memo)) {
		return m.memo[key]
	}
	if v, ok := m.memoMap[key]; ok {
		return v
	}
	if !m.overBudg && !m.memoLost {
		m.fail("memo key %d not defined", key)
	}
	return opaque
}

// report turns the machine's imports and mutations into findings. A speculative
// machine (bytes that may not be a pickle) reports only resolved dangerous names.
func (m *machine) report(clean bool) {
	m.reportNested()
	for _, im := range m.imports {
		ev := map[string]any{"opcode": im.opcode, "import": im.cls.name, "module": im.module, "name": im.name}
		if im.cls.name != im.module+"."+im.name {
			ev["resolved_as"] = im.cls.name
		}
		if im.via != "" {
			ev["via"] = im.via
		}
		switch im.cls.verdict {
		case verdictDangerous:
			if im.calls > 0 && im.toNested == im.calls && im.via == "" {
				continue // each call reached a nested loader, reported as that
			}
			if im.calls == 0 && im.via == "" && im.binds > 0 {
				continue // only built partials of safe functions, never called
			}
			if m.onlyMethodReferences(im) {
				continue // bound methods stored as values; the names are reported below
			}
			ev["category"] = im.cls.category
			if im.calls > 0 || im.via != "" {
				m.add(rulePickleDangerousCall, im.off, ev, im.cls.name, im.cls.category)
			} else {
				m.add(rulePickleDangerousImport, im.off, ev, im.cls.name, im.cls.category)
			}
			if _, listed := dangerousMatch(im.cls.name); !listed && !m.spec {
				m.add(rulePickleAttrChain, im.off, ev, im.cls.name)
			}
		case verdictNested:
			if im.unverified {
				// The loader unpickles whatever it is given: bytes computed at
				// load time, or no bytes at all, were not scanned here.
				ev["category"] = "deserialization"
				ev["note"] = "called on a value that is not a bytes constant in the file, so what it loads was not scanned"
				m.add(rulePickleDangerousCall, im.off, ev, im.cls.name, "deserialization")
			} else if !m.spec || clean {
				m.add(rulePickleNestedLoader, im.off, ev, im.cls.name)
			}
		case verdictEcosystem:
			// A class of a model ecosystem's package (or a lower-case one
			// instantiated without a call) is what real files hold; the same
			// package's functions called on load are not.
			if (!m.spec || clean) && im.reduced && isEcosystemLoader(im.cls.name) {
				ev["category"] = "code_execution"
				ev["note"] = "the class's constructor loads a model, code or file named by the pickle"
				m.add(rulePickleDangerousCall, im.off, ev, im.cls.name, "code_execution")
			} else if (!m.spec || clean) && im.reduced && functionLike(im.name) && !classLike(im.name) {
				ev["called"] = im.calls > 0
				m.add(rulePickleUnknownCall, im.off, ev, im.cls.name)
			}
		case verdictUnknown:
			if !m.spec || clean {
				ev["called"] = im.calls > 0
				if im.reduced && functionLike(im.name) {
					m.add(rulePickleUnknownCall, im.off, ev, im.cls.name)
				} else {
					m.add(rulePickleUnknownImport, im.off, ev, im.cls.name)
				}
			}
		}
	}
	if m.spec && !clean {
		return
	}
	for _, c := range m.computed {
		m.add(rulePickleComputedImport, c.off, map[string]any{
			"opcode": c.opcode, "module_operand": c.mod, "name_operand": c.name,
			"note": "in bytes that parse cleanly as a pickle (one without PROTO after another, or inside a bytes value); unpicklers load it",
		}, c.why)
	}
	for _, mu := range m.mutated {
		m.add(rulePickleMutatesGlobal, mu.off, map[string]any{"opcode": mu.opcode, "import": mu.name}, mu.name, mu.opcode)
	}
	if m.overBudg {
		m.add(rulePickleBudget, -1, map[string]any{"budget_bytes": m.budget})
	}
	if m.firstErr != "" {
		m.add(rulePickleCorrupt, m.errOff, nil, m.firstErr)
	}
}

// functionLike reports whether an imported name is a function or a method
// rather than a class: a dotted name (Class.method, which protocol 4 resolves
// with getattr) or a name whose first letter is lower case or an underscore.
// Model files call classes (to build objects) and a few known reconstructors;
// calling any other function on load is how gadgets are reached
// (torch.utils._config_module.ConfigModule.load_config, …decoder.basichandlers).
func functionLike(name string) bool {
	if name == "" {
		return false
	}
	if strings.Contains(name, ".") {
		return true
	}
	c := name[0]
	return c == '_' || (c >= 'a' && c <= 'z')
}

// bytesArg reports whether a call's arguments are a tuple whose first item is a
// bytes constant (which readBytes scanned when it held a pickle or archive).
func (m *machine) bytesArg(args slot) bool {
	if args.k != kTuple {
		return false
	}
	items := m.itemsOf(m.val(args))
	if len(items) == 0 {
		return false
	}
	if items[0].k == kBytes {
		return true
	}
	// An io.BytesIO over a bytes constant: built with it, or (as Keras 3 hands
	// its .keras zip to _unpickle_model) empty, then given BUILD's state
	// (value, position, dict).
	if cls := m.className(items[0]); cls == "_io.BytesIO" || cls == "io.BytesIO" {
		o := m.objOf(m.val(items[0]))
		return m.bytesArg(o.args) || m.bytesArg(o.state)
	}
	return false
}

// classLike reports whether a plain name is spelled like a class (capitalised).
func classLike(name string) bool {
	return name != "" && name[0] >= 'A' && name[0] <= 'Z' && !strings.Contains(name, ".")
}
