package artifact

import (
	"archive/tar"
	"compress/bzip2"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
)

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

// scanCompressed decompresses a gzip, zlib or bzip2 stream (joblib's compressed
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
	case fmtZlib:
		var zr io.ReadCloser
		if zr, err = zlib.NewReader(src); err == nil {
			defer zr.Close()
			r = zr
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

// scanTar scans tar members (PyTorch's oldest format is a tar of pickles).
func (s *scanner) scanTar(ctx context.Context, in region) error {
	if in.ra == nil {
		s.c.skip(in.l, "tar archive inside a compressed stream is not supported")
		return nil
	}
	sc := &seekCounter{r: io.NewSectionReader(in.ra, 0, in.size)}
	tr := tar.NewReader(sc)
	for {
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
