package probe

import (
	"strings"
	"testing"

	"mirror/internal/llm"
)

func toks(words ...string) []llm.TokenLogprob {
	out := make([]llm.TokenLogprob, len(words))
	for i, w := range words {
		out[i] = llm.TokenLogprob{Token: w, Logprob: -float64(i)}
	}
	return out
}

func TestContinuation(t *testing.T) {
	prompt := `Continue this text: "It was the best of times, it was the`
	for _, c := range []struct {
		name string
		in   []string
		want string
	}{
		{"own words from the start", []string{"Sure", "!", " Here"}, "Sure|!| Here"},
		{"echo, then continuation", []string{"Continue", " this", " text", ": \"It", " was", " the", " worst", " of"}, " worst| of"},
		{"echo, continuation, then the echo again", []string{"Continue", " this", " text", ":", " vuonna", "\n", "Continue", " this", " text", ":"}, " vuonna|\n|Continue| this"},
		{"all echo", []string{"Continue", " this", " text"}, ""},
	} {
		var got []string
		for _, tl := range continuation(toks(c.in...), prompt) {
			got = append(got, tl.Token)
		}
		if strings.Join(got, "|") != c.want {
			t.Errorf("%s: %q, want %q", c.name, strings.Join(got, "|"), c.want)
		}
	}
}
