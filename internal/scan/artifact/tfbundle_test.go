package artifact

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/encoding/protowire"

	"mirror/internal/scan"
)

// tableKV is one key/value of a test table.
type tableKV struct{ key, val string }

// buildTable writes a LevelDB-format table as TensorFlow's table builder does:
// data blocks of at most perBlock entries (prefix-compressed, a restart point
// every 2 entries), an empty metaindex block, an index block and the footer.
// snappyBlocks compresses every block.
func buildTable(kvs []tableKV, perBlock int, snappyBlocks bool) []byte {
	var out []byte
	writeBlock := func(raw []byte) (off, size uint64) {
		typ := byte(0)
		if snappyBlocks {
			raw, typ = snappy.Encode(nil, raw), 1
		}
		off, size = uint64(len(out)), uint64(len(raw))
		out = append(out, raw...)
		out = append(out, typ)
		crc := crc32.Checksum(append(append([]byte{}, raw...), typ), castagnoli)
		out = binary.LittleEndian.AppendUint32(out, (crc>>15|crc<<17)+0xa282ead8)
		return off, size
	}
	block := func(kvs []tableKV) []byte {
		var b []byte
		var restarts []uint32
		prev := ""
		for i, kv := range kvs {
			shared := 0
			if i%2 == 0 {
				restarts = append(restarts, uint32(len(b)))
			} else {
				for shared < len(prev) && shared < len(kv.key) && prev[shared] == kv.key[shared] {
					shared++
				}
			}
			b = protowire.AppendVarint(b, uint64(shared))
			b = protowire.AppendVarint(b, uint64(len(kv.key)-shared))
			b = protowire.AppendVarint(b, uint64(len(kv.val)))
			b = append(b, kv.key[shared:]...)
			b = append(b, kv.val...)
			prev = kv.key
		}
		if len(restarts) == 0 {
			restarts = []uint32{0}
		}
		for _, r := range restarts {
			b = binary.LittleEndian.AppendUint32(b, r)
		}
		return binary.LittleEndian.AppendUint32(b, uint32(len(restarts)))
	}
	var index []tableKV
	for i := 0; i < len(kvs); i += perBlock {
		part := kvs[i:min(i+perBlock, len(kvs))]
		off, size := writeBlock(block(part))
		h := protowire.AppendVarint(protowire.AppendVarint(nil, off), size)
		index = append(index, tableKV{part[len(part)-1].key, string(h)})
	}
	moff, msize := writeBlock(block(nil))
	ioff, isize := writeBlock(block(index))
	var foot []byte
	for _, v := range []uint64{moff, msize, ioff, isize} {
		foot = protowire.AppendVarint(foot, v)
	}
	foot = append(foot, make([]byte, 40-len(foot))...)
	out = append(out, foot...)
	return append(out, leveldbTableMagic...)
}

// bundleHeaderVal is a BundleHeaderProto with num_shards.
func bundleHeaderVal(shards int) string {
	return string(protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), uint64(shards)))
}

// bundleEntryVal is a BundleEntryProto of dtype and shape placed in shard at
// offset with size bytes.
func bundleEntryVal(dtype int, shape []int64, shard int, offset, size int64) string {
	var sh []byte
	for _, d := range shape {
		dim := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), uint64(d))
		sh = protowire.AppendBytes(protowire.AppendTag(sh, 2, protowire.BytesType), dim)
	}
	var b []byte
	b = protowire.AppendVarint(protowire.AppendTag(b, 1, protowire.VarintType), uint64(dtype))
	b = protowire.AppendBytes(protowire.AppendTag(b, 2, protowire.BytesType), sh)
	if shard != 0 {
		b = protowire.AppendVarint(protowire.AppendTag(b, 3, protowire.VarintType), uint64(shard))
	}
	b = protowire.AppendVarint(protowire.AppendTag(b, 4, protowire.VarintType), uint64(offset))
	b = protowire.AppendVarint(protowire.AppendTag(b, 5, protowire.VarintType), uint64(size))
	return string(b)
}

