package artifact

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"math"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/encoding/protowire"
)

// A TensorFlow tensor bundle (a checkpoint, or a SavedModel's variables/) is an
// index, "PREFIX.index", and data shards, "PREFIX.data-00000-of-0000N". The
// index is a LevelDB-format table (TensorFlow's own copy of LevelDB's table
// code, tensorflow/core/lib/io/table*.cc): data blocks of prefix-compressed
// key/value entries with restart points, an index block of handles to them, a
// metaindex block, and a 48-byte footer ending with the table magic. Each block
// is stored raw or snappy-compressed, followed by a type byte and a masked
// CRC-32C. The key "" holds a BundleHeaderProto (num_shards, endianness), every
// other key a BundleEntryProto: the tensor's dtype, shape, and the shard,
// offset and size of its bytes. The shards have no header at all: raw tensor
// bytes, which TensorFlow reads only where the index says.
//
// The table is read here rather than with github.com/syndtr/goleveldb's
// table.Reader: that reader is built for its database (a storage.FileDesc, a
// block cache, a buffer pool) and allocates each block, and each snappy block's
// declared decompressed length (up to 4 GiB), before checking it, while a scanner
// of untrusted files must bound every allocation. Snappy itself is
// klauspost/compress's. Memory is one index block and one data block at a time,
// each at most maxBundleBlock bytes.

const (
	// maxBundleBlock bounds one table block, as stored and decompressed.
	// TensorFlow writes 8 KiB blocks at most a little larger (one entry
	// per block at minimum), so 16 MiB allows keys of any sensible length.
	maxBundleBlock = 16 << 20
	// maxBundleKey bounds a key (a tensor's checkpoint name).
	maxBundleKey = 64 << 10
	// maxBundleEntries bounds how many entries of one index are checked.
	maxBundleEntries = 1 << 20
)

// tableFooterLen is the fixed size of a LevelDB table footer.
const tableFooterLen = 48

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// bundleError is a structural problem with a bundle index, at offset off of
// the index file (-1 when not tied to one place).
type bundleError struct {
	off int64
	msg string
}

func (e *bundleError) Error() string { return e.msg }

func bundleErrorf(off int64, format string, args ...any) error {
	return &bundleError{off: off, msg: fmt.Sprintf(format, args...)}
}

// blockHandle is a table block's place: offset and size, without the 5-byte
// trailer.
type blockHandle struct{ off, size uint64 }

func decodeHandle(b []byte) (blockHandle, int, bool) {
	off, n := protowire.ConsumeVarint(b)
	if n < 0 {
		return blockHandle{}, 0, false
	}
	size, m := protowire.ConsumeVarint(b[n:])
	if m < 0 {
		return blockHandle{}, 0, false
	}
	return blockHandle{off, size}, n + m, true
}

// readTableBlock reads the block at h of a table of size bytes, checks its
// checksum and decompresses it.
func readTableBlock(ra io.ReaderAt, size int64, h blockHandle) ([]byte, error) {
	dataEnd := uint64(size - tableFooterLen)
	if h.size > maxBundleBlock {
		return nil, bundleErrorf(int64(min(h.off, uint64(size))), "table block of %d bytes is larger than the %d-byte limit", h.size, maxBundleBlock)
	}
	if h.off > dataEnd || h.size+5 > dataEnd-h.off {
		return nil, bundleErrorf(-1, "table block at %d (%d bytes) lies past the end of the table's data (%d bytes)", h.off, h.size, dataEnd)
	}
	buf := make([]byte, h.size+5)
	if _, err := ra.ReadAt(buf, int64(h.off)); err != nil {
		return nil, fmt.Errorf("read table block: %w", err)
	}
	n := int(h.size)
	crc := crc32.Checksum(buf[:n+1], castagnoli)
	masked := (crc>>15 | crc<<17) + 0xa282ead8
	if got := binary.LittleEndian.Uint32(buf[n+1:]); got != masked {
		return nil, bundleErrorf(int64(h.off), "table block at %d fails its CRC-32C check", h.off)
	}
	switch buf[n] {
	case 0:
		return buf[:n], nil
	case 1:
		dl, err := snappy.DecodedLen(buf[:n])
		if err != nil {
			return nil, bundleErrorf(int64(h.off), "table block at %d: corrupt snappy data", h.off)
		}
		if dl > maxBundleBlock {
			return nil, bundleErrorf(int64(h.off), "table block at %d declares %d bytes once decompressed, more than the %d-byte limit", h.off, dl, maxBundleBlock)
		}
		out, err := snappy.Decode(make([]byte, dl), buf[:n])
		if err != nil {
			return nil, bundleErrorf(int64(h.off), "table block at %d: corrupt snappy data", h.off)
		}
		return out, nil
	default:
		return nil, bundleErrorf(int64(h.off), "table block at %d has unknown compression type %d", h.off, buf[n])
	}
}

