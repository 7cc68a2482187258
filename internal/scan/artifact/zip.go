package artifact

import (
	"bytes"
	"cmp"
	"compress/bzip2"
	"compress/flate"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"hash/maphash"
	"io"
	"math"
	"path"
	"slices"
	"strings"
	"unsafe"

	"github.com/ulikunitz/xz/lzma"
)

// This file reads ZIP archives (PyTorch checkpoints, .npz, .keras) with its own
// parser rather than archive/zip: a scanner must see what archive/zip hides (local
// header offsets and names, overlapping entries, prepended data) and must keep
// going where a strict reader gives up, because lenient loaders (PyTorch's miniz)
// load files that Python's zipfile rejects, which is exactly how pickle scanners
// built on zipfile have been bypassed.

const (
	sigLocal      = 0x04034b50
	sigCentral    = 0x02014b50
	sigEOCD       = 0x06054b50
	sigEOCD64     = 0x06064b50
	sigEOCD64Loc  = 0x07064b50
	maxZipEntries = 1 << 20
)

type zipEntry struct {
	name       string
	flags      uint16
	method     uint16
	crc        uint32
	compSize   uint64
	uncompSize uint64
	localOff   int64 // absolute, after the prepended-data adjustment
	dataOff    int64 // absolute; -1 when the local header is unusable
	end        int64 // dataOff + compSize
	localRead  bool  // the local header was read; if not, dataOff and end are lower bounds
	storage    bool  // a tensor storage of a PyTorch archive in this zip: raw numbers
	rawTensor  bool  // declared raw tensor bytes by a torch.export config (pt2.go)
}

// findEOCD locates the end of central directory record in the last 64 KiB.
// It prefers a record whose comment ends exactly at the end of the region.
func findEOCD(ra io.ReaderAt, size int64) (int64, []byte, bool) {
	if size < 22 {
		return 0, nil, false
	}
	// Fast path: no archive comment, the record is the last 22 bytes.
	tail := make([]byte, 22)
	if _, err := ra.ReadAt(tail, size-22); err == nil && binary.LittleEndian.Uint32(tail) == sigEOCD && binary.LittleEndian.Uint16(tail[20:]) == 0 {
		return size - 22, tail, true
	}
	n := min(size, 22+65535)
	buf := make([]byte, n)
	if _, err := ra.ReadAt(buf, size-n); err != nil && err != io.EOF {
		return 0, nil, false
	}
	return findEOCDIn(buf, size-n)
}

// findEOCDIn searches buf, the last bytes of a region (buf[0] at offset start),
// for the end of central directory record, as findEOCD does.
func findEOCDIn(buf []byte, start int64) (int64, []byte, bool) {
	if len(buf) < 22 {
		return 0, nil, false
	}
	if i := len(buf) - 22; binary.LittleEndian.Uint32(buf[i:]) == sigEOCD && binary.LittleEndian.Uint16(buf[i+20:]) == 0 {
		return start + int64(i), buf[i:], true
	}
	fallback := -1
	lo := max(0, len(buf)-22-65535)
	for i := len(buf) - 22; i >= lo; i-- {
		// Jump to the previous signature (the loop used to test every byte).
		j := bytes.LastIndex(buf[lo:i+4], []byte("PK\x05\x06"))
		if j < 0 {
			break
		}
		i = lo + j
		commentLen := int(binary.LittleEndian.Uint16(buf[i+20:]))
		if i+22+commentLen == len(buf) {
			return start + int64(i), buf[i : i+22], true
		}
		if fallback < 0 && i+22+commentLen <= len(buf) {
			fallback = i
		}
	}
	if fallback >= 0 {
		return start + int64(fallback), buf[fallback : fallback+22], true
	}
	return 0, nil, false
}

// zipTailRead is how much of an archive's end is read at once: the end records,
// the zip64 records and, for checkpoints of up to a few thousand members, the
// whole central directory, in one read.
const zipTailRead = 32 << 10

// scanZipRegion scans a region that starts with a zip signature.
func (s *scanner) scanZipRegion(ctx context.Context, in region) error {
	if in.ra != nil {
		return s.scanZip(ctx, in.ra, in.size, in.l)
	}
	// A zip inside a compressed stream: buffer it when small enough.
	if in.size < 0 || in.size > s.opts.MaxInMemory {
		s.c.skip(in.l, "archive inside a compressed stream is larger than the in-memory limit (%d bytes)", s.opts.MaxInMemory)
		return nil
	}
	buf, err := io.ReadAll(io.LimitReader(in.st, in.size))
	if err != nil {
		return fmt.Errorf("read nested archive %s: %w", in.l.where(), err)
	}
	l := in.l
	l.fileOff = -1
	return s.scanZip(ctx, bytes.NewReader(buf), int64(len(buf)), l)
}

