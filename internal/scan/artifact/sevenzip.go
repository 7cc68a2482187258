package artifact

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/bodgit/sevenzip"
	"github.com/ulikunitz/xz/lzma"
)

// 7-Zip archives (picklescan reads them, so attackers ship pickles in them) are
// read with github.com/bodgit/sevenzip. Memory stays bounded: its LZMA and LZMA2
// decoders are replaced by ones that refuse dictionaries over maxLZMADict, the
// coders whose memory the archive chooses without a useful bound (PPMd, zstd,
// brotli, LZ4) are refused, each member is decompressed as a stream up to
// MaxDecompressedBytes, the archive as a whole up to MaxArchiveDecompressedBytes,
// a ratio of declared to stored bytes past MaxCompressionRatio is a bomb, and an
// archive that is not in a file is read from memory only up to MaxInMemory.

// sig7z is the signature of a 7-Zip archive.
var sig7z = []byte{'7', 'z', 0xbc, 0xaf, 0x27, 0x1c}

// fmt7z names 7-Zip archives for the sniffer.
const fmt7z format = "7z"

// max7zHeader bounds the archive's header (its file list), which the reader
// holds in memory.
const max7zHeader = 64 << 20

// max7zMembers bounds how many members of one archive are scanned.
const max7zMembers = 100_000

var register7z sync.Once

// errRefused7z is returned by the coders this scanner does not run.
var errRefused7z = errors.New("coder not run by this scanner (its memory use is set by the archive)")

// errEncrypted7z is returned for AES-encrypted content.
var errEncrypted7z = errors.New("encrypted with AES")

func init7z() {
	register7z.Do(func() {
		sevenzip.RegisterDecompressor([]byte{0x03, 0x01, 0x01}, bounded7zLZMA)
		sevenzip.RegisterDecompressor([]byte{0x21}, bounded7zLZMA2)
		refuse := func([]byte, uint64, []io.ReadCloser) (io.ReadCloser, error) { return nil, errRefused7z }
		// AES-256 (7-Zip's only cipher): without a password nothing can be read;
		// the error says so rather than letting the next coder fail on ciphertext.
		sevenzip.RegisterDecompressor([]byte{0x06, 0xf1, 0x07, 0x01}, func([]byte, uint64, []io.ReadCloser) (io.ReadCloser, error) {
			return nil, errEncrypted7z
		})
		for _, m := range [][]byte{{0x03, 0x04, 0x01}, {0x04, 0xf7, 0x11, 0x01}, {0x04, 0xf7, 0x11, 0x02}, {0x04, 0xf7, 0x11, 0x04}} {
			sevenzip.RegisterDecompressor(m, refuse)
		}
	})
}

type readCloser struct {
	io.Reader
	c io.Closer
}

func (r readCloser) Close() error { return r.c.Close() }

// bounded7zLZMA decodes a 7z LZMA coder: 5 property bytes (lc/lp/pb and the
// dictionary size), then the raw stream of a known unpacked size.
func bounded7zLZMA(props []byte, size uint64, in []io.ReadCloser) (io.ReadCloser, error) {
	if len(in) != 1 || len(props) != 5 {
		return nil, errors.New("lzma: bad coder properties")
	}
	if dict := binary.LittleEndian.Uint32(props[1:]); dict > maxLZMADict {
		return nil, fmt.Errorf("lzma: dictionary of %d bytes exceeds the limit", dict)
	}
	var h [13]byte
	copy(h[:5], props)
	binary.LittleEndian.PutUint64(h[5:], size)
	r, err := lzma.ReaderConfig{DictCap: maxLZMADict}.NewReader(io.MultiReader(bytes.NewReader(h[:]), in[0]))
	if err != nil {
		return nil, err
	}
	return readCloser{Reader: r, c: in[0]}, nil
}

