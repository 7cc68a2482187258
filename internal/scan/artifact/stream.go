package artifact

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// errTruncated reports that a stream ended inside a structure it declared.
var errTruncated = errors.New("unexpected end of data")

// stream is a buffered, offset-tracking reader over untrusted bytes. It exists
// because bufio.Reader can neither report its position nor skip by seeking: tensor
// data is skipped with Seek when the source allows it, so multi-gigabyte payloads are
// never read, let alone held. A stream can be narrowed with a limit so nested parsers
// (a pickle inside a bytes value, a member inside a container) cannot read past the
// region they were given.
type stream struct {
	src    io.Reader
	seeker io.Seeker // nil when src cannot seek
	buf    []byte
	r, w   int   // unread data is buf[r:w]
	base   int64 // stream offset of buf[0]
	limit  int64 // offset the reader may not pass; -1 for none
	err    error // sticky error from src
	end    int   // buf[r:end] may be consumed: w, or less under the limit (see sync)
	max    int   // the window len(buf) may grow to
	fills  int   // reads from src so far
	pooled *[]byte
}

// streamBufPool recycles full-size windows of streams that are released.
var streamBufPool = newFreeList(8, func() *[]byte { b := make([]byte, streamBufSize); return &b })

// release returns a pooled window; the stream and every slice it returned must
// not be used afterwards.
func (s *stream) release() {
	if s.pooled != nil {
		streamBufPool.put(s.pooled)
		s.pooled, s.buf, s.r, s.w, s.err = nil, nil, 0, 0, errTruncated
		s.sync()
	}
}

// sync recomputes end after buf, w, base or limit change.
func (s *stream) sync() {
	e := s.w
	if s.limit >= 0 {
		if room := s.limit - s.base; room < int64(e) {
			e = int(max(room, 0))
		}
	}
	s.end = e
}

const streamBufSize = 64 << 10

// newStream wraps src, whose current position is offset 0. When src is an
// io.Seeker, large skips seek instead of reading.
func newStream(src io.Reader) *stream {
	return newStreamSize(src, streamBufSize)
}

// newStreamSize is newStream with a smaller window for regions known to be
// small (at least 4 KiB, so format sniffing and line reads still fit).
//
// The window starts at 4 KiB and grows to its full size once more is needed, so
// a region that is only sniffed (a zip read by its directory) costs 4 KiB.
func newStreamSize(src io.Reader, size int64) *stream {
	n := int(min(max(size+1, 4096), streamBufSize))
	s := &stream{src: src, buf: make([]byte, min(n, 4096)), limit: -1, max: n}
	if sk, ok := src.(io.Seeker); ok {
		s.seeker = sk
	}
	return s
}

// newStreamBytes is a stream over b, read in place (b must not change while
// the stream is used).
func newStreamBytes(b []byte) *stream {
	return &stream{src: bytes.NewReader(nil), buf: b, w: len(b), end: len(b), limit: int64(len(b)), max: len(b), fills: 1}
}

// Offset is the position of the next unread byte.
func (s *stream) Offset() int64 { return s.base + int64(s.r) }

// setLimit narrows the stream so no read passes offset end; it returns the previous
// limit for restoreLimit. A narrower existing limit wins.
func (s *stream) setLimit(end int64) int64 {
	old := s.limit
	if old < 0 || end < old {
		s.limit = end
	}
	s.sync()
	return old
}

func (s *stream) restoreLimit(old int64) { s.limit = old; s.sync() }

// remaining is how many bytes may still be read before the limit, or -1.
func (s *stream) remaining() int64 {
	if s.limit < 0 {
		return -1
	}
	return s.limit - s.Offset()
}

// avail is the buffered byte count usable under the limit.
func (s *stream) avail() int {
	n := s.w - s.r
	if s.limit >= 0 {
		if room := s.limit - s.Offset(); room < int64(n) {
			n = int(max(room, 0))
		}
	}
	return n
}

