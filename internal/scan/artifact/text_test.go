package artifact

import (
	"strings"
	"testing"
)

// TestBracketTextIsNotJSON: a tokenizer's vocab.txt opens with "[PAD]", which made it
// sniff as JSON and be reported "not scanned" (exit 2 for a whole model folder);
// text carries no code. A file named .json that does not parse still is "not scanned".
func TestBracketTextIsNotJSON(t *testing.T) {
	vocab := "[PAD]\n[unused0]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nof\n" + strings.Repeat("word\n", 1000)
	for _, tc := range []struct {
		name, data string
		notScanned bool
	}{
		{"vocab.txt", vocab, false},
		{"model/merges.txt", "{ not json either\n", false},
		{"config.json", "[PAD]\n[UNK]\n", true},
	} {
		findings, ns := scanSample(t, tc.name, []byte(tc.data))
		if len(findings) != 0 || (len(ns) > 0) != tc.notScanned {
			t.Errorf("%s: findings %v, not scanned %v (want not scanned: %v)", tc.name, findings, ns, tc.notScanned)
		}
	}
}
