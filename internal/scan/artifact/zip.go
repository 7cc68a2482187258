package artifact

import (
	"bytes"
	"compress/bzip2"
	"compress/flate"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"strings"
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
	compSize   uint64
	uncompSize uint64
	localOff   int64 // absolute, after the prepended-data adjustment
	dataOff    int64 // absolute; -1 when the local header is unusable
	end        int64 // dataOff + compSize
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
	fallback := -1
	for i := len(buf) - 22; i >= 0; i-- {
		if binary.LittleEndian.Uint32(buf[i:]) != sigEOCD {
			continue
		}
		commentLen := int(binary.LittleEndian.Uint16(buf[i+20:]))
		if i+22+commentLen == len(buf) {
			return size - n + int64(i), buf[i : i+22], true
		}
		if fallback < 0 && i+22+commentLen <= len(buf) {
			fallback = i
		}
	}
	if fallback >= 0 {
		return size - n + int64(fallback), buf[fallback : fallback+22], true
	}
	return 0, nil, false
}

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
	eocdOff, rec, ok := findEOCD(ra, size)
	if !ok {
		s.c.add(l, ruleContainerMalformed, -1, map[string]any{"format": "zip"}, "no end of central directory record")
		s.c.skip(l, "zip archive without a central directory; members not scanned")
		return nil
	}
	count := uint64(binary.LittleEndian.Uint16(rec[10:]))
	cdSize := uint64(binary.LittleEndian.Uint32(rec[12:]))
	cdOff := uint64(binary.LittleEndian.Uint32(rec[16:]))
	zip64 := false
	if count == 0xffff || cdSize == 0xffffffff || cdOff == 0xffffffff {
		if c, sz, off, ok := readZip64EOCD(ra, eocdOff); ok {
			count, cdSize, cdOff, zip64 = c, sz, off, true
		}
	}
	cdEnd := eocdOff
	if zip64 {
		cdEnd = eocdOff - 20 - 56
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
	cdStart := int64(cdOff) + concat
	if count > maxZipEntries || count > cdSize/46+1 {
		s.c.add(l, ruleContainerMalformed, eocdOff, map[string]any{"format": "zip", "declared_entries": count},
			fmt.Sprintf("declares %d entries in a %d-byte central directory", count, cdSize))
		count = min(count, cdSize/46+1, maxZipEntries)
	}
	entries, err := s.readCentral(ra, cdStart, int64(cdSize), count, concat, l)
	if err != nil {
		return err
	}
	s.checkZipEntries(ra, entries, cdStart, l)
	kind := archiveKind(entries)
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

func readZip64EOCD(ra io.ReaderAt, eocdOff int64) (count, size, off uint64, ok bool) {
	if eocdOff < 20 {
		return 0, 0, 0, false
	}
	loc := make([]byte, 20)
	if _, err := ra.ReadAt(loc, eocdOff-20); err != nil || binary.LittleEndian.Uint32(loc) != sigEOCD64Loc {
		return 0, 0, 0, false
	}
	recOff := int64(binary.LittleEndian.Uint64(loc[8:]))
	rec := make([]byte, 56)
	if recOff < 0 || recOff > eocdOff {
		return 0, 0, 0, false
	}
	if _, err := ra.ReadAt(rec, recOff); err != nil || binary.LittleEndian.Uint32(rec) != sigEOCD64 {
		return 0, 0, 0, false
	}
	return binary.LittleEndian.Uint64(rec[32:]), binary.LittleEndian.Uint64(rec[40:]), binary.LittleEndian.Uint64(rec[48:]), true
}

// readCentral parses the central directory and each entry's local header.
func (s *scanner) readCentral(ra io.ReaderAt, start, size int64, count uint64, concat int64, l loc) ([]zipEntry, error) {
	st := newStreamSize(io.NewSectionReader(ra, start, size), size)
	st.setLimit(size)
	var entries []zipEntry
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
		e.name = string(name)
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
		entries = append(entries, e)
	}
	for i := range entries {
		s.readLocal(ra, &entries[i], l)
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

// readLocal reads an entry's local header, comparing it with the central record.
func (s *scanner) readLocal(ra io.ReaderAt, e *zipEntry, l loc) {
	// One read for the fixed header and the name it should carry.
	buf := make([]byte, 30+len(e.name))
	n, _ := ra.ReadAt(buf, e.localOff)
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
	name := buf[30:n]
	if int64(len(name)) > nameLen {
		name = name[:nameLen]
	} else if int64(len(name)) < nameLen {
		name = make([]byte, nameLen)
		if _, err := ra.ReadAt(name, e.localOff+30); err != nil {
			s.c.add(l, ruleContainerPastEnd, e.localOff, map[string]any{"format": "zip", "member_name": e.name}, quote(e.name, 120), "local header name lies past the end of the file")
			return
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
	e.dataOff = e.localOff + 30 + nameLen + extraLen
	e.end = e.dataOff + int64(e.compSize)
}

var torchStorageName = regexp.MustCompile(`(^|/)(data|\.data)/[0-9]+$`)

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
func (s *scanner) checkZipEntries(ra io.ReaderAt, entries []zipEntry, cdStart int64, l loc) {
	seen := map[string]bool{}
	var totalUncomp uint64
	for _, e := range entries {
		ev := map[string]any{"format": "zip", "member_name": e.name}
		if unsafeMemberName(e.name) {
			s.c.add(l, ruleContainerTraversal, e.localOff, ev, quote(e.name, 200))
		}
		if seen[e.name] {
			s.c.add(l, ruleContainerDuplicate, e.localOff, ev, quote(e.name, 200))
		}
		seen[e.name] = true
		if e.dataOff >= 0 && e.end > cdStart {
			s.c.add(l, ruleContainerPastEnd, e.localOff, ev, quote(e.name, 200), fmt.Sprintf("data (%d bytes) runs into the central directory", e.compSize))
		}
		if e.method == 0 && e.compSize != e.uncompSize {
			s.c.add(l, ruleContainerMismatch, e.localOff, ev, quote(e.name, 200), fmt.Sprintf("stored member declares %d compressed but %d uncompressed bytes", e.compSize, e.uncompSize))
		}
		if e.compSize > 0 && float64(e.uncompSize)/float64(e.compSize) > s.opts.MaxCompressionRatio {
			ev["ratio"] = float64(e.uncompSize) / float64(e.compSize)
			s.c.add(l, ruleContainerBomb, e.localOff, ev, quote(e.name, 200), fmt.Sprintf("%d bytes from %d", e.uncompSize, e.compSize))
		}
		totalUncomp += e.uncompSize
	}
	if fileSize := cdStart; fileSize > 0 && totalUncomp > 1<<30 && float64(totalUncomp)/float64(fileSize) > s.opts.MaxCompressionRatio {
		s.c.add(l, ruleContainerBomb, -1, map[string]any{"format": "zip", "declared_total": totalUncomp}, "(all members)", fmt.Sprintf("%d bytes declared in a %d-byte archive", totalUncomp, fileSize))
	}
	byOff := slices.Clone(entries)
	slices.SortFunc(byOff, func(a, b zipEntry) int { return int(min(max(a.localOff-b.localOff, -1), 1)) })
	for i := 1; i < len(byOff); i++ {
		prev, cur := byOff[i-1], byOff[i]
		if prev.dataOff >= 0 && cur.localOff < prev.end {
			s.c.add(l, ruleContainerOverlap, cur.localOff, map[string]any{"format": "zip", "member_name": cur.name, "other_member": prev.name}, quote(prev.name, 120), quote(cur.name, 120))
		}
	}
	if len(byOff) > 0 && byOff[0].localOff > 0 {
		s.c.add(l, ruleContainerPrefix, 0, map[string]any{"format": "zip", "prefix_bytes": byOff[0].localOff}, byOff[0].localOff)
	}
	// Local headers that the central directory does not list are seen only by
	// streaming readers: a classic way to show scanners one archive and loaders another.
	for i := 0; i+1 <= len(byOff); i++ {
		gapStart := byOff[i].end
		gapEnd := cdStart
		if i+1 < len(byOff) {
			gapEnd = byOff[i+1].localOff
		}
		if byOff[i].dataOff < 0 || gapEnd-gapStart < 30 {
			continue
		}
		sig := make([]byte, 4)
		if _, err := ra.ReadAt(sig, gapStart); err == nil && binary.LittleEndian.Uint32(sig) == sigLocal {
			s.c.add(l, ruleContainerMismatch, gapStart, map[string]any{"format": "zip"}, "(unlisted)", "a local header that the central directory does not list")
		}
	}
}

// unsafeMemberName reports names that escape the extraction folder.
func unsafeMemberName(name string) bool {
	if name == "" || strings.ContainsRune(name, 0) {
		return true
	}
	n := strings.ReplaceAll(name, `\`, "/")
	if strings.HasPrefix(n, "/") || (len(n) >= 2 && n[1] == ':') {
		return true
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
		s.c.skip(child, "member is encrypted; content not scanned")
		return nil
	}
	if kind == "pytorch" && torchStorageName.MatchString(e.name) {
		return nil // tensor storage: raw numbers, never unpickled
	}
	if kind == "pytorch" && strings.Contains(e.name, "/code/") && strings.HasSuffix(e.name, ".py") {
		s.c.add(l, ruleTorchScript, -1, map[string]any{"member_name": e.name}, quote(e.name, 200))
		return nil
	}
	var in region
	switch e.method {
	case 0:
		in = s.regionAt(ra, e.dataOff, int64(e.compSize), child)
	case 8, 12:
		var r io.Reader = io.NewSectionReader(ra, e.dataOff, int64(e.compSize))
		if e.method == 8 {
			fr := flate.NewReader(r)
			defer fr.Close()
			r = fr
		} else {
			r = bzip2.NewReader(r)
		}
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
	base := path.Base(e.name)
	if strings.HasSuffix(base, ".pkl") || strings.HasSuffix(base, ".debug_pkl") {
		// PyTorch unpickles these whatever their first byte says.
		return s.a.scanPicklesAt(ctx, in.st, child, 0, false)
	}
	return s.scanRegion(ctx, in)
}