// eachBlockEntry calls fn for each key/value of a decoded block (at file
// offset off, for messages). key is reused between calls.
func eachBlockEntry(b []byte, off uint64, fn func(key, val []byte) error) error {
	if len(b) < 4 {
		return bundleErrorf(int64(off), "table block at %d is too short for its restart count", off)
	}
	nr := uint64(binary.LittleEndian.Uint32(b[len(b)-4:]))
	if nr*4 > uint64(len(b)-4) {
		return bundleErrorf(int64(off), "table block at %d declares %d restart points, more than fit", off, nr)
	}
	data := b[:len(b)-4-int(nr)*4]
	var key []byte
	for p := 0; p < len(data); {
		var v [3]uint64
		for i := range v {
			x, n := protowire.ConsumeVarint(data[p:])
			if n < 0 {
				return bundleErrorf(int64(off), "table block at %d: truncated entry header", off)
			}
			v[i] = x
			p += n
		}
		shared, unshared, vlen := v[0], v[1], v[2]
		if shared > uint64(len(key)) || unshared > uint64(len(data)-p) || vlen > uint64(len(data)-p)-unshared {
			return bundleErrorf(int64(off), "table block at %d: entry lengths run past the block", off)
		}
		if shared+unshared > maxBundleKey {
			return bundleErrorf(int64(off), "table block at %d: key of %d bytes is longer than the %d-byte limit", off, shared+unshared, maxBundleKey)
		}
		key = append(key[:shared], data[p:p+int(unshared)]...)
		p += int(unshared)
		if err := fn(key, data[p:p+int(vlen)]); err != nil {
			return err
		}
		p += int(vlen)
	}
	return nil
}

// readTable calls fn for every key/value of the LevelDB-format table held in
// size bytes of ra, in table order. Structural problems are *bundleError.
func readTable(ra io.ReaderAt, size int64, fn func(key, val []byte) error) error {
	if size < tableFooterLen {
		return bundleErrorf(-1, "%d bytes is too short for a table footer", size)
	}
	var foot [tableFooterLen]byte
	if _, err := ra.ReadAt(foot[:], size-tableFooterLen); err != nil {
		return fmt.Errorf("read table footer: %w", err)
	}
	if string(foot[40:]) != string(leveldbTableMagic) {
		return bundleErrorf(size-8, "table magic number missing")
	}
	_, n, ok := decodeHandle(foot[:40]) // metaindex: TensorFlow writes it empty
	if !ok {
		return bundleErrorf(size-tableFooterLen, "footer's metaindex handle is malformed")
	}
	ih, _, ok := decodeHandle(foot[n:40])
	if !ok {
		return bundleErrorf(size-tableFooterLen, "footer's index handle is malformed")
	}
	index, err := readTableBlock(ra, size, ih)
	if err != nil {
		return err
	}
	// Data blocks follow one another in key order, as the table builder
	// writes them; an index whose handles go back (every entry naming the same
	// 16 MiB block) would otherwise make a small file cost terabytes of reads.
	var next uint64
	return eachBlockEntry(index, ih.off, func(_, val []byte) error {
		h, _, ok := decodeHandle(val)
		if !ok {
			return bundleErrorf(int64(ih.off), "index block at %d holds a malformed block handle", ih.off)
		}
		if h.off < next {
			return bundleErrorf(int64(ih.off), "index block at %d names table block %d, which does not follow the block before it", ih.off, h.off)
		}
		block, err := readTableBlock(ra, size, h)
		if err != nil {
			return err
		}
		next = h.off + h.size + 5
		return eachBlockEntry(block, h.off, fn)
	})
}

// TensorFlow DataType codes that need special handling.
const (
	dtString  = 7
	dtVariant = 21
)