// bounded7zLZMA2 decodes a 7z LZMA2 coder, whose one property byte encodes the
// dictionary size.
func bounded7zLZMA2(props []byte, _ uint64, in []io.ReadCloser) (io.ReadCloser, error) {
	if len(in) != 1 || len(props) != 1 || props[0] > 40 {
		return nil, errors.New("lzma2: bad coder properties")
	}
	dict := uint64(2|props[0]&1) << (props[0]/2 + 11)
	if props[0] == 40 {
		dict = 0xffffffff
	}
	if dict > maxLZMADict {
		return nil, fmt.Errorf("lzma2: dictionary of %d bytes exceeds the limit", dict)
	}
	r, err := lzma.Reader2Config{DictCap: int(max(dict, lzma.MinDictCap))}.NewReader2(in[0])
	if err != nil {
		return nil, err
	}
	return readCloser{Reader: r, c: in[0]}, nil
}

// scan7z scans every member of a 7-Zip archive as a file of its own.
func (s *scanner) scan7z(ctx context.Context, in region) (err error) {
	init7z()
	ra, size := in.ra, in.size
	if ra == nil {
		if in.size < 0 || in.size > s.opts.MaxInMemory {
			s.c.skip(in.l, "7z archive inside a compressed stream is larger than the in-memory limit (%d bytes); not scanned", s.opts.MaxInMemory)
			return nil
		}
		buf, rerr := io.ReadAll(io.LimitReader(in.st, in.size))
		if rerr != nil && !errors.Is(rerr, errTruncated) {
			return fmt.Errorf("read 7z archive: %w", rerr)
		}
		ra, size = bytes.NewReader(buf), int64(len(buf))
	}
	// The start header names the file list's size; a list past the end or too
	// large to hold is refused before the reader allocates for it.
	var sh [32]byte
	if _, rerr := ra.ReadAt(sh[:], 0); rerr != nil {
		s.c.add(in.l, ruleContainerMalformed, 0, map[string]any{"format": "7z"}, "start header is truncated")
		return nil
	}
	nextOff, nextSize := binary.LittleEndian.Uint64(sh[12:]), binary.LittleEndian.Uint64(sh[20:])
	if nextOff > uint64(size) || nextSize > uint64(size)-min(nextOff, uint64(size)) || 32+nextOff+nextSize > uint64(size) {
		s.c.add(in.l, ruleContainerPastEnd, 0, map[string]any{"format": "7z", "header_offset": nextOff, "header_size": nextSize}, "(header)", "the archive's file list lies past the end of the file")
		return nil
	}
	if nextSize > max7zHeader {
		s.c.skip(in.l, "7z file list of %d bytes is larger than the limit (%d bytes); not scanned", nextSize, max7zHeader)
		return nil
	}
	defer func() {
		// The reader parses untrusted counts and offsets; a panic in it is a
		// malformed archive, not a crash of the scan.
		if r := recover(); r != nil {
			s.c.add(in.l, ruleContainerMalformed, -1, map[string]any{"format": "7z"}, fmt.Sprintf("the 7z reader failed on it (%v)", r))
			err = nil
		}
	}()
	zr, oerr := sevenzip.NewReader(ra, size)
	if oerr != nil {
		msg := oerr.Error()
		if errors.Is(oerr, errEncrypted7z) || strings.Contains(msg, errEncrypted7z.Error()) {
			s.c.skip(in.l, "7z archive has an encrypted file list; encrypted content cannot be analysed")
			return nil
		}
		if strings.Contains(msg, "exceeds the limit") || errors.Is(oerr, errRefused7z) {
			s.c.skip(in.l, "7z file list not decoded: %s; not scanned", msg)
			return nil
		}
		s.c.add(in.l, ruleStructInvalid, 0, map[string]any{"format": "7z"}, "7z archive", msg)
		return nil
	}
	s.check7zRatio(zr.File, size, in.l)
	// Members of a solid archive share one compressed stream, read in order:
	// reaching a member decodes every byte before it. streamOff is where each
	// member starts in its stream, streamEnd how far the stream must be decoded
	// for what was scanned so far, and spent the sum of those ends, which stays
	// within MaxArchiveDecompressedBytes (and each stream within
	// MaxDecompressedBytes), so a small member behind a huge one cannot make the
	// scan decode without bound.
	streamOff, streamEnd := map[int]uint64{}, map[int]uint64{}
	var spent uint64
	for i, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		if i >= max7zMembers {
			s.c.skip(in.l, "7z archive has more than %d members; the rest were not scanned", max7zMembers)
			return nil
		}
		if unsafeMemberName(f.Name) {
			s.c.add(in.l, ruleContainerTraversal, -1, map[string]any{"format": "7z", "member_name": f.Name}, quote(f.Name, 200))
		}
		if f.FileInfo().IsDir() || f.UncompressedSize == 0 {
			continue
		}
		// Sizes are the archive's word, clamped so sums cannot wrap.
		sz := min(f.UncompressedSize, 1<<62)
		off := streamOff[f.Stream]
		streamOff[f.Stream] = min(off+sz, 1<<63)
		l := in.l.child(f.Name, -1)
		need := off + min(sz, uint64(s.opts.MaxDecompressedBytes))
		extra := need - min(need, streamEnd[f.Stream])
		switch {
		case need > uint64(s.opts.MaxDecompressedBytes):
			s.c.skip(l, "member starts %d bytes into a solid 7z stream, past the decompression limit (%d bytes); not scanned", off, s.opts.MaxDecompressedBytes)
			continue
		case spent+extra > uint64(s.opts.MaxArchiveDecompressedBytes):
			s.c.skip(l, "reaching this member would decompress the 7z archive past its limit (%d bytes in all); not scanned", s.opts.MaxArchiveDecompressedBytes)
			continue
		}
		spent += extra
		streamEnd[f.Stream] = max(streamEnd[f.Stream], need)
		if err := s.scan7zMember(ctx, f, l); err != nil {
			return err
		}
	}
	return nil
}