// grow enlarges the window to hold at least n bytes (up to max).
func (s *stream) grow(n int) {
	if n <= len(s.buf) || len(s.buf) >= s.max {
		return
	}
	var nb []byte
	if s.max > 16<<10 && s.pooled == nil {
		s.pooled = streamBufPool.get()
		nb = (*s.pooled)[:s.max]
	} else {
		nb = make([]byte, s.max)
	}
	copy(nb, s.buf[s.r:s.w])
	s.base += int64(s.r)
	s.w -= s.r
	s.r = 0
	s.buf = nb
	s.sync()
}

// fill reads more data so at least need bytes are buffered (need ≤ max).
func (s *stream) fill(need int) error {
	defer s.sync()
	if s.fills > 0 || need > len(s.buf) {
		s.grow(s.max)
	}
	s.fills++
	if s.r > 0 && s.r+need > len(s.buf) {
		copy(s.buf, s.buf[s.r:s.w])
		s.base += int64(s.r)
		s.w -= s.r
		s.r = 0
	}
	for s.w-s.r < need {
		if s.err != nil {
			return s.err
		}
		n, err := s.src.Read(s.buf[s.w:])
		s.w += n
		if err != nil {
			s.err = err
		} else if n == 0 {
			s.err = io.ErrNoProgress
		}
	}
	return nil
}

// ensure makes n bytes available under the limit or returns errTruncated (or the
// source's error).
func (s *stream) ensure(n int) error {
	if s.limit >= 0 && s.limit-s.Offset() < int64(n) {
		return errTruncated
	}
	if s.w-s.r >= n {
		return nil
	}
	if err := s.fill(n); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return errTruncated
		}
		return fmt.Errorf("read: %w", err)
	}
	return nil
}

// ReadByte returns the next byte.
func (s *stream) ReadByte() (byte, error) {
	if s.r < s.end {
		b := s.buf[s.r]
		s.r++
		return b, nil
	}
	return s.readByteSlow()
}

// take returns the next n buffered bytes when they are there (inlined fast path
// of Next; false means call Next).
func (s *stream) take(n int) ([]byte, bool) {
	r := s.r + n
	if n < 0 || r > s.end {
		return nil, false
	}
	p := s.buf[s.r:r]
	s.r = r
	return p, true
}

// takeByte is the inlined fast path of ReadByte.
func (s *stream) takeByte() (byte, bool) {
	if s.r < s.end {
		b := s.buf[s.r]
		s.r++
		return b, true
	}
	return 0, false
}

func (s *stream) readByteSlow() (byte, error) {
	if err := s.ensure(1); err != nil {
		return 0, err
	}
	b := s.buf[s.r]
	s.r++
	return b, nil
}

// Next returns the next n bytes (n ≤ streamBufSize), valid until the next call.
func (s *stream) Next(n int) ([]byte, error) {
	if r := s.r + n; n >= 0 && r <= s.end {
		p := s.buf[s.r:r]
		s.r = r
		return p, nil
	}
	return s.nextSlow(n)
}

func (s *stream) nextSlow(n int) ([]byte, error) {
	if n > s.max {
		return nil, fmt.Errorf("read of %d bytes exceeds the %d-byte window", n, s.max)
	}
	if err := s.ensure(n); err != nil {
		return nil, err
	}
	p := s.buf[s.r : s.r+n]
	s.r += n
	return p, nil
}

// Peek returns up to n upcoming bytes without consuming them; fewer at the end.
func (s *stream) Peek(n int) []byte {
	n = min(n, s.max)
	if s.w-s.r < n {
		_ = s.fill(n)
	}
	return s.buf[s.r : s.r+min(n, s.avail())]
}

// Read implements io.Reader within the limit.
func (s *stream) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if s.avail() == 0 {
		if s.limit >= 0 && s.Offset() >= s.limit {
			return 0, io.EOF
		}
		if err := s.fill(1); err != nil {
			if s.w-s.r == 0 {
				return 0, err
			}
		}
	}
	n := copy(p, s.buf[s.r:s.r+s.avail()])
	s.r += n
	return n, nil
}