// writeCheckpoint writes index and data shard files under dir and returns the
// shard's path.
func writeCheckpoint(t *testing.T, dir, shardName string, index, data []byte) string {
	t.Helper()
	if index != nil {
		if err := os.WriteFile(filepath.Join(dir, "model.ckpt-7.index"), index, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, shardName)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func scanDir(t *testing.T, dir string) ([]scan.Finding, []scan.NotScanned) {
	t.Helper()
	f, ns, err := Scan(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return f, ns
}

// TestTensorBundleIndexReadsRealCheckpoints reads the indexes TensorFlow wrote
// for the real SavedModels: every entry, with the dtypes, shapes and places
// TensorFlow gave them.
func TestTensorBundleIndexReadsRealCheckpoints(t *testing.T) {
	p := filepath.Join("testdata", "real", "tensorflow", "module_savedmodel", "variables", "variables.index")
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	got := map[string]bundleEntry{}
	hdr, truncated, err := readBundle(f, st.Size(), func(e bundleEntry) error { got[e.key] = e; return nil })
	if err != nil || truncated || hdr.numShards != 1 {
		t.Fatalf("readBundle: hdr %+v truncated %v err %v", hdr, truncated, err)
	}
	w := got["w/.ATTRIBUTES/VARIABLE_VALUE"] // tf.Variable([[1, 2], [3, 4]])
	b := got["b/.ATTRIBUTES/VARIABLE_VALUE"]
	g := got["_CHECKPOINTABLE_OBJECT_GRAPH"]
	if len(got) != 3 || w.dtype != 1 || w.elems != 4 || w.size != 16 || b.elems != 2 || b.size != 8 || g.dtype != dtString {
		t.Fatalf("entries %+v", got)
	}
	data, err := os.ReadFile(filepath.Join(filepath.Dir(p), "variables.data-00000-of-00001"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0x40}; !bytes.Equal(data[w.offset:w.offset+8], want) { // 1.0, 2.0 little-endian
		t.Fatalf("w's first floats at %d: % x", w.offset, data[w.offset:w.offset+8])
	}
}

func TestTensorBundleRealShardsAreTensorData(t *testing.T) {
	for _, dir := range []string{"module_savedmodel", "keras_export"} {
		findings, ns := scanDir(t, filepath.Join("testdata", "real", "tensorflow", dir))
		if len(findings) != 0 || len(ns) != 0 {
			t.Errorf("%s: findings %+v, not scanned %+v", dir, findings, ns)
		}
		p := filepath.Join("testdata", "real", "tensorflow", dir, "variables", "variables.data-00000-of-00001")
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.Stat()
		format, err := DetectFileFormat(f, st.Size(), p)
		f.Close()
		if err != nil || format != string(fmtTFData) {
			t.Errorf("%s: format %q, %v", p, format, err)
		}
	}
}

// TestTensorBundleHostile builds checkpoints whose index and shard disagree.
func TestTensorBundleHostile(t *testing.T) {
	const shard0 = "model.ckpt-7.data-00000-of-00001"
	floats := bytes.Repeat([]byte{0, 0, 0x80, 0x3f}, 6) // 24 bytes: a[2] at 0, b[4] at 8
	good := func(bOff int64, aShard int) []byte {
		return buildTable([]tableKV{
			{"", bundleHeaderVal(1)},
			{"layer/a", bundleEntryVal(1, []int64{2}, aShard, 0, 8)},
			{"layer/b", bundleEntryVal(1, []int64{2, 2}, 0, bOff, 16)},
		}, 2, false)
	}
	type want struct {
		rule, titleHas string
		sev            scan.Severity
	}
	cases := []struct {
		name       string
		shardName  string
		index      []byte
		data       []byte
		want       []want
		notScanned string
	}{
		{name: "consistent", shardName: shard0, index: good(8, 0), data: floats},
		{name: "consistent, snappy blocks", shardName: shard0, data: floats, index: buildTable([]tableKV{
			{"", bundleHeaderVal(1)}, {"layer/a", bundleEntryVal(1, []int64{2}, 0, 0, 8)}, {"layer/b", bundleEntryVal(1, []int64{2, 2}, 0, 8, 16)},
		}, 1, true)},
		{name: "zero padding between tensors", shardName: shard0, index: good(16, 0), data: append(append(floats[:8:8], make([]byte, 8)...), floats[:16]...)},
		{name: "entry past the end", shardName: shard0, index: good(8, 0), data: floats[:20],
			want: []want{{"format.past_end", `"layer/b" places 16 bytes at offset 8`, scan.High}, {"format.uncovered_data", "12 bytes", scan.Medium}}},
		{name: "entries overlap", shardName: shard0, index: good(4, 0), data: floats[:20],
			want: []want{{"format.overlap", "1 index entries overlap", scan.High}}},
		{name: "payload after the tensors", shardName: shard0, index: good(8, 0), data: append(append([]byte{}, floats...), []byte("cos\nsystem\n(S'id'\ntR.")...),
			want: []want{{"format.uncovered_data", "described by no index entry", scan.Medium}, {"pickle.dangerous_call", "os.system", scan.Critical}}},
		{name: "shard count disagrees with the name", shardName: "model.ckpt-7.data-00000-of-00002", index: good(8, 0), data: floats,
			want: []want{{"format.invalid", "describes 1 shards", scan.Medium}}, notScanned: "does not describe"},
		{name: "no index beside the shard", shardName: shard0, data: floats, notScanned: "model.ckpt-7.index) is not beside it"},
		{name: "index names a missing shard", shardName: shard0, index: good(8, 3), data: floats[:24],
			want: []want{{"format.uncovered_data", "8 bytes", scan.Medium}, {"format.invalid", `"layer/a" names a data shard`, scan.Medium}}},
		{name: "size disagrees with dtype and shape", shardName: shard0, data: floats, index: buildTable([]tableKV{
			{"", bundleHeaderVal(1)}, {"x", bundleEntryVal(1, []int64{3}, 0, 0, 24)},
		}, 4, false), want: []want{{"format.invalid", "declares 24 bytes for 3 elements of 4 bytes", scan.Medium}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeCheckpoint(t, dir, tc.shardName, tc.index, tc.data)
			findings, ns := scanDir(t, dir)
			if len(findings) != len(tc.want) {
				t.Fatalf("findings %+v, want %d", findings, len(tc.want))
			}
			for i, w := range tc.want {
				f := findings[i]
				if f.Evidence["rule"] != w.rule || f.Severity != w.sev || !strings.Contains(f.Title, w.titleHas) {
					t.Errorf("finding %d: %s %s %q, want %s %s containing %q", i, f.Evidence["rule"], f.Severity, f.Title, w.rule, w.sev, w.titleHas)
				}
			}
			if tc.notScanned == "" && len(ns) != 0 {
				t.Fatalf("not scanned: %+v", ns)
			}
			if tc.notScanned != "" && (len(ns) != 1 || !strings.Contains(ns[0].Reason, tc.notScanned)) {
				t.Fatalf("not scanned %+v, want one containing %q", ns, tc.notScanned)
			}
		})
	}
}

// TestTensorBundleBrokenIndex: a damaged table is a medium finding on the index
// (TensorFlow cannot load it), and the shard beside it is not scanned.
func TestTensorBundleBrokenIndex(t *testing.T) {
	good := buildTable([]tableKV{{"", bundleHeaderVal(1)}, {"a", bundleEntryVal(1, []int64{1}, 0, 0, 4)}}, 4, false)
	crc := bytes.Clone(good)
	crc[3] ^= 0xff
	// The data block's snappy preamble declares 4 GiB - 1 once decompressed: a
	// varint of 5 bytes replacing the real length, CRC fixed up.
	raw := append(protowire.AppendVarint(nil, 1<<32-1), 0)
	blk := append(append([]byte{}, raw...), 1)
	c := crc32.Checksum(blk, castagnoli)
	blk = binary.LittleEndian.AppendUint32(blk, (c>>15|c<<17)+0xa282ead8)
	h := protowire.AppendVarint(protowire.AppendVarint(nil, 0), uint64(len(raw)))
	hostileIdx := buildIndexOver(blk, h)
	pastEnd := buildIndexOver(blk, protowire.AppendVarint(protowire.AppendVarint(nil, 1000), 10))
	for name, tc := range map[string]struct {
		index []byte
		msg   string
	}{
		"checksum":           {crc, "fails its CRC-32C check"},
		"snappy bomb":        {hostileIdx, "more than the 16777216-byte limit"},
		"no header":          {buildTable([]tableKV{{"a", bundleEntryVal(1, []int64{1}, 0, 0, 4)}}, 4, false), "no header entry"},
		"block past the end": {pastEnd, "past the end of the table's data"},
		"block read again":   {repeatedBlock(good), "does not follow the block before it"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeCheckpoint(t, dir, "model.ckpt-7.data-00000-of-00001", tc.index, []byte{1, 2, 3, 4})
			findings, ns := scanDir(t, dir)
			if len(findings) != 1 || findings[0].Evidence["rule"] != "format.invalid" || !strings.Contains(findings[0].Title, tc.msg) {
				t.Fatalf("findings %+v, want format.invalid with %q", findings, tc.msg)
			}
			if len(ns) != 1 || !strings.Contains(ns[0].Reason, "cannot be read") {
				t.Fatalf("not scanned %+v", ns)
			}
		})
	}
}

// buildIndexOver is a table whose one data block is blk (with its trailer,
// at offset 0) and whose index block points at it with handle h.
func buildIndexOver(blk, h []byte) []byte {
	return tableOver(blk, []tableKV{{"z", string(h)}})
}

// repeatedBlock rewrites a one-data-block table so that its index names that
// block twice (the second entry's key sorts after the first).
func repeatedBlock(table []byte) []byte {
	foot := table[len(table)-tableFooterLen:]
	_, n, _ := decodeHandle(foot)
	ih, _, _ := decodeHandle(foot[n:])
	var h string
	_ = eachBlockEntry(table[ih.off:ih.off+ih.size], 0, func(_, val []byte) error { h = string(val); return nil })
	return tableOver(table[:ih.off], []tableKV{{"a", h}, {"b", h}})
}

// tableOver is data (blocks with their trailers) followed by an index block of
// entries (keys and raw block handles, unshared) and the footer.
func tableOver(data []byte, entries []tableKV) []byte {
	out := bytes.Clone(data)
	var b []byte
	for _, e := range entries {
		b = protowire.AppendVarint(b, 0)
		b = protowire.AppendVarint(b, uint64(len(e.key)))
		b = protowire.AppendVarint(b, uint64(len(e.val)))
		b = append(append(b, e.key...), e.val...)
	}
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 1)
	ioff := uint64(len(out))
	out = append(append(out, b...), 0)
	c := crc32.Checksum(append(bytes.Clone(b), 0), castagnoli)
	out = binary.LittleEndian.AppendUint32(out, (c>>15|c<<17)+0xa282ead8)
	var foot []byte
	for _, v := range []uint64{0, 0, ioff, uint64(len(b))} {
		foot = protowire.AppendVarint(foot, v)
	}
	foot = append(foot, make([]byte, 40-len(foot))...)
	return append(append(out, foot...), leveldbTableMagic...)
}

func FuzzTensorBundleIndex(f *testing.F) {
	for _, dir := range []string{"module_savedmodel", "keras_export"} {
		if b, err := os.ReadFile(filepath.Join("testdata", "real", "tensorflow", dir, "variables", "variables.index")); err == nil {
			f.Add(b)
		}
	}
	f.Add(buildTable([]tableKV{{"", bundleHeaderVal(2)}, {"a", bundleEntryVal(1, []int64{2, 3}, 1, 8, 24)}, {"ab", bundleEntryVal(7, nil, 0, 0, 9)}}, 2, true))
	f.Add(buildTable([]tableKV{{"", bundleHeaderVal(1)}, {"a", bundleEntryVal(21, []int64{1}, 0, 0, 4)}}, 1, false))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		_, _, err := readBundle(bytes.NewReader(data), int64(len(data)), func(e bundleEntry) error {
			if n++; e.key == "" {
				t.Fatal("entry with the header's key")
			}
			return nil
		})
		if err != nil {
			if _, ok := err.(*bundleError); !ok {
				t.Fatalf("in-memory read failed with a non-structural error: %v", err)
			}
		}
		// The block and entry decoders behind the CRC check, on the raw bytes.
		_ = eachBlockEntry(data, 0, func(key, val []byte) error {
			_, _ = parseBundleEntry(val)
			return parseBundleHeader(key, &bundleHeader{})
		})
		runParser(t, data, func(s *scanner, in region) error {
			if !looksTensorBundleIndex(in.ra, in.size) {
				return nil
			}
			return s.scanTFIndex(context.Background(), in)
		})
	})
}
