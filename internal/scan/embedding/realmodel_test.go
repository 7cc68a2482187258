package embedding

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"testing"
	"time"

	"mirror/internal/llm"
)

// TestRealEmbeddingsEndpoint runs both attacks against a real embeddings endpoint,
// as docs/EVALUATION.md does with all-MiniLM-L6-v2; it skips unless
// MIRROR_TEST_EMBEDDINGS_URL names one. MIRROR_TEST_EMBEDDINGS_MODEL (default
// all-MiniLM-L6-v2), MIRROR_TEST_EMBEDDINGS_SEED (default 1) and
// MIRROR_TEST_EMBEDDINGS_MAX_REQUESTS (default: no bound) tune the run; with
// MIRROR_TEST_EMBEDDINGS_OUT set, the findings are written there as JSON.
func TestRealEmbeddingsEndpoint(t *testing.T) {
	url := os.Getenv("MIRROR_TEST_EMBEDDINGS_URL")
	if url == "" {
		t.Skip("MIRROR_TEST_EMBEDDINGS_URL not set")
	}
	model := os.Getenv("MIRROR_TEST_EMBEDDINGS_MODEL")
	if model == "" {
		model = "all-MiniLM-L6-v2"
	}
	opts := Options{Seed: 1, Concurrency: 4}
	if s := os.Getenv("MIRROR_TEST_EMBEDDINGS_SEED"); s != "" {
		seed, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		opts.Seed = seed
	}
	var gate *countingGate
	if s := os.Getenv("MIRROR_TEST_EMBEDDINGS_MAX_REQUESTS"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		gate = &countingGate{max: n}
		opts.Gate = gate
	}
	e := llm.NewOpenAI(llm.Options{Provider: llm.OpenAICompatible, BaseURL: url, MaxRetries: -1})
	start := time.Now()
	fs, err := Run(context.Background(), e, model, opts)
	if err != nil {
		t.Fatal(err)
	}
	if gate != nil && gate.granted.Load() > gate.max {
		t.Errorf("%d requests sent, budget %d", gate.granted.Load(), gate.max)
	}
	b, _ := json.MarshalIndent(map[string]any{"findings": fs, "seconds": time.Since(start).Seconds()}, "", "  ")
	if out := os.Getenv("MIRROR_TEST_EMBEDDINGS_OUT"); out != "" {
		if err := os.WriteFile(out, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range fs {
		t.Logf("%s %.1f %s", f.Severity, f.Score, f.Title)
	}
	t.Logf("total %.1fs", time.Since(start).Seconds())
}