// dtypeSizes is the byte size of one element of each fixed-size TensorFlow
// DataType (tensorflow/core/framework/types.proto); others (string, resource,
// variant, sub-byte and reference types) have none.
var dtypeSizes = map[uint64]int64{
	1: 4, 2: 8, 3: 4, 4: 1, 5: 2, 6: 1, 8: 8, 9: 8, 10: 1, 11: 1, 12: 1, 13: 4,
	14: 2, 15: 2, 16: 2, 17: 2, 18: 16, 19: 2, 22: 4, 23: 8, 24: 1, 25: 1, 26: 1, 27: 1, 28: 1,
}

// bundleHeader is the BundleHeaderProto under the key "".
type bundleHeader struct {
	seen      bool
	numShards int64
	bigEndian bool
}

// bundleEntry is one BundleEntryProto. elems is the product of the shape's
// dimensions, -1 when it overflows or a dimension is unknown.
type bundleEntry struct {
	key    string
	dtype  uint64
	elems  int64
	shard  int64
	offset int64
	size   int64
	slices bool
}

// readBundle reads a bundle index: its header, and each entry passed to fn.
// Entries past maxBundleEntries end the read with truncated set.
func readBundle(ra io.ReaderAt, size int64, fn func(e bundleEntry) error) (hdr bundleHeader, truncated bool, err error) {
	count := 0
	errEnough := errors.New("enough")
	err = readTable(ra, size, func(key, val []byte) error {
		if len(key) == 0 {
			if hdr.seen {
				return bundleErrorf(-1, "index holds two headers")
			}
			hdr.seen = true
			return parseBundleHeader(val, &hdr)
		}
		if count++; count > maxBundleEntries {
			truncated = true
			return errEnough
		}
		e, err := parseBundleEntry(val)
		if err != nil {
			return bundleErrorf(-1, "entry %q: %v", quote(string(key), 80), err)
		}
		e.key = string(key)
		return fn(e)
	})
	if errors.Is(err, errEnough) {
		err = nil
	}
	if err == nil && !hdr.seen {
		err = bundleErrorf(-1, "index has no header entry")
	}
	return hdr, truncated, err
}

func parseBundleHeader(b []byte, h *bundleHeader) error {
	h.numShards = 1 // proto3 default is 0, which TensorFlow reads as one shard
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return bundleErrorf(-1, "header: malformed field")
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return bundleErrorf(-1, "header: malformed num_shards")
			}
			h.numShards = int64(int32(v))
			b = b[m:]
			continue
		case num == 2 && typ == protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return bundleErrorf(-1, "header: malformed endianness")
			}
			h.bigEndian = v == 1
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return bundleErrorf(-1, "header: malformed field %d", num)
		}
		b = b[m:]
	}
	return nil
}

func parseBundleEntry(b []byte) (bundleEntry, error) {
	e := bundleEntry{elems: 1}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return e, errors.New("malformed field")
		}
		b = b[n:]
		if typ == protowire.VarintType && num >= 1 && num <= 5 && num != 2 {
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return e, fmt.Errorf("malformed field %d", num)
			}
			b = b[m:]
			switch num {
			case 1:
				e.dtype = v
			case 3:
				e.shard = int64(int32(v))
			case 4:
				e.offset = int64(v)
			case 5:
				e.size = int64(v)
			}
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return e, fmt.Errorf("malformed field %d", num)
		}
		switch {
		case num == 2 && typ == protowire.BytesType:
			shape, _ := protowire.ConsumeBytes(b)
			e.elems = shapeElements(shape)
		case num == 7:
			e.slices = true
		}
		b = b[m:]
	}
	return e, nil
}

// shapeElements multiplies the dimensions of a TensorShapeProto (repeated Dim
// dim = 2, each with int64 size = 1); -1 when a dimension is unknown or the
// product overflows.
func shapeElements(b []byte) int64 {
	elems := int64(1)
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return -1
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return -1
		}
		switch {
		case num == 2 && typ == protowire.BytesType:
			dim, _ := protowire.ConsumeBytes(b)
			var size int64 // a Dim without a size field has size 0
			for len(dim) > 0 {
				dn, dt, k := protowire.ConsumeTag(dim)
				if k < 0 {
					return -1
				}
				dim = dim[k:]
				if dn == 1 && dt == protowire.VarintType {
					v, j := protowire.ConsumeVarint(dim)
					if j < 0 {
						return -1
					}
					size = int64(v)
					dim = dim[j:]
					continue
				}
				j := protowire.ConsumeFieldValue(dn, dt, dim)
				if j < 0 {
					return -1
				}
				dim = dim[j:]
			}
			if size < 0 || (size > 0 && elems > (1<<62)/size) {
				return -1
			}
			elems *= size
		case num == 3: // unknown_rank
			return -1
		}
		b = b[m:]
	}
	return elems
}

