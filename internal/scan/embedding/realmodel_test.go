package embedding

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"mirror/internal/llm"
)

// TestRealEmbeddingsEndpoint runs both attacks against a real embeddings endpoint
// named by MIRROR_TEST_EMBEDDINGS_URL (and MIRROR_TEST_EMBEDDINGS_MODEL), as
// docs/EVALUATION.md does with all-MiniLM-L6-v2; it skips without one.
func TestRealEmbeddingsEndpoint(t *testing.T) {
	url := os.Getenv("MIRROR_TEST_EMBEDDINGS_URL")
	if url == "" {
		t.Skip("MIRROR_TEST_EMBEDDINGS_URL not set")
	}
	model := os.Getenv("MIRROR_TEST_EMBEDDINGS_MODEL")
	if model == "" {
		model = "all-MiniLM-L6-v2"
	}
	e := llm.NewOpenAI(llm.Options{Provider: llm.OpenAICompatible, BaseURL: url, MaxRetries: -1})
	start := time.Now()
	fs, err := Run(context.Background(), e, model, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		b, _ := json.MarshalIndent(f, "", "  ")
		t.Logf("%s", b)
	}
	t.Logf("total %.1fs", time.Since(start).Seconds())
}
