package llm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"mirror/internal/llm"
	"mirror/internal/llm/llmtest"
)

// The benchmarks measure what an adapter adds over the practical floor: a bare
// net/http POST of the same chat completion to the same instant fake, decoding
// only the answer text. Compare ns/op of BenchmarkChat/raw_http with the others in
// the same run:
//
//	go test ./internal/llm -run '^$' -bench BenchmarkChat -benchmem -count 5

const benchAnswer = "The quick brown fox jumps over the lazy dog."

func BenchmarkChat(b *testing.B) {
	req := llm.Request{Model: "bench", Messages: []llm.Message{{Role: "user", Content: "Tell me something."}}, MaxOutputTokens: 64}

	b.Run("raw_http", func(b *testing.B) {
		srv := llmtest.NewOpenAIServer(b, llmtest.Text(benchAnswer))
		client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			text, err := rawChat(ctx, client, srv, req)
			if err != nil || text != benchAnswer {
				b.Fatalf("raw = %q, %v", text, err)
			}
		}
	})
	adapters := []struct {
		name  string
		start func(testing.TB, llmtest.Handler, ...llmtest.Option) *llmtest.Server
		build func(testing.TB, llm.Options) llm.Provider
	}{
		{"openai", llmtest.NewOpenAIServer, func(_ testing.TB, o llm.Options) llm.Provider { return llm.NewOpenAI(o) }},
		{"anthropic", llmtest.NewAnthropicServer, func(_ testing.TB, o llm.Options) llm.Provider { return llm.NewAnthropic(o) }},
		{"gemini", llmtest.NewGeminiServer, func(tb testing.TB, o llm.Options) llm.Provider {
			p, err := llm.NewGemini(o)
			if err != nil {
				tb.Fatal(err)
			}
			return p
		}},
	}
	for _, a := range adapters {
		for _, stream := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/stream=%v", a.name, stream), func(b *testing.B) {
				srv := a.start(b, llmtest.Text(benchAnswer))
				p := a.build(b, llm.Options{Provider: a.name, APIKey: srv.Key, BaseURL: srv.BaseURL})
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					var resp llm.Response
					var err error
					if stream {
						resp, err = p.Stream(ctx, req, func(string) error { return nil })
					} else {
						resp, err = p.Complete(ctx, req)
					}
					if err != nil || resp.Text != benchAnswer {
						b.Fatalf("%s = %q, %v", a.name, resp.Text, err)
					}
				}
			})
		}
	}
}

// rawChat is the floor: encode, POST, decode the first choice's text.
func rawChat(ctx context.Context, client *http.Client, srv *llmtest.Server, req llm.Request) (string, error) {
	body, err := json.Marshal(map[string]any{"model": req.Model, "messages": req.Messages, "max_completion_tokens": req.MaxOutputTokens})
	if err != nil {
		return "", err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.BaseURL+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	hr.Header.Set("Authorization", "Bearer "+srv.Key)
	hr.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(hr)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK || len(out.Choices) == 0 {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	return out.Choices[0].Message.Content, nil
}