// scanZip validates the archive's structure and scans its members.
func (s *scanner) scanZip(ctx context.Context, ra io.ReaderAt, size int64, l loc) error {
	tailStart := max(size-zipTailRead, 0)
	tailBuf := tailPool.get()
	tail := (*tailBuf)[:size-tailStart]
	if n, err := ra.ReadAt(tail, tailStart); err != nil && (err != io.EOF || n < len(tail)) {
		tail = tail[:n]
	}
	eocdOff, rec, ok := findEOCDIn(tail, tailStart)
	if ok && eocdOff+22 > tailStart+int64(len(tail)) {
		ok = false
	}
	if !ok {
		s.c.add(l, ruleContainerMalformed, -1, map[string]any{"format": "zip"}, "no end of central directory record")
		s.c.skip(l, "zip archive without a central directory; members not scanned")
		return nil
	}
	defer tailPool.put(tailBuf)
	count := uint64(binary.LittleEndian.Uint16(rec[10:]))
	cdSize := uint64(binary.LittleEndian.Uint32(rec[12:]))
	cdOff := uint64(binary.LittleEndian.Uint32(rec[16:]))
	cdEnd := eocdOff
	// Python's zipfile and torch's miniz both take the zip64 end record whenever
	// its locator is present, saturated classic fields or not; Go's archive/zip
	// and others only when saturated. When the two records disagree, readers see
	// different archives: it is reported and both directories are scanned.
	if c, sz, off, ok := readZip64EOCD(ra, eocdOff, tail, tailStart); ok {
		saturated := count == 0xffff || cdSize == 0xffffffff || cdOff == 0xffffffff
		if !saturated && (c != count || sz != cdSize || off != cdOff) {
			s.c.add(l, ruleContainerMismatch, eocdOff, map[string]any{"format": "zip", "zip64_entries": c, "zip64_directory_offset": off, "entries": count, "directory_offset": cdOff},
				"(end of central directory)", "the zip64 end record declares a different central directory than the classic one")
			if err := s.scanZipDir(ctx, ra, size, l, tail, tailStart, eocdOff, count, cdSize, cdOff, eocdOff-20-56); err != nil {
				return err
			}
		}
		count, cdSize, cdOff, cdEnd = c, sz, off, eocdOff-20-56
	}
	return s.scanZipDir(ctx, ra, size, l, tail, tailStart, eocdOff, count, cdSize, cdOff, cdEnd)
}

// scanZipDir scans the archive as one central directory describes it.
func (s *scanner) scanZipDir(ctx context.Context, ra io.ReaderAt, size int64, l loc, tail []byte, tailStart, eocdOff int64, count, cdSize, cdOff uint64, cdEnd int64) error {
	if cdEnd < 0 {
		cdEnd = 0
	}
	if cdSize > uint64(cdEnd) {
		s.c.add(l, ruleContainerPastEnd, eocdOff, map[string]any{"format": "zip", "central_directory_size": cdSize}, "(central directory)", "declared size exceeds the file")
		return nil
	}
	// Python's zipfile tolerates data prepended to an archive by shifting every
	// offset by the difference; do the same so the members are still found.
	concat := int64(uint64(cdEnd)-cdSize) - int64(cdOff)
	if concat < 0 {
		s.c.add(l, ruleContainerPastEnd, eocdOff, map[string]any{"format": "zip", "central_directory_offset": cdOff}, "(central directory)", "offset points past the end of the directory")
		return nil
	}
	if concat > 0 {
		// Go's archive/zip takes a directory found where the record says,
		// unshifted; Python's zipfile shifts. When both places hold one, the
		// archive reads differently per loader: report it and scan both.
		isCentral := func(off int64) bool {
			sig := make([]byte, 4)
			_, err := ra.ReadAt(sig, off)
			return err == nil && binary.LittleEndian.Uint32(sig) == sigCentral
		}
		if isCentral(int64(cdOff)) {
			if isCentral(int64(cdOff) + concat) {
				s.c.add(l, ruleContainerMismatch, eocdOff, map[string]any{"format": "zip", "directory_offset": cdOff, "shifted_by": concat},
					"(central directory)", "a directory is found both at the recorded offset and shifted by the prepended bytes")
				if err := s.scanZipAt(ctx, ra, l, tail, tailStart, eocdOff, count, cdSize, int64(cdOff), 0); err != nil {
					return err
				}
			} else {
				concat = 0
			}
		}
	}
	return s.scanZipAt(ctx, ra, l, tail, tailStart, eocdOff, count, cdSize, int64(cdOff)+concat, concat)
}

