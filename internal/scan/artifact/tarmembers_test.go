package artifact

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"testing"
)

// TestTarMembersSizeOverflow: a member whose header declares a size near
// 2^63 (base-256 encoded) is not offered as a sibling; before, its end offset
// overflowed to a negative number and passed the bounds check.
func TestTarMembersSizeOverflow(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range []string{"ok.index", "huge.index"} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 4, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte("abcd")); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	hdr := b[1024 : 1024+512] // the second member's header
	size := hdr[124:136]
	clear(size)
	size[0] = 0x80
	binary.BigEndian.PutUint64(size[4:], math.MaxInt64)
	copy(hdr[148:156], "        ")
	sum := 0
	for _, c := range hdr {
		sum += int(c)
	}
	copy(hdr[148:156], fmt.Sprintf("%06o\x00 ", sum))
	open := tarMembers(bytes.NewReader(b), int64(len(b)))
	if _, n, ok := open("ok.index"); !ok || n != 4 {
		t.Fatalf("ok.index: %d %v", n, ok)
	}
	if _, n, ok := open("huge.index"); ok {
		t.Fatalf("huge.index offered with %d bytes", n)
	}
}
