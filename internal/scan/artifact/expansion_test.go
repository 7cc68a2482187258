package artifact

import (
	"strings"
	"testing"

	"mirror/internal/scan"
)

// laughs is a billion-laughs pickle (protocol 2): an empty list, then n times a
// tuple of two references to the previous value, by memo (BINGET) or by DUP. It
// loads in microseconds; a walk of it (repr, hash, json.dumps, ==) visits
// 2^(n+1) - 2 values below the top.
func laughs(n int, dup bool) []byte {
	b := []byte("\x80\x02]")
	if !dup {
		b = append(b, 'q', 0)
	}
	for i := range n {
		if dup {
			b = append(b, '2', 0x86)
			continue
		}
		b = append(b, 'h', byte(i), 'h', byte(i), 0x86, 'q', byte(i+1))
	}
	return append(b, '.')
}

// TestPickleExpansion: a value whose walk passes 2^32 visits is high
// pickle.expansion, once; a list that holds itself (a cycle, which repr and deep
// copies stop at, as in fickling's expansion tests) and a list of 100,000
// references to one string (interned labels) are not findings.
func TestPickleExpansion(t *testing.T) {
	selfAppend := "\x80\x02]q\x00" + strings.Repeat("h\x00a", 200) + "."
	labels := "\x80\x02]q\x00(X\x03\x00\x00\x00catq\x01" + strings.Repeat("h\x01", 99_999) + "e."
	for _, c := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"memo, 32 levels (2^33 visits)", laughs(32, false), true},
		{"memo, 31 levels (2^32 - 2 visits)", laughs(31, false), false},
		{"memo, 250 levels", laughs(250, false), true},
		{"dup, 40 levels", laughs(40, true), true},
		{"dup, 10 levels", laughs(10, true), false},
		{"a list appending itself 200 times", []byte(selfAppend), false},
		{"100,000 references to one string", []byte(labels), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs, ns := scanBytes(t, "p.pkl", c.b)
			var got []string
			for _, f := range fs {
				got = append(got, scan.RuleID(f))
			}
			want := []string(nil)
			if c.want {
				want = []string{"pickle.expansion"}
			}
			if strings.Join(got, ",") != strings.Join(want, ",") || len(ns) != 0 {
				t.Fatalf("findings %v (want %v), not scanned %v", got, want, ns)
			}
			if c.want && fs[0].Severity != "high" {
				t.Errorf("severity %s, want high", fs[0].Severity)
			}
		})
	}
}