// scanZipAt scans the members of the central directory at cdStart, whose
// recorded offsets are shifted by concat.
func (s *scanner) scanZipAt(ctx context.Context, ra io.ReaderAt, l loc, tail []byte, tailStart, eocdOff int64, count, cdSize uint64, cdStart, concat int64) error {
	if count > maxZipEntries || count > cdSize/46+1 {
		s.c.add(l, ruleContainerMalformed, eocdOff, map[string]any{"format": "zip", "declared_entries": count},
			fmt.Sprintf("declares %d entries in a %d-byte central directory", count, cdSize))
		count = min(count, cdSize/46+1, maxZipEntries)
	}
	var cd *stream
	if cdStart >= tailStart && cdStart+int64(cdSize) <= tailStart+int64(len(tail)) {
		// The directory is in the tail already read: parse it in place.
		cd = newStreamBytes(tail[cdStart-tailStart : cdStart-tailStart+int64(cdSize)])
	} else {
		cd = newStreamSize(io.NewSectionReader(ra, cdStart, int64(cdSize)), int64(cdSize))
		cd.setLimit(int64(cdSize))
	}
	zs := zipScratchPool.get()
	defer zs.release()
	entries, err := s.readCentral(cd, zs.entries[:0], cdStart, count, concat, l)
	zs.entries = entries
	if err != nil {
		return err
	}
	kind := archiveKind(entries)
	markTorchStorage(entries, kind)
	order := slices.Grow(zs.order[:0], len(entries))[:len(entries)] // entries by local header offset
	zs.order = order
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(entries[a].localOff, entries[b].localOff) })
	s.readLocals(ra, entries, order, zs, kind, l)
	markExportWeights(ra, entries) // pt2.go; after readLocals, which finds the data
	s.checkZipEntries(ra, entries, order, zs, cdStart, l)
	defer s.withMembers(zipMembers(ra, entries))() // tfbundle.go
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.scanZipMember(ctx, ra, e, kind, l); err != nil {
			return err
		}
	}
	return nil
}

// zipScratch is the working memory of one archive scan, recycled.
type zipScratch struct {
	entries []zipEntry
	order   []int
	names   nameSet
	window  [localWindow]byte
}

var zipScratchPool = newFreeList(4, func() *zipScratch { return new(zipScratch) })

// release returns the scratch to the pool unless it grew large.
func (zs *zipScratch) release() {
	if cap(zs.entries) > 4096 {
		return
	}
	clear(zs.entries[:cap(zs.entries)]) // drop the names
	clear(zs.names.slots)
	zipScratchPool.put(zs)
}

// tailPool recycles the buffers of zipTailRead bytes that archive ends are read into.
var tailPool = newFreeList(4, func() *[]byte { b := make([]byte, zipTailRead); return &b })

func readZip64EOCD(ra io.ReaderAt, eocdOff int64, tail []byte, tailStart int64) (count, size, off uint64, ok bool) {
	if eocdOff < 20 {
		return 0, 0, 0, false
	}
	// at returns n bytes at off, from the tail when it holds them.
	at := func(off int64, n int) []byte {
		if off >= tailStart && off+int64(n) <= tailStart+int64(len(tail)) {
			return tail[off-tailStart : off-tailStart+int64(n)]
		}
		b := make([]byte, n)
		if _, err := ra.ReadAt(b, off); err != nil {
			return nil
		}
		return b
	}
	loc := at(eocdOff-20, 20)
	if loc == nil || binary.LittleEndian.Uint32(loc) != sigEOCD64Loc {
		return 0, 0, 0, false
	}
	recOff := int64(binary.LittleEndian.Uint64(loc[8:]))
	if recOff < 0 || recOff > eocdOff {
		return 0, 0, 0, false
	}
	rec := at(recOff, 56)
	if rec == nil || binary.LittleEndian.Uint32(rec) != sigEOCD64 {
		return 0, 0, 0, false
	}
	return binary.LittleEndian.Uint64(rec[32:]), binary.LittleEndian.Uint64(rec[40:]), binary.LittleEndian.Uint64(rec[48:]), true
}

