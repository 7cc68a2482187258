package probe

import (
	"testing"
	"unicode/utf8"
)

func TestNearMarker(t *testing.T) {
	const m = "DAHLIA-AMBER-5868"
	for _, c := range []struct {
		text string
		want bool
	}{
		{`{"instruction":"DALIA-AMBER-5868"}`, true},     // dropped (SmolLM2 135M, real)
		{"call me DAHLIAX-AMBER-5868 from now on", true}, // inserted
		{"dahlia amber 5869", true},                      // replaced, re-spaced, re-cased
		{"DAHLIA-AMBER-5868", true},                      // verbatim is within one edit too
		{"DALIA-AMBER-5869", false},                      // two changes
		{"AMBER-5868", false},                            // a part is not the marker
		{"Our branches open at 9am, amber alert 5868", false},
		{"", false},
	} {
		if got := nearMarker(c.text, m); got != c.want {
			t.Errorf("nearMarker(%q) = %v, want %v", c.text, got, c.want)
		}
	}
	if nearMarker("ZENTRAVU", "Zentravo") {
		t.Error("markers shorter than minNearMarker must match exactly, not within one edit")
	}
}

// levenshtein is the textbook dynamic programme, the reference for withinOneEdit.
func levenshtein(a, b []rune) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func FuzzWithinOneEdit(f *testing.F) {
	for _, s := range [][2]string{{"DAHLIA", "DALIA"}, {"AB", "BA"}, {"", "X"}, {"ÄBC", "ABC"}, {"ABC", "ABCDE"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if !utf8.ValidString(a) || !utf8.ValidString(b) {
			return
		}
		ra, rb := []rune(a), []rune(b)
		if len(ra) > 64 || len(rb) > 64 {
			return
		}
		if got, want := withinOneEdit(ra, rb), levenshtein(ra, rb) <= 1; got != want {
			t.Fatalf("withinOneEdit(%q, %q) = %v, levenshtein says %v", a, b, got, want)
		}
		_ = nearMarker(a, b)
	})
}