// check7zRatio reports a decompression bomb when the members declare more than
// 1 GiB in all and more than MaxCompressionRatio times the archive's size (as
// zip.go does for zip archives). 7z does not store each member's packed size, so
// the ratio is the archive's.
func (s *scanner) check7zRatio(files []*sevenzip.File, size int64, l loc) {
	var total uint64
	for _, f := range files {
		total = min(total+min(f.UncompressedSize, 1<<62), 1<<63)
	}
	if size > 0 && total > 1<<30 && float64(total)/float64(size) > s.opts.MaxCompressionRatio {
		s.c.add(l, ruleContainerBomb, -1, map[string]any{"format": "7z", "declared_total": total, "ratio": float64(total) / float64(size)},
			"(all members)", fmt.Sprintf("%d bytes declared in a %d-byte archive", total, size))
	}
}

// scan7zMember decompresses one member as a stream and scans it.
func (s *scanner) scan7zMember(ctx context.Context, f *sevenzip.File, l loc) error {
	rc, err := f.Open()
	if err != nil {
		switch msg := err.Error(); {
		case errors.Is(err, errEncrypted7z) || strings.Contains(msg, errEncrypted7z.Error()):
			s.c.skip(l, "member is encrypted; encrypted content cannot be analysed")
		default:
			s.c.skip(l, "member not decompressed: %s; not scanned", msg)
		}
		return nil
	}
	defer rc.Close()
	limit := min(int64(min(f.UncompressedSize, 1<<62)), s.opts.MaxDecompressedBytes)
	if f.UncompressedSize > uint64(s.opts.MaxDecompressedBytes) {
		s.c.skip(l, "only the first %d of %d decompressed bytes were scanned", s.opts.MaxDecompressedBytes, f.UncompressedSize)
	}
	tr := &errTolerantReader{r: rc}
	st := newStream(tr)
	defer st.release()
	st.setLimit(limit)
	if err := s.scanRegion(ctx, region{st: st, size: limit, l: l}); err != nil {
		return err
	}
	if tr.err != nil {
		// What was read before the error was scanned; the rest could not be.
		switch msg := tr.err.Error(); {
		case errors.Is(tr.err, errEncrypted7z) || strings.Contains(msg, errEncrypted7z.Error()):
			s.c.skip(l, "member is encrypted; encrypted content cannot be analysed")
		default:
			s.c.skip(l, "member not fully decompressed: %s; the rest was not scanned", msg)
		}
	}
	return nil
}