// readCentral parses the central directory.
func (s *scanner) readCentral(st *stream, entries []zipEntry, start int64, count uint64, concat int64, l loc) ([]zipEntry, error) {
	// Names share one allocation: they outlive the scan in findings, and one
	// string per member costs more than the directory's parse.
	var names []byte
	for i := uint64(0); i < count; i++ {
		off := start + st.Offset()
		h, err := st.Next(46)
		if err != nil || binary.LittleEndian.Uint32(h) != sigCentral {
			s.c.add(l, ruleContainerMalformed, off, map[string]any{"format": "zip", "entry": i},
				fmt.Sprintf("central directory entry %d is truncated or lacks its signature", i))
			break
		}
		e := zipEntry{
			flags:      binary.LittleEndian.Uint16(h[8:]),
			method:     binary.LittleEndian.Uint16(h[10:]),
			crc:        binary.LittleEndian.Uint32(h[16:]),
			compSize:   uint64(binary.LittleEndian.Uint32(h[20:])),
			uncompSize: uint64(binary.LittleEndian.Uint32(h[24:])),
		}
		nameLen := int(binary.LittleEndian.Uint16(h[28:]))
		extraLen := int(binary.LittleEndian.Uint16(h[30:]))
		commentLen := int(binary.LittleEndian.Uint16(h[32:]))
		localOff := uint64(binary.LittleEndian.Uint32(h[42:]))
		name, err := st.Next(nameLen)
		if err != nil {
			s.c.add(l, ruleContainerMalformed, off, map[string]any{"format": "zip", "entry": i}, "central directory name is truncated")
			break
		}
		if len(name) > cap(names)-len(names) {
			names = make([]byte, 0, max(len(name), 16<<10))
		}
		at := len(names)
		names = append(names, name...)
		e.name = unsafe.String(unsafe.SliceData(names[at:]), len(name))
		if len(name) == 0 {
			e.name = ""
		}
		extra, err := st.Next(extraLen)
		if err != nil {
			s.c.add(l, ruleContainerMalformed, off, map[string]any{"format": "zip", "entry": i}, "central directory extra field is truncated")
			break
		}
		parseZip64Extra(extra, &e, &localOff)
		if err := st.Skip(int64(commentLen)); err != nil {
			break
		}
		e.localOff = int64(localOff) + concat
		e.dataOff = -1
		if cap(entries) == 0 {
			entries = make([]zipEntry, 0, min(count, 4096))
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// parseZip64Extra applies the zip64 extended information field (id 1).
func parseZip64Extra(extra []byte, e *zipEntry, localOff *uint64) {
	for len(extra) >= 4 {
		id := binary.LittleEndian.Uint16(extra)
		n := int(binary.LittleEndian.Uint16(extra[2:]))
		if 4+n > len(extra) {
			return
		}
		body := extra[4 : 4+n]
		if id == 1 {
			next := func(v *uint64) {
				if len(body) >= 8 {
					*v = binary.LittleEndian.Uint64(body)
					body = body[8:]
				}
			}
			if e.uncompSize == 0xffffffff {
				next(&e.uncompSize)
			}
			if e.compSize == 0xffffffff {
				next(&e.compSize)
			}
			if *localOff == 0xffffffff {
				next(localOff)
			}
		}
		extra = extra[4+n:]
	}
}

// localWindow is how much is read at each local header: the headers of small
// members stored next to each other (and their gaps) come with one read.
const localWindow = 8 << 10

// readLocals reads the entries' local headers in file order through a window,
// comparing each with its central record. The local header of a stored tensor
// storage member in a PyTorch archive is read only when it falls in a window
// already read: no loader takes code or names from it (torch's reader and
// Python's zipfile go by the central directory, and the bytes are never
// unpickled), and reading hundreds of them one by one would dominate the scan of
// a sparse multi-gigabyte checkpoint. Such entries keep localRead false and
// lower bounds for dataOff and end (the local extra field is unknown).
func (s *scanner) readLocals(ra io.ReaderAt, entries []zipEntry, order []int, zs *zipScratch, kind string, l loc) {
	var buf []byte
	var win []byte // the bytes at winStart that were read
	winStart := int64(-1)
	for _, i := range order {
		e := &entries[i]
		need := int64(30 + len(e.name))
		if winStart < 0 || e.localOff < winStart || e.localOff+need > winStart+int64(len(win)) {
			if e.storage && e.method == 0 && e.flags&1 == 0 && e.compSize == e.uncompSize {
				e.dataOff = e.localOff + need
				e.end = e.dataOff + int64(e.compSize)
				continue
			}
			if buf == nil {
				buf = zs.window[:]
			}
			w := buf
			if need > int64(len(w)) {
				w = make([]byte, need)
			}
			n, _ := ra.ReadAt(w, e.localOff)
			win, winStart = w[:n], e.localOff
		}
		s.parseLocal(ra, e, win[e.localOff-winStart:], l)
	}
}

// parseLocal checks an entry's local header, given the bytes read at its offset
// (possibly fewer than the header), against the central record.
func (s *scanner) parseLocal(ra io.ReaderAt, e *zipEntry, buf []byte, l loc) {
	n := len(buf)
	h := buf[:min(n, 30)]
	if n < 30 {
		s.c.add(l, ruleContainerPastEnd, e.localOff, map[string]any{"format": "zip", "member_name": e.name}, quote(e.name, 120), "local header lies past the end of the file")
		return
	}
	if binary.LittleEndian.Uint32(h) != sigLocal {
		s.c.add(l, ruleContainerMismatch, e.localOff, map[string]any{"format": "zip", "member_name": e.name}, quote(e.name, 120), "no local header signature at the recorded offset")
		return
	}
	nameLen := int64(binary.LittleEndian.Uint16(h[26:]))
	extraLen := int64(binary.LittleEndian.Uint16(h[28:]))
	name := buf[30:min(n, 30+len(e.name))]
	if int64(len(name)) > nameLen {
		name = name[:nameLen]
	} else if int64(len(name)) < nameLen {
		if int64(n) >= 30+nameLen {
			name = buf[30 : 30+nameLen]
		} else {
			name = make([]byte, nameLen)
			if _, err := ra.ReadAt(name, e.localOff+30); err != nil {
				s.c.add(l, ruleContainerPastEnd, e.localOff, map[string]any{"format": "zip", "member_name": e.name}, quote(e.name, 120), "local header name lies past the end of the file")
				return
			}
		}
	}
	if string(name) != e.name {
		s.c.add(l, ruleContainerMismatch, e.localOff, map[string]any{"format": "zip", "member_name": e.name, "local_name": string(name)},
			quote(e.name, 120), fmt.Sprintf("local name %q", quote(string(name), 120)))
	}
	if m := binary.LittleEndian.Uint16(h[8:]); m != e.method {
		s.c.add(l, ruleContainerMismatch, e.localOff, map[string]any{"format": "zip", "member_name": e.name, "local_method": m, "central_method": e.method},
			quote(e.name, 120), fmt.Sprintf("compression method %d vs %d", m, e.method))
	}
	e.localRead = true
	e.dataOff = e.localOff + 30 + nameLen + extraLen
	e.end = e.dataOff + int64(e.compSize)
}

// isTorchStorage matches PyTorch's tensor storage member names: a path ending in
// data/<digits> or .data/<digits>.
func isTorchStorage(name string) bool {
	i := strings.LastIndexByte(name, '/')
	if i < 0 || !allDigits(name[i+1:]) {
		return false
	}
	dir := name[:i]
	switch {
	case dir == "data" || dir == ".data":
		return true
	case strings.HasSuffix(dir, "/data") || strings.HasSuffix(dir, "/.data"):
		return true
	}
	return false
}

// allDigits reports whether s is one or more ASCII digits.
func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// markTorchStorage marks the members that are tensor storages of a PyTorch
// archive: <prefix>/data/<digits> where <prefix>/data.pkl exists, in an archive
// with no .npy member. Anything else named like a storage is scanned: np.load
// reads any member of an .npz by its name ("w/data/0"), pickle included.
func markTorchStorage(entries []zipEntry, kind string) {
	if kind != "pytorch" {
		return
	}
	var prefixes []string // few: one per archive in the zip
	for _, e := range entries {
		n := strings.ToLower(e.name) // torch's reader ignores case
		if strings.HasSuffix(n, ".npy") {
			return
		}
		if n == "data.pkl" {
			prefixes = append(prefixes, "")
		} else if p, ok := strings.CutSuffix(n, "/data.pkl"); ok && len(prefixes) < 64 && !slices.Contains(prefixes, p+"/") {
			prefixes = append(prefixes, p+"/")
		}
	}
	for i := range entries {
		e := &entries[i]
		if !isTorchStorage(e.name) {
			continue
		}
		dir := strings.ToLower(e.name[:strings.LastIndexByte(e.name, '/')+1]) // ends in data/ or .data/
		dir = strings.TrimSuffix(dir, "data/")
		dir = strings.TrimSuffix(dir, ".")
		e.storage = slices.Contains(prefixes, dir)
	}
}

// archiveKind says what model format an archive is, by its members.
func archiveKind(entries []zipEntry) string {
	var pkl, npy, kerasConfig bool
	for _, e := range entries {
		switch {
		case strings.HasSuffix(e.name, "data.pkl"), strings.HasSuffix(e.name, "constants.pkl"):
			pkl = true
		case strings.HasSuffix(e.name, ".npy"):
			npy = true
		case e.name == "config.json" || e.name == "metadata.json":
			kerasConfig = true
		}
	}
	switch {
	case pkl:
		return "pytorch"
	case kerasConfig:
		return "keras"
	case npy:
		return "npz"
	}
	return "zip"
}

// checkZipEntries looks for the structural attacks: traversal, duplicates,
// overlaps, data past the directory and decompression bombs.
func (s *scanner) checkZipEntries(ra io.ReaderAt, entries []zipEntry, order []int, zs *zipScratch, cdStart int64, l loc) {
	// Keyed by the lower-cased name: torch's miniz reader looks members up
	// ignoring case, so archive/DATA.PKL can stand in for archive/data.pkl.
	seen := zs.names.reset(len(entries))
	var totalUncomp uint64
	for ei, e := range entries {
		ev := func() map[string]any { return map[string]any{"format": "zip", "member_name": e.name} }
		if unsafeMemberName(e.name) {
			s.c.add(l, ruleContainerTraversal, e.localOff, ev(), quote(e.name, 200))
		}
		if oi, dup := seen.add(strings.ToLower(e.name), ei, entries); dup {
			other := entries[oi].name
			v := ev()
			if other != e.name {
				v["other_member"] = other
				v["note"] = "the names differ only in case; torch's zip reader matches names ignoring case"
			}
			s.c.add(l, ruleContainerDuplicate, e.localOff, v, quote(e.name, 200))
		}
		if e.dataOff >= 0 && e.end > cdStart {
			s.c.add(l, ruleContainerPastEnd, e.localOff, ev(), quote(e.name, 200), fmt.Sprintf("data (%d bytes) runs into the central directory", e.compSize))
		}
		if e.method == 0 && e.compSize != e.uncompSize && !(e.flags&1 != 0 && e.compSize == e.uncompSize+zipCryptoHeader) {
			// (A ZipCrypto member stores a 12-byte encryption header before its data.)
			s.c.add(l, ruleContainerMismatch, e.localOff, ev(), quote(e.name, 200), fmt.Sprintf("stored member declares %d compressed but %d uncompressed bytes", e.compSize, e.uncompSize))
		}
		if e.compSize > 0 && float64(e.uncompSize)/float64(e.compSize) > s.opts.MaxCompressionRatio {
			v := ev()
			v["ratio"] = float64(e.uncompSize) / float64(e.compSize)
			s.c.add(l, ruleContainerBomb, e.localOff, v, quote(e.name, 200), fmt.Sprintf("%d bytes from %d", e.uncompSize, e.compSize))
		}
		totalUncomp += e.uncompSize
	}
	if fileSize := cdStart; fileSize > 0 && totalUncomp > 1<<30 && float64(totalUncomp)/float64(fileSize) > s.opts.MaxCompressionRatio {
		s.c.add(l, ruleContainerBomb, -1, map[string]any{"format": "zip", "declared_total": totalUncomp}, "(all members)", fmt.Sprintf("%d bytes declared in a %d-byte archive", totalUncomp, fileSize))
	}
	for i := 1; i < len(order); i++ {
		prev, cur := &entries[order[i-1]], &entries[order[i]]
		if prev.dataOff >= 0 && cur.localOff < prev.end {
			s.c.add(l, ruleContainerOverlap, cur.localOff, map[string]any{"format": "zip", "member_name": cur.name, "other_member": prev.name}, quote(prev.name, 120), quote(cur.name, 120))
		}
	}
	if len(order) > 0 && entries[order[0]].localOff > 0 {
		first := entries[order[0]].localOff
		s.c.add(l, ruleContainerPrefix, 0, map[string]any{"format": "zip", "prefix_bytes": first}, first)
	}
	// Local headers that the central directory does not list are seen only by
	// streaming readers: a classic way to show scanners one archive and loaders another.
	for i := range order {
		e := &entries[order[i]]
		gapStart := e.end
		gapEnd := cdStart
		if i+1 < len(order) {
			gapEnd = entries[order[i+1]].localOff
		}
		if !e.localRead || gapEnd-gapStart < 30 {
			continue
		}
		sig := make([]byte, 4)
		if _, err := ra.ReadAt(sig, gapStart); err == nil && binary.LittleEndian.Uint32(sig) == sigLocal {
			s.c.add(l, ruleContainerMismatch, gapStart, map[string]any{"format": "zip"}, "(unlisted)", "a local header that the central directory does not list")
		}
	}
}

// nameSet finds repeated member names: an open-addressing table of hashes,
// cheaper than a map for the thousands of names a checkpoint has.
type nameSet struct {
	seed  maphash.Seed
	slots []nameSlot
}

type nameSlot struct {
	h   uint64 // 0 = empty
	idx int32  // the entry holding the name
}

// reset empties the set and sizes it for n names.
func (t *nameSet) reset(n int) *nameSet {
	size := 16
	for size < 2*n {
		size *= 2
	}
	if t.seed == (maphash.Seed{}) {
		t.seed = maphash.MakeSeed()
	}
	if cap(t.slots) >= size {
		t.slots = t.slots[:size]
		clear(t.slots)
	} else {
		t.slots = make([]nameSlot, size)
	}
	return t
}

// add records that entry idx has the (folded) name key, unless an earlier
// entry's name folds to the same key: then it returns that entry and true.
func (t *nameSet) add(key string, idx int, entries []zipEntry) (int, bool) {
	h := maphash.String(t.seed, key) | 1
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		sl := &t.slots[i]
		if sl.h == 0 {
			*sl = nameSlot{h: h, idx: int32(idx)}
			return 0, false
		}
		if sl.h == h && strings.ToLower(entries[sl.idx].name) == key {
			return int(sl.idx), true
		}
	}
}

// unsafeMemberName reports names that escape the extraction folder.
func unsafeMemberName(name string) bool {
	if name == "" || strings.IndexByte(name, 0) >= 0 {
		return true
	}
	n := name
	if strings.IndexByte(n, '\\') >= 0 {
		n = strings.ReplaceAll(n, `\`, "/")
	}
	if n[0] == '/' || (len(n) >= 2 && n[1] == ':') {
		return true
	}
	if !strings.Contains(n, "..") {
		return false
	}
	for part := range strings.SplitSeq(n, "/") {
		if part == ".." {
			return true
		}
	}
	return false
}

// scanZipMember scans one member's content.
func (s *scanner) scanZipMember(ctx context.Context, ra io.ReaderAt, e zipEntry, kind string, l loc) error {
	if strings.HasSuffix(e.name, "/") && e.uncompSize == 0 {
		return nil
	}
	fileOff := int64(-1)
	if l.fileOff >= 0 && e.dataOff >= 0 {
		fileOff = l.fileOff + e.dataOff
	}
	child := l.child(e.name, fileOff)
	if e.dataOff < 0 {
		s.c.skip(child, "member's local header is unusable; content not scanned")
		return nil
	}
	if e.flags&1 != 0 {
		// Loaders differ on the flag (zipfile asks for a password, lenient readers
		// ignore it). Bytes that decode to the member's declared size and CRC-32 are
		// plaintext behind a false flag and are scanned like any member; anything
		// else is ciphertext, reported once as not scanned and never parsed (its
		// random bytes would otherwise be read as some format).
		if !s.zipPlaintext(ctx, ra, e) {
			s.c.skip(child, "member is encrypted; encrypted content cannot be analysed")
			return nil
		}
	}
	if e.storage {
		return nil // tensor storage: raw numbers, never unpickled
	}
	if e.rawTensor {
		return s.dropNumberNoise(func() error { return s.scanMemberData(ctx, ra, e, kind, l, child) }) // pt2.go
	}
	return s.scanMemberData(ctx, ra, e, kind, l, child)
}

// scanMemberData scans the data of a member that scanZipMember has checked
// (its local header, encryption and storage status): child is its location.
func (s *scanner) scanMemberData(ctx context.Context, ra io.ReaderAt, e zipEntry, kind string, l, child loc) error {
	if kind == "pytorch" && strings.Contains(e.name, "/code/") && strings.HasSuffix(e.name, ".py") {
		s.c.add(l, ruleTorchScript, -1, map[string]any{"member_name": e.name}, quote(e.name, 200))
		return nil
	}
	var in region
	switch e.method {
	case 0:
		in = s.regionAt(ra, e.dataOff, int64(e.compSize), child)
	case 8, 12, 14:
		r, closeR, reason := zipDecompressor(io.NewSectionReader(ra, e.dataOff, int64(e.compSize)), e)
		if r == nil {
			s.c.skip(child, "LZMA member not decompressed: %s; not scanned", reason)
			return nil
		}
		defer closeR()
		limit := min(int64(min(e.uncompSize, 1<<62)), s.opts.MaxDecompressedBytes)
		st := newStream(r)
		st.setLimit(limit)
		child.fileOff = -1
		in = region{st: st, size: limit, l: child}
		if e.uncompSize > uint64(s.opts.MaxDecompressedBytes) {
			s.c.skip(child, "only the first %d of %d decompressed bytes were scanned", s.opts.MaxDecompressedBytes, e.uncompSize)
		}
	default:
		s.c.skip(child, "compression method %d is not supported by this scanner", e.method)
		return nil
	}
	base := strings.ToLower(path.Base(e.name)) // torch's reader ignores case
	var err error
	if strings.HasSuffix(base, ".pkl") || strings.HasSuffix(base, ".debug_pkl") {
		// PyTorch unpickles these whatever their first byte says. The whole window
		// is wanted at once: pickles are read to their end.
		in.st.grow(in.st.max)
		err = s.a.scanPicklesAt(ctx, in.st, child, 0, false)
		in.st.release() // the pickle machines keep copies of what they need
	} else {
		err = s.scanRegion(ctx, in)
	}
	if err != nil && e.method != 0 && ctx.Err() == nil {
		// Corrupt compressed data ends this member, not the archive: the
		// findings so far (and the other members) still count.
		s.c.skip(child, "compressed data cannot be read (%v); the rest of the member was not scanned", err)
		return nil
	}
	return err
}

// zipLZMAReader decodes a zip LZMA member (method 14, which Python's zipfile
// reads): a 2-byte LZMA SDK version, a 2-byte properties size (5), the 5 LZMA
// properties, then the raw LZMA stream, which ends with an end marker when flag
// bit 1 says so and otherwise at the entry's uncompressed size. It is rewritten
// as an LZMA_ALONE header for the lzma package, with the dictionary bounded like
// the xz and LZMA_ALONE paths. On failure it returns the reason.
func zipLZMAReader(r io.Reader, e zipEntry) (io.Reader, string) {
	var h [9]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, "header is truncated"
	}
	if binary.LittleEndian.Uint16(h[2:]) != 5 {
		return nil, "unexpected properties size"
	}
	dict := binary.LittleEndian.Uint32(h[5:])
	if dict > maxLZMADict {
		return nil, fmt.Sprintf("dictionary of %d bytes exceeds the limit", dict)
	}
	var alone [13]byte
	copy(alone[:5], h[4:9])
	size := uint64(math.MaxUint64) // unknown: the stream ends with its end marker
	if e.flags&2 == 0 && e.uncompSize != math.MaxUint64 {
		size = e.uncompSize
	}
	binary.LittleEndian.PutUint64(alone[5:], size)
	lr, err := lzma.ReaderConfig{DictCap: maxLZMADict}.NewReader(io.MultiReader(bytes.NewReader(alone[:]), r))
	if err != nil {
		return nil, err.Error()
	}
	return lr, ""
}

// zipDecompressor reads a deflate (8), bzip2 (12) or LZMA (14) member's data from
// r; the caller has checked the method. It returns nil and the reason when an LZMA
// member cannot be decoded, and a close function to call when done.
func zipDecompressor(r io.Reader, e zipEntry) (io.Reader, func(), string) {
	switch e.method {
	case 8:
		fr := flate.NewReader(r)
		return fr, func() { fr.Close() }, ""
	case 12:
		return bzip2.NewReader(r), func() {}, ""
	}
	lr, reason := zipLZMAReader(r, e)
	if lr == nil {
		return nil, nil, reason
	}
	return lr, func() {}, ""
}

// zipCryptoHeader is the size of the encryption header that traditional PKWARE
// (ZipCrypto) encryption puts before a member's data.
const zipCryptoHeader = 12

// zipPlaintext reports whether an encrypted-flagged member's bytes are in fact
// its plaintext: they decompress (or, stored, read) to exactly the declared size
// with the declared CRC-32. Ciphertext cannot do that. The check streams the
// member (bounded by MaxDecompressedBytes) and keeps nothing.
func (s *scanner) zipPlaintext(ctx context.Context, ra io.ReaderAt, e zipEntry) bool {
	if e.uncompSize > uint64(s.opts.MaxDecompressedBytes) {
		return false
	}
	switch e.method {
	case 0:
		// A stored member has no room for the encryption header: whatever its
		// CRC says, its bytes are what a reader that ignores the flag loads.
		return e.compSize == e.uncompSize
	case 8, 12, 14:
	default:
		return false
	}
	r, closeR, _ := zipDecompressor(io.NewSectionReader(ra, e.dataOff, int64(e.compSize)), e)
	if r == nil {
		return false
	}
	defer closeR()
	h := crc32.NewIEEE()
	n, err := io.Copy(h, &ctxReader{ctx: ctx, r: io.LimitReader(r, int64(e.uncompSize)+1)})
	return err == nil && uint64(n) == e.uncompSize && h.Sum32() == e.crc
}

// ctxReader stops a long read when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
