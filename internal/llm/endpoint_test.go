package llm_test

import (
	"context"
	"strings"
	"testing"

	"mirror/internal/llm"
	"mirror/internal/llm/llmtest"
)

// TestForEndpoint reaches each protocol's fake server through the base URL in every
// form a user copies it (bare, with the API version, with a trailing slash): the
// API's endpoint scans and `mirror scan --endpoint` both build providers here, so
// the forms they accept cannot drift apart again.
func TestForEndpoint(t *testing.T) {
	servers := map[string]*llmtest.Server{
		"openai":    llmtest.NewOpenAIServer(t, llmtest.Echo),
		"anthropic": llmtest.NewAnthropicServer(t, llmtest.Echo),
		"gemini":    llmtest.NewGeminiServer(t, llmtest.Echo),
	}
	tests := []struct {
		protocol string
		url      func(s *llmtest.Server) string
	}{
		{"openai", func(s *llmtest.Server) string { return s.BaseURL }},
		{"openai", func(s *llmtest.Server) string { return s.BaseURL + "/" }},
		{"", func(s *llmtest.Server) string { return s.BaseURL }},
		{"anthropic", func(s *llmtest.Server) string { return s.URL() }},
		{"anthropic", func(s *llmtest.Server) string { return s.URL() + "/v1" }},
		{"anthropic", func(s *llmtest.Server) string { return s.URL() + "/v1/" }},
		{"gemini", func(s *llmtest.Server) string { return s.URL() }},
		{"gemini", func(s *llmtest.Server) string { return s.URL() + "/v1beta" }},
		{"gemini", func(s *llmtest.Server) string { return s.URL() + "/v1/" }},
	}
	for _, tt := range tests {
		srv := servers[tt.protocol]
		if tt.protocol == "" {
			srv = servers["openai"]
		}
		url := tt.url(srv)
		t.Run(tt.protocol+" "+strings.TrimPrefix(url, srv.URL()), func(t *testing.T) {
			p, err := llm.ForEndpoint(tt.protocol, url, llm.Options{APIKey: srv.Key})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := p.Complete(context.Background(), llm.Request{Model: "m", Messages: []llm.Message{{Role: "user", Content: "hi"}}})
			if err != nil {
				t.Fatalf("Complete through %q: %v", url, err)
			}
			if resp.Text != "echo: hi" {
				t.Fatalf("text %q", resp.Text)
			}
		})
	}
	if _, err := llm.ForEndpoint("cohere", "http://127.0.0.1:1", llm.Options{}); err == nil {
		t.Fatal("an unknown protocol was accepted")
	}
}
