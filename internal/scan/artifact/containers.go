package artifact

import (
	"archive/tar"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// fmtLZMA is the legacy LZMA_ALONE format (.lzma), which joblib writes and
// reads: a 13-byte header (properties, dictionary size, size) starting ']\x00'.
const fmtLZMA format = "lzma"

// maxLZMADict bounds the dictionary an xz or LZMA stream may ask for: the
// decoder allocates it up front, and xz -9 uses 64 MiB.
const maxLZMADict = 64 << 20

// looksLZMAAlone matches joblib's test for LZMA_ALONE data (its first two bytes
// are ']\x00'; no pickle starts so, 0x00 is not an opcode) with a sane header.
func looksLZMAAlone(head []byte) bool {
	return len(head) >= 13 && head[0] == 0x5d && head[1] == 0x00
}

// xzMaxDict walks an xz file from its end (stream footers, indexes, then each
// block's header) and returns the largest LZMA2 dictionary any block asks for,
// since the decoder allocates each block's dictionary up front. ok is false when
// the structure cannot be followed or holds more than 4096 blocks.
func xzMaxDict(ra io.ReaderAt, size int64) (int64, bool) {
	var maxDict int64
	blocks := 0
	end := size
	for end > 0 {
		var w [12]byte
		// stream padding: zero bytes in units of four
		for end >= 4 {
			if _, err := ra.ReadAt(w[:4], end-4); err != nil {
				return 0, false
			}
			if w[0]|w[1]|w[2]|w[3] != 0 {
				break
			}
			end -= 4
		}
		if end < 24 {
			return 0, false
		}
		if _, err := ra.ReadAt(w[:], end-12); err != nil || w[10] != 'Y' || w[11] != 'Z' {
			return 0, false
		}
		backward := (int64(binary.LittleEndian.Uint32(w[4:8])) + 1) * 4
		idxStart := end - 12 - backward
		if idxStart < 12 || backward > 1<<20 {
			return 0, false
		}
		idx := make([]byte, backward)
		if _, err := ra.ReadAt(idx, idxStart); err != nil || idx[0] != 0 {
			return 0, false
		}
		b := idx[1:]
		uvarint := func() (uint64, bool) {
			v, n := binary.Uvarint(b)
			if n <= 0 || n > 9 {
				return 0, false
			}
			b = b[n:]
			return v, true
		}
		n, ok := uvarint()
		if !ok || n > 4096 || blocks+int(n) > 4096 {
			return 0, false
		}
		blocks += int(n)
		var sizes []int64
		var total int64
		for i := uint64(0); i < n; i++ {
			unpadded, ok1 := uvarint()
			_, ok2 := uvarint()
			if !ok1 || !ok2 || unpadded > uint64(size) {
				return 0, false
			}
			padded := (int64(unpadded) + 3) &^ 3
			sizes = append(sizes, padded)
			total += padded
		}
		streamStart := idxStart - total - 12
		if streamStart < 0 {
			return 0, false
		}
		off := streamStart + 12
		for _, sz := range sizes {
			var hb [1024]byte
			hdr := hb[:min(int64(len(hb)), sz)]
			if _, err := ra.ReadAt(hdr, off); err != nil {
				return 0, false
			}
			// xzDictSize expects the 12-byte stream header in front
			d, ok := xzDictSize(append(make([]byte, 12), hdr...))
			if !ok {
				return 0, false
			}
			maxDict = max(maxDict, d)
			off += sz
		}
		end = streamStart
	}
	return maxDict, true
}

// xzDictSize reads the LZMA2 dictionary size of the first block of an xz stream
// (12-byte stream header, then the block header with its filter flags). ok is
// false when the header cannot be followed.
func xzDictSize(head []byte) (size int64, ok bool) {
	if len(head) < 13 || head[12] == 0 {
		return 0, false
	}
	hdrLen := (int(head[12]) + 1) * 4
	if len(head) < 12+hdrLen {
		return 0, false
	}
	b := head[13 : 12+hdrLen]
	if len(b) < 1 {
		return 0, false
	}
	flags := b[0]
	b = b[1:]
	uvarint := func() (uint64, bool) {
		var v uint64
		for i := 0; i < 9 && len(b) > 0; i++ {
			c := b[0]
			b = b[1:]
			v |= uint64(c&0x7f) << (7 * i)
			if c&0x80 == 0 {
				return v, true
			}
		}
		return 0, false
	}
	for _, bit := range []byte{0x40, 0x80} {
		if flags&bit != 0 {
			if _, ok := uvarint(); !ok {
				return 0, false
			}
		}
	}
	nf := int(flags&3) + 1
	for i := 0; i < nf; i++ {
		id, ok1 := uvarint()
		n, ok2 := uvarint()
		if !ok1 || !ok2 || uint64(len(b)) < n {
			return 0, false
		}
		props := b[:n]
		b = b[n:]
		if id == 0x21 && n == 1 {
			dc, err := lzma.DecodeDictCap(props[0])
			return dc, err == nil
		}
	}
	return 0, false
}

// countingReader counts bytes read from a compressed source, so the
// decompression ratio is known while streaming.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// scanCompressed decompresses a gzip, zlib, bzip2, xz or LZMA_ALONE stream (joblib's compressed
// dumps) on the fly, bounded by MaxDecompressedBytes, and scans what is inside.
func (s *scanner) scanCompressed(ctx context.Context, in region, f format) error {
	src := &countingReader{r: in.st}
	var r io.Reader
	var err error
	switch f {
	case fmtGzip:
		var gz *gzip.Reader
		if gz, err = gzip.NewReader(src); err == nil {
			defer gz.Close()
			r = gz
		}
	case fmtZlib, fmtJoblibZFile:
		if f == fmtJoblibZFile {
			if err = in.st.Skip(int64(joblibZHeader(in.st.Peek(64)))); err != nil {
				return err
			}
		}
		var zr io.ReadCloser
		if zr, err = zlib.NewReader(src); err == nil {
			defer zr.Close()
			r = zr
		}
	case fmtXZ:
		dict, ok := xzDictSize(in.st.Peek(1024))
		if ok && in.ra != nil {
			// every block's dictionary, found through the index at the end
			dict, ok = xzMaxDict(in.ra, in.size)
		}
		if !ok || dict > maxLZMADict {
			s.c.skip(in.l, "xz stream with a dictionary of %d bytes (or an unreadable block header) is not decompressed; not scanned", dict)
			return nil
		}
		var xr *xz.Reader
		if xr, err = (xz.ReaderConfig{DictCap: maxLZMADict}).NewReader(src); err == nil {
			r = xr
		}
	case fmtLZMA:
		var lr *lzma.Reader
		if lr, err = (lzma.ReaderConfig{DictCap: maxLZMADict}).NewReader(src); err == nil {
			r = lr
		}
	default:
		r = bzip2.NewReader(src)
	}
	if err != nil {
		s.c.add(in.l, ruleStructInvalid, 0, map[string]any{"format": string(f)}, string(f)+" stream", err.Error())
		return nil
	}
	child := in.l.child("("+string(f)+")", -1)
	st := newStream(&errTolerantReader{r: r})
	limit := s.opts.MaxDecompressedBytes
	st.setLimit(limit)
	inner := region{st: st, size: -1, l: child}
	if f == fmtJoblibZFile && joblibRawArray(st.Peek(4096), s.sniff) {
		return nil
	}
	if err := s.scanRegion(ctx, inner); err != nil {
		return err
	}
	if st.Offset() >= limit {
		s.c.skip(child, "decompressed data exceeds %d bytes; the rest was not scanned", limit)
		if src.n > 0 && float64(st.Offset())/float64(src.n) > s.opts.MaxCompressionRatio {
			s.c.add(in.l, ruleContainerBomb, 0, map[string]any{"format": string(f), "compressed_read": src.n}, "("+string(f)+")",
				fmt.Sprintf("over %d bytes from %d", st.Offset(), src.n))
		}
	}
	return nil
}

// errTolerantReader turns a decompressor's corruption error into end of data, so
// a damaged stream shows up as a truncated inner file (a finding) rather than
// aborting the scan.
type errTolerantReader struct {
	r   io.Reader
	err error
}

func (e *errTolerantReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		e.err = err
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

// seekCounter tracks the offset of a tar stream and lets archive/tar seek past
// member data when the source can.
type seekCounter struct {
	r   io.ReadSeeker
	off int64
}

func (c *seekCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.off += int64(n)
	return n, err
}

func (c *seekCounter) Seek(offset int64, whence int) (int64, error) {
	n, err := c.r.Seek(offset, whence)
	if err == nil {
		c.off = n
	}
	return n, err
}

// maxTarMembers bounds the members of one tar scanned (torch's legacy tar has four).
const maxTarMembers = 1 << 16

// scanTar scans tar members (PyTorch's oldest format is a tar of pickles).
func (s *scanner) scanTar(ctx context.Context, in region) error {
	if in.ra == nil {
		// A tar inside a compressed stream (.tar.gz) is read into memory when it
		// fits in MaxInMemory, so its members can be read in place.
		buf, err := io.ReadAll(io.LimitReader(eofReader{in.st}, s.opts.MaxInMemory+1))
		if err != nil {
			s.c.skip(in.l, "tar archive inside a compressed stream cannot be read (%v); not scanned", err)
			return nil
		}
		if int64(len(buf)) > s.opts.MaxInMemory {
			s.c.skip(in.l, "tar archive inside a compressed stream is larger than the in-memory limit (%d bytes); not scanned", s.opts.MaxInMemory)
			return nil
		}
		in.ra, in.size = bytes.NewReader(buf), int64(len(buf))
	}
	defer s.withMembers(tarMembers(in.ra, in.size))() // tfbundle.go
	sc := &seekCounter{r: io.NewSectionReader(in.ra, 0, in.size)}
	tr := tar.NewReader(sc)
	for members := 0; ; members++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			s.c.add(in.l, ruleContainerMalformed, sc.off, map[string]any{"format": "tar"}, err.Error())
			return nil
		}
		if unsafeMemberName(hdr.Name) || (hdr.Typeflag == tar.TypeSymlink || hdr.Typeflag == tar.TypeLink) && unsafeMemberName(hdr.Linkname) {
			s.c.add(in.l, ruleContainerTraversal, sc.off, map[string]any{"format": "tar", "member_name": hdr.Name, "link": hdr.Linkname}, quote(hdr.Name+" "+hdr.Linkname, 200))
		}
		if members >= maxTarMembers {
			s.c.skip(in.l, "tar archive has more than %d members; the rest were not scanned", maxTarMembers)
			return nil
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		if sc.off+hdr.Size > in.size {
			s.c.add(in.l, ruleContainerPastEnd, sc.off, map[string]any{"format": "tar", "member_name": hdr.Name}, quote(hdr.Name, 200), "data runs past the end of the file")
			return nil
		}
		fileOff := int64(-1)
		if in.l.fileOff >= 0 {
			fileOff = in.l.fileOff + sc.off
		}
		member := s.regionAt(in.ra, sc.off, hdr.Size, in.l.child(hdr.Name, fileOff))
		if err := s.scanRegion(ctx, member); err != nil {
			return err
		}
	}
}

// tarMembers opens regular members of a tar by name, in place; the headers are
// read (once, on the first lookup) in a pass of their own, since a member's
// sibling may come after it.
func tarMembers(ra io.ReaderAt, size int64) func(name string) (io.ReaderAt, int64, bool) {
	var index map[string][2]int64
	return func(name string) (io.ReaderAt, int64, bool) {
		if index == nil {
			index = map[string][2]int64{}
			sc := &seekCounter{r: io.NewSectionReader(ra, 0, size)}
			tr := tar.NewReader(sc)
			for range maxTarMembers {
				hdr, err := tr.Next()
				if err != nil {
					break
				}
				if hdr.Typeflag == tar.TypeReg && sc.off <= size && hdr.Size <= size-sc.off {
					index[hdr.Name] = [2]int64{sc.off, hdr.Size}
				}
			}
		}
		m, ok := index[name]
		if !ok {
			return nil, 0, false
		}
		return io.NewSectionReader(ra, m[0], m[1]), m[1], true
	}
}
