package probe_test

import (
	"context"
	"testing"

	"mirror/internal/llm"
	"mirror/internal/llm/llmtest"
	"mirror/internal/scan"
	"mirror/internal/scan/probe"
)

// TestEmbeddingAnalysisKeepsTheScanBudget: the embeddings requests of both attacks,
// counted by the server itself, never exceed max_requests.
func TestEmbeddingAnalysisKeepsTheScanBudget(t *testing.T) {
	for _, limit := range []int{4, 9, 30} {
		srv := llmtest.NewOpenAIServer(t, llmtest.Text("unused"), llmtest.WithEmbedder(ngramEmbed))
		e := llm.NewOpenAI(llm.Options{Provider: llm.OpenAICompatible, APIKey: srv.Key, BaseURL: srv.BaseURL, MaxRetries: -1})
		tg := probe.Target{Name: "emb", Embedder: e, EmbeddingModel: "embed"}
		fs, err := probe.Run(context.Background(), tg, []scan.Type{scan.EmbeddingReidentification}, probe.Options{Seed: 1, MaxRequests: limit})
		if err != nil {
			t.Fatal(err)
		}
		if srv.Count() > limit {
			t.Errorf("max_requests %d: the endpoint saw %d requests", limit, srv.Count())
		}
		if len(fs) != 3 {
			t.Errorf("max_requests %d: %d findings, want 3", limit, len(fs))
		}
		for _, f := range fs {
			t.Logf("max_requests %d (%d sent): %s %s", limit, srv.Count(), f.Severity, f.Title)
		}
	}
}
