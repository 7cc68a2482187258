package llm

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestChatCompletionDecoding covers what the slim decoder must read, and what it
// must tolerate the way the SDK's own decoder did.
func TestChatCompletionDecoding(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		text      string
		in, out   int
		logprobs  []TokenLogprob
		wantError bool
	}{
		{"plain", `{"choices":[{"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}`, "hi", 3, 1, nil, false},
		{"token counts as floats", `{"choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":3.0,"completion_tokens":1.0}}`, "hi", 3, 1, nil, false},
		{"null content and usage", `{"choices":[{"message":{"content":null}}],"usage":null}`, "", 0, 0, nil, false},
		{"logprobs", `{"choices":[{"message":{"content":"a"},"logprobs":{"content":[{"token":"a","logprob":-0.5}]}}]}`, "a", 0, 0, []TokenLogprob{{"a", -0.5}}, false},
		{"unreadable logprobs are dropped", `{"choices":[{"message":{"content":"a"},"logprobs":"n/a"}]}`, "a", 0, 0, nil, false},
		{"extra fields of compatible servers", `{"id":"x","x_groq":{"id":"q"},"choices":[{"index":0,"message":{"content":"a","reasoning":"…"}}],"usage":{"prompt_tokens":1,"completion_tokens":2,"queue_time":0.1}}`, "a", 1, 2, nil, false},
		{"choices of the wrong type", `{"choices":"oops"}`, "", 0, 0, nil, true},
		{"text of the wrong type", `{"choices":[{"message":{"content":42}}]}`, "", 0, 0, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c chatCompletion
			err := json.Unmarshal([]byte(tt.body), &c)
			if (err != nil) != tt.wantError {
				t.Fatalf("error = %v, want error %v", err, tt.wantError)
			}
			if err != nil {
				return
			}
			if len(c.Choices) != 1 {
				t.Fatalf("%d choices", len(c.Choices))
			}
			ch := c.Choices[0]
			if ch.Message.Content != tt.text || int(c.Usage.PromptTokens) != tt.in || int(c.Usage.CompletionTokens) != tt.out {
				t.Errorf("got %q %v/%v", ch.Message.Content, c.Usage.PromptTokens, c.Usage.CompletionTokens)
			}
			if diff := cmp.Diff(tt.logprobs, ch.logprobs()); diff != "" {
				t.Errorf("logprobs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNormalizeFinishReason(t *testing.T) {
	for raw, want := range map[string]string{
		"stop": FinishStop, "end_turn": FinishStop, "STOP": FinishStop, "stop_sequence": FinishStop,
		"length": FinishLength, "max_tokens": FinishLength, "MAX_TOKENS": FinishLength,
		"content_filter": FinishContentFilter, "SAFETY": FinishContentFilter, "refusal": FinishContentFilter,
		"tool_calls": FinishToolCalls, "tool_use": FinishToolCalls,
		"OTHER": "other", "": "",
	} {
		if got := NormalizeFinishReason(raw); got != want {
			t.Errorf("NormalizeFinishReason(%q) = %q, want %q", raw, got, want)
		}
	}
}