// ReadLine reads through the next '\n' and returns the line without it. Lines
// longer than max are an error: pickle text arguments are short in real files.
func (s *stream) ReadLine(max int) ([]byte, error) {
	max = min(max, s.max-1)
	// Fast path: the line is in the buffer and under the limit.
	if end := s.w; end > s.r {
		if s.limit >= 0 && s.limit-s.base < int64(end) {
			end = int(max64(s.limit-s.base, int64(s.r)))
		}
		if i := bytes.IndexByte(s.buf[s.r:min(end, s.r+max)], '\n'); i >= 0 {
			line := s.buf[s.r : s.r+i]
			s.r += i + 1
			return line, nil
		}
	}
	for i := 0; ; i++ {
		if i >= max {
			return nil, fmt.Errorf("line longer than %d bytes", max)
		}
		if s.r+i >= s.w {
			if err := s.ensure(i + 1); err != nil {
				return nil, err
			}
		}
		if s.limit >= 0 && s.Offset()+int64(i) >= s.limit {
			return nil, errTruncated
		}
		if s.buf[s.r+i] == '\n' {
			line := s.buf[s.r : s.r+i]
			s.r += i + 1
			return line, nil
		}
	}
}

// Skip discards n bytes, seeking when the source allows it and the skip is past the
// buffer, so skipped tensor data is never read. It returns errTruncated when the
// stream (or its limit) ends first.
func (s *stream) Skip(n int64) error {
	defer s.sync()
	if n < 0 {
		return fmt.Errorf("negative skip %d", n)
	}
	if s.limit >= 0 && s.limit-s.Offset() < n {
		return errTruncated
	}
	if buffered := int64(s.w - s.r); n <= buffered {
		s.r += int(n)
		return nil
	}
	n -= int64(s.w - s.r)
	s.base += int64(s.w)
	s.r, s.w = 0, 0
	if s.seeker != nil && s.err == nil {
		cur, err := s.seeker.Seek(0, io.SeekCurrent)
		if err == nil {
			end, err := s.seeker.Seek(0, io.SeekEnd)
			if err == nil && end-cur >= n {
				if _, err := s.seeker.Seek(cur+n, io.SeekStart); err == nil {
					s.base += n
					return nil
				}
			}
			if err == nil {
				// Restore the position so the short read below reports truncation.
				if _, err := s.seeker.Seek(cur, io.SeekStart); err != nil {
					return fmt.Errorf("seek: %w", err)
				}
			}
		}
	}
	m, err := io.CopyN(io.Discard, s.src, n)
	s.base += m
	if err != nil {
		if err == io.EOF {
			return errTruncated
		}
		return fmt.Errorf("skip: %w", err)
	}
	return nil
}

// atEnd reports whether no byte remains (under the limit or in the source).
func (s *stream) atEnd() bool {
	if s.limit >= 0 && s.Offset() >= s.limit {
		return true
	}
	return len(s.Peek(1)) == 0
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// ReadLongLine reads through the next '\n' however far it is, keeping at most
// keep bytes of the line (appended to dst[:0]) and returning the line's full
// length: CPython reads protocol 0 arguments of any length, and a scanner that
// stops at a long line is evaded by one. Memory stays bounded by keep and the
// window. At the end of the stream (or limit) it returns errTruncated, having
// consumed what it read.
func (s *stream) ReadLongLine(dst []byte, keep int) ([]byte, int64, error) {
	dst = dst[:0]
	var n int64
	for {
		a := s.avail()
		if a == 0 {
			if err := s.ensure(1); err != nil {
				return dst, n, err
			}
			a = s.avail()
		}
		chunk := s.buf[s.r : s.r+a]
		i := bytes.IndexByte(chunk, '\n')
		part := chunk
		if i >= 0 {
			part = chunk[:i]
		}
		if room := keep - len(dst); room > 0 {
			dst = append(dst, part[:min(room, len(part))]...)
		}
		n += int64(len(part))
		if i >= 0 {
			s.r += i + 1
			return dst, n, nil
		}
		s.r += a
	}
}