// fmtTFData is a tensor bundle's data shard, recognised through its index.
const fmtTFData format = "tensorflow checkpoint data"

const tfIndexName = "TensorFlow checkpoint index"

// tfShardName matches a data shard's file name: PREFIX.data-SHARD-of-TOTAL.
var tfShardName = regexp.MustCompile(`^(.+)\.data-(\d{5,9})-of-(\d{5,9})$`)

// scanTFIndex reads a tensor bundle index through and reports what would stop
// TensorFlow reading it or make it read something else than it declares: a
// broken table, entries naming shards the header does not have, and sizes that
// disagree with dtype and shape. Nothing in an index runs.
func (s *scanner) scanTFIndex(ctx context.Context, in region) error {
	ev := map[string]any{"format": string(fmtTFIndex)}
	var maxShard, badSize, nStrings, nVariants, entries int64
	var badShardKey, badSizeKey, badSizeMsg string
	hdr, truncated, err := readBundle(in.ra, in.size, func(e bundleEntry) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		entries++
		if e.shard > maxShard || e.shard < 0 {
			if badShardKey == "" || e.shard < 0 {
				badShardKey = e.key
			}
			maxShard = max(maxShard, e.shard)
			if e.shard < 0 {
				maxShard = math.MaxInt32
			}
		}
		switch e.dtype {
		case dtString:
			nStrings++
		case dtVariant:
			nVariants++
		}
		if sz := dtypeSizes[e.dtype]; sz > 0 && !e.slices && e.elems >= 0 && (e.elems > math.MaxInt64/sz || e.size != e.elems*sz) {
			if badSize++; badSize == 1 {
				badSizeKey = e.key
				badSizeMsg = fmt.Sprintf("declares %d bytes for %d elements of %d bytes (dtype %d)", e.size, e.elems, sz, e.dtype)
			}
		}
		return nil
	})
	var be *bundleError
	switch {
	case errors.As(err, &be):
		s.c.add(in.l, ruleStructInvalid, be.off, ev, tfIndexName, be.msg)
		return nil
	case err != nil:
		return err
	}
	s.opts.Logger.DebugContext(ctx, "tensorflow checkpoint index", "path", in.l.where(), "entries", entries,
		"shards", hdr.numShards, "string_tensors", nStrings, "variant_tensors", nVariants)
	if hdr.numShards < 1 {
		s.c.add(in.l, ruleStructInvalid, -1, ev, tfIndexName, fmt.Sprintf("header declares %d data shards", hdr.numShards))
	} else if badShardKey != "" && maxShard >= hdr.numShards {
		s.c.add(in.l, ruleStructInvalid, -1, ev, tfIndexName,
			fmt.Sprintf("entry %q names a data shard the header (%d shards) does not have", quote(badShardKey, 80), hdr.numShards))
	}
	if badSize > 0 {
		s.c.add(in.l, ruleStructInvalid, -1, map[string]any{"format": string(fmtTFIndex), "entries": badSize}, tfIndexName,
			fmt.Sprintf("entry %q %s", quote(badSizeKey, 80), badSizeMsg))
	}
	if truncated {
		s.c.skip(in.l, "only the first %d entries of the checkpoint index were checked", maxBundleEntries)
	}
	return nil
}

// tfShardIndex returns the path of the index beside a data shard stored at
// fsPath, with the shard's number and the shard count its name gives; ok is
// false when the name is not a shard's.
func tfShardIndex(name string) (index string, shard, total int64, ok bool) {
	m := tfShardName.FindStringSubmatch(path.Base(name))
	if m == nil {
		return "", 0, 0, false
	}
	shard, _ = strconv.ParseInt(m[2], 10, 64)
	total, _ = strconv.ParseInt(m[3], 10, 64)
	return path.Join(path.Dir(name), m[1]+".index"), shard, total, true
}

// openFileAt opens a file (slash-separated path) for reading at offsets.
func openFileAt(p string) (io.ReaderAt, int64, bool) {
	f, err := os.Open(filepath.FromSlash(p))
	if err != nil {
		return nil, 0, false
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, false
	}
	return f, st.Size(), true
}

