package artifact

import (
	"fmt"
	"strings"
	"testing"

	"mirror/internal/scan"
)

// laughs is a billion-laughs pickle (protocol 2): an empty list, then n times a
// tuple of two references to the previous value, by memo (BINGET) or by DUP. It
// loads in microseconds; a walk of it (repr, hash, json.dumps, ==) visits
// 2^(n+1) - 1 values.
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
// pickle.expansion, once, however it was built (shared by memo or DUP, filled
// after it was shared, or wrapped in objects); cycles, at which repr stops (a
// list holding itself, as in fickling's expansion tests; children or child
// dicts pointing back at their parent), and a list of 100,000 references to one
// string (interned labels) are not findings.
func TestPickleExpansion(t *testing.T) {
	selfAppend := "\x80\x02]q\x00" + strings.Repeat("h\x00a", 200) + "."
	// L = []; 5000 times L.append([L]): each child holds L (a cycle), a walk is linear
	backRefs := "\x80\x02]q\x00" + strings.Repeat("]h\x00aa", 5000) + "."
	// a tree whose 5000 child dicts point at the root: root['k'] = {'parent': root}
	var parents strings.Builder
	parents.WriteString("\x80\x02}q\x00")
	for i := range 5000 {
		k := fmt.Sprintf("n%d", i)
		parents.WriteString("X" + string([]byte{byte(len(k)), 0, 0, 0}) + k + "}X\x06\x00\x00\x00parenth\x00ss")
	}
	parents.WriteString(".")
	// filled last: 40 empty lists, each put twice into the one above it while
	// still empty (a walk then is 2^41), the top one first
	var late strings.Builder
	late.WriteString("\x80\x02")
	for i := range 41 {
		late.WriteString("]q" + string([]byte{byte(i)}))
	}
	late.WriteString("0") // leave only list 40's... (POP list 40)
	for i := range 40 {
		late.WriteString("h" + string([]byte{byte(i)}) + "h" + string([]byte{byte(i + 1)}) + "ah" + string([]byte{byte(i + 1)}) + "a0")
	}
	late.WriteString("h\x00.")
	// 40 levels of objects: x = OrderedDict((('a', x), ('b', x))) by REDUCE
	var objs strings.Builder
	objs.WriteString("\x80\x02ccollections\nOrderedDict\nq\x00]q\x01")
	for i := 1; i <= 40; i++ {
		x := "h" + string([]byte{byte(i)})
		objs.WriteString("h\x00X\x01\x00\x00\x00a" + x + "\x86X\x01\x00\x00\x00b" + x + "\x86\x86\x85Rq" + string([]byte{byte(i + 1)}))
	}
	objs.WriteString(".")
	labels := "\x80\x02]q\x00(X\x03\x00\x00\x00catq\x01" + strings.Repeat("h\x01", 99_999) + "e."
	for _, c := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"memo, 32 levels (2^33 visits)", laughs(32, false), true},
		{"memo, 30 levels (2^31 visits)", laughs(30, false), false},
		{"memo, 250 levels", laughs(250, false), true},
		{"dup, 40 levels", laughs(40, true), true},
		{"dup, 10 levels", laughs(10, true), false},
		{"a list appending itself 200 times", []byte(selfAppend), false},
		{"5000 children pointing back at their list", []byte(backRefs), false},
		{"5000 child dicts pointing at their root", []byte(parents.String()), false},
		{"filled after being shared, 40 levels", []byte(late.String()), true},
		{"objects of objects, 40 levels", []byte(objs.String()), true},
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