// withMembers makes open the way to a member's siblings while a container's
// members are scanned; the returned function restores the outer container's.
func (s *scanner) withMembers(open func(name string) (io.ReaderAt, int64, bool)) func() {
	prev := s.members
	s.members = open
	return func() { s.members = prev }
}

// maxSiblingMember bounds a compressed archive member decompressed into memory
// to describe another (a checkpoint index).
const maxSiblingMember = 16 << 20

// zipMembers opens members of a zip by name: stored ones in place, compressed
// ones of at most maxSiblingMember bytes decompressed into memory.
func zipMembers(ra io.ReaderAt, entries []zipEntry) func(name string) (io.ReaderAt, int64, bool) {
	return func(name string) (io.ReaderAt, int64, bool) {
		for _, e := range entries {
			if e.name != name || e.dataOff < 0 || e.flags&1 != 0 {
				continue
			}
			if e.method == 0 {
				return io.NewSectionReader(ra, e.dataOff, int64(e.compSize)), int64(e.compSize), true
			}
			if e.uncompSize > maxSiblingMember {
				return nil, 0, false
			}
			r, closeR, _ := zipDecompressor(io.NewSectionReader(ra, e.dataOff, int64(e.compSize)), e)
			if r == nil {
				return nil, 0, false
			}
			defer closeR()
			b, err := io.ReadAll(io.LimitReader(r, int64(e.uncompSize)+1))
			if err != nil || uint64(len(b)) != e.uncompSize {
				return nil, 0, false
			}
			return bytes.NewReader(b), int64(len(b)), true
		}
		return nil, 0, false
	}
}

// looksTFShard reports whether the file at fsPath is named as a data shard and
// has an index beside it (DetectFormat's cheap form of scanTFShard).
func looksTFShard(fsPath string) bool {
	index, _, _, ok := tfShardIndex(filepath.ToSlash(fsPath))
	if !ok {
		return false
	}
	f, size, ok := openFileAt(index)
	if !ok {
		return false
	}
	defer f.(io.Closer).Close()
	return looksTensorBundleIndex(f, size)
}

// byteSpan is the bytes [off, end) of a file.
type byteSpan struct{ off, end int64 }

// maxGapCheck bounds how many bytes of a shard that no entry describes are
// read to see whether they are zero padding.
const maxGapCheck = 1 << 20

// scanTFShard checks a file named as a tensor bundle's data shard against the
// index beside it (TensorFlow finds both by the checkpoint's prefix). The shard
// is raw tensor bytes that TensorFlow copies into tensors where the index says:
// nothing in it is parsed, let alone run. It is tensor data when the index
// describes it: every entry of this shard lies inside the file, entries do not
// overlap, and bytes no entry covers are zero. handled is false when the file
// is not named as a shard; a shard whose index is missing or unreadable is
// reported as not scanned.
func (s *scanner) scanTFShard(ctx context.Context, in region) (handled bool, err error) {
	if in.size < 0 {
		return false, nil
	}
	var name string
	var open func(p string) (io.ReaderAt, int64, bool)
	switch {
	case in.l.member == "" && s.fsPath != "":
		name, open = filepath.ToSlash(s.fsPath), openFileAt
	case in.l.member != "" && s.members != nil:
		name, open = in.l.member[strings.LastIndex(in.l.member, "!")+1:], s.members
	default:
		return false, nil
	}
	indexPath, shard, total, ok := tfShardIndex(name)
	if !ok {
		return false, nil
	}
	if in.ra == nil && in.size <= maxSiblingMember {
		// A small compressed member: read whole, so uncovered bytes can be read.
		buf, err := io.ReadAll(io.LimitReader(eofReader{in.st}, in.size))
		if err != nil {
			s.c.skip(in.l, "compressed data cannot be read (%v); not scanned", err)
			return true, nil
		}
		in = region{st: newStreamBytes(buf), size: int64(len(buf)), ra: bytes.NewReader(buf), l: in.l}
	}
	indexName := path.Base(indexPath)
	f, fsize, ok := open(indexPath)
	if !ok {
		s.c.skip(in.l, "raw bytes with no header, named as a TensorFlow checkpoint data shard, but the index that would describe them (%s) is not beside it; not scanned", indexName)
		return true, nil
	}
	if c, ok := f.(io.Closer); ok {
		defer c.Close()
	}
	if !looksTensorBundleIndex(f, fsize) {
		s.c.skip(in.l, "raw bytes with no header, named as a TensorFlow checkpoint data shard, but %s beside it is not a checkpoint index; not scanned", indexName)
		return true, nil
	}
	var spans []byteSpan
	var past int64
	var pastMsg string
	hdr, truncated, err := readBundle(f, fsize, func(e bundleEntry) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.shard != shard || (e.slices && e.size == 0) {
			return nil
		}
		if e.offset < 0 || e.size < 0 || e.offset > in.size || e.size > in.size-e.offset {
			if past++; past == 1 {
				pastMsg = fmt.Sprintf("index entry %q places %d bytes at offset %d", quote(e.key, 80), uint64(e.size), uint64(e.offset))
			}
			return nil
		}
		if e.size > 0 {
			spans = append(spans, byteSpan{e.offset, e.offset + e.size})
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return true, ctx.Err()
		}
		var be *bundleError
		if !errors.As(err, &be) {
			return true, err
		}
		s.c.skip(in.l, "TensorFlow checkpoint data shard whose index %s cannot be read (%s); not scanned", indexName, be.msg)
		return true, nil
	}
	ev := map[string]any{"format": string(fmtTFData), "index": indexName, "shard": shard, "shards": total}
	if hdr.numShards != total || shard >= total {
		s.c.add(in.l, ruleStructInvalid, -1, ev, "TensorFlow checkpoint data",
			fmt.Sprintf("the file's name makes it shard %d of %d, but its index %s describes %d shards", shard, total, indexName, hdr.numShards))
		s.c.skip(in.l, "TensorFlow checkpoint data shard that its index %s does not describe; not scanned", indexName)
		return true, nil
	}
	if past > 0 {
		ev := maps.Clone(ev)
		ev["entries"] = past
		s.c.add(in.l, ruleStructPastEnd, -1, ev, "TensorFlow checkpoint data",
			fmt.Sprintf("%s, past the end of this %d-byte shard (%d such entries)", pastMsg, in.size, past))
	}
	gaps, uncovered, overlaps := uncoveredSpans(spans, in.size)
	if overlaps > 0 {
		s.c.add(in.l, ruleStructOverlap, -1, ev, "TensorFlow checkpoint data",
			fmt.Sprintf("%d index entries overlap other entries' bytes", overlaps))
	}
	if uncovered > 0 && in.ra == nil {
		s.c.skip(in.l, "%d bytes of the shard that no index entry describes are inside a compressed member and were not read", uncovered)
	} else if err := s.reportUncovered(ctx, in, gaps, uncovered, ev, "TensorFlow checkpoint data",
		fmt.Sprintf("%d bytes of the shard are described by no index entry and are not zero padding", uncovered)); err != nil {
		return true, err
	}
	if truncated {
		s.c.skip(in.l, "only the first %d entries of its index %s were checked", maxBundleEntries, indexName)
	}
	return true, nil
}

// nonZeroGap reports whether bytes in gaps (totalling total bytes) are not all
// zero, with the offset of the first non-zero byte; gaps over maxGapCheck bytes
// in all count as non-zero without being read (offset -1).
func nonZeroGap(ra io.ReaderAt, gaps []byteSpan, total int64) (bool, int64) {
	if total > maxGapCheck {
		return true, -1
	}
	buf := make([]byte, total)
	for _, g := range gaps {
		b := buf[:g.end-g.off]
		if _, err := ra.ReadAt(b, g.off); err != nil {
			return true, g.off
		}
		for i, c := range b {
			if c != 0 {
				return true, g.off + int64(i)
			}
		}
	}
	return false, -1
}

// scanGaps scans each run of bytes that no tensor covers as content of its own
// (a pickle or archive hidden there is reported for what it is), when they
// total at most maxGapCheck bytes. Only findings are kept: the bytes are
// already reported as uncovered, so "not scanned" adds nothing.
func (s *scanner) scanGaps(ctx context.Context, in region, gaps []byteSpan, total int64) error {
	if total > maxGapCheck {
		return nil
	}
	for _, g := range gaps {
		gs := newScanner(s.opts)
		sub := gs.regionAt(in.ra, g.off, g.end-g.off, in.l.child(fmt.Sprintf("unused bytes at %d", g.off), fileOffAdd(in.l.fileOff, g.off)))
		err := gs.scanRegion(ctx, sub)
		sub.st.release()
		if err != nil {
			return err
		}
		for _, f := range gs.c.findings {
			s.c.addFinding(f)
		}
	}
	return nil
}
