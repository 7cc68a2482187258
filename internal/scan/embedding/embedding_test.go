package embedding

import (
	"context"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"mirror/internal/llm"
	"mirror/internal/llm/llmtest"
	"mirror/internal/scan"
	"mirror/internal/scan/probe/pii"
)

// ngramEmbed is a "vulnerable" embedder with real similarity structure: hashed
// character trigrams of the lower-cased text, so texts sharing names, places and
// dates land close together, typos and reordering notwithstanding.
func ngramEmbed(text string) []float64 {
	const dims = 512
	v := make([]float64, dims)
	t := " " + strings.ToLower(text) + " "
	for i := 0; i+3 <= len(t); i++ {
		h := fnv.New32a()
		h.Write([]byte(t[i : i+3]))
		v[h.Sum32()%dims]++
	}
	return v
}

// noiseEmbedder is a "hardened" embedder: every call returns fresh random vectors,
// so there is no similarity structure to exploit.
func noiseEmbedder() func(string) []float64 {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(99, 99))
	return func(string) []float64 {
		mu.Lock()
		defer mu.Unlock()
		v := make([]float64, 64)
		for i := range v {
			v[i] = r.NormFloat64()
		}
		return v
	}
}

func serve(t *testing.T, embed func(string) []float64, h llmtest.Handler) llm.Embedder {
	t.Helper()
	if h == nil {
		h = func(llmtest.ChatRequest) llmtest.Reply { return llmtest.Reply{} }
	}
	srv := llmtest.NewOpenAIServer(t, h, llmtest.WithEmbedder(embed))
	return llm.NewOpenAI(llm.Options{Provider: llm.OpenAICompatible, APIKey: srv.Key, BaseURL: srv.BaseURL, MaxRetries: -1})
}

func TestRunVulnerableEmbedder(t *testing.T) {
	e := serve(t, ngramEmbed, nil)
	var steps int
	fs, err := Run(context.Background(), e, "text-embed-test", Options{Seed: 1, Target: "emb", Progress: func(done, total int, _ string) { steps = done }})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 2 {
		t.Fatalf("got %d findings, want 2", len(fs))
	}
	reid, attr := fs[0], fs[1]
	t.Logf("reid: %s %.1f %v", reid.Severity, reid.Score, reid.Evidence)
	t.Logf("attr: %s %.1f %v", attr.Severity, attr.Score, attr.Evidence)
	if reid.Severity.Rank() < scan.High.Rank() {
		t.Errorf("re-identification severity %s (score %.1f), want high or above", reid.Severity, reid.Score)
	}
	if r1 := reid.Evidence["top1_rate"].(float64); r1 < 10*reid.Evidence["baseline_top1"].(float64) {
		t.Errorf("top-1 rate %.3f not far above baseline", r1)
	}
	if attr.Severity.Rank() < scan.Medium.Rank() {
		t.Errorf("attribute inference severity %s, want medium or above", attr.Severity)
	}
	for _, f := range fs {
		if f.ScanType != scan.EmbeddingReidentification || f.Target != "emb" || f.Remediation == "" {
			t.Errorf("bad finding header %+v", f)
		}
	}
	if ex, _ := reid.Evidence["example_matched_record"].(string); !strings.Contains(ex, "***@") || strings.Contains(ex, "Condition") && len(pii.Find(ex)) > 0 {
		t.Errorf("example record not masked: %q", ex)
	}
	if steps == 0 {
		t.Error("no progress reported")
	}
}

func TestRunNoiseEmbedderStaysAtBaseline(t *testing.T) {
	e := serve(t, noiseEmbedder(), nil)
	fs, err := Run(context.Background(), e, "noise", Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		t.Logf("%s %.1f %s", f.Severity, f.Score, f.Title)
		if f.Severity != scan.Info {
			t.Errorf("noise embedder raised %s: %s %v", f.Severity, f.Title, f.Evidence)
		}
	}
}

func TestRunDeterministic(t *testing.T) {
	e := serve(t, ngramEmbed, nil)
	a, err := Run(context.Background(), e, "m", Options{Seed: 5, Records: 50})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Run(context.Background(), e, "m", Options{Seed: 5, Records: 50})
	if a[0].Evidence["top1_rate"] != b[0].Evidence["top1_rate"] || a[1].Evidence["accuracy"] != b[1].Evidence["accuracy"] {
		t.Errorf("same seed, different results: %v vs %v", a[0].Evidence, b[0].Evidence)
	}
}

func TestRunRejectsBadVectors(t *testing.T) {
	tests := []struct {
		name  string
		embed func(string) []float64
		reply llmtest.Reply
	}{
		{"ragged", func(s string) []float64 { return make([]float64, 4+len(s)%3) }, llmtest.Reply{}},
		{"non-retryable error", ngramEmbed, llmtest.Reply{Status: 400}},
		{"server error after retries", ngramEmbed, llmtest.Reply{Status: 503}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := serve(t, tt.embed, func(llmtest.ChatRequest) llmtest.Reply { return tt.reply })
			_, err := Run(context.Background(), e, "m", Options{Records: 20, RetryBase: 1})
			if err == nil {
				t.Fatal("Run accepted a broken embedder")
			}
			t.Log(err)
		})
	}
	if _, err := normalise([]float64{1, math.NaN()}); err == nil {
		t.Error("normalise accepted NaN")
	}
}

func TestRetriesTransientFailure(t *testing.T) {
	e := serve(t, ngramEmbed, llmtest.Sequence(llmtest.Reply{Status: 503}, llmtest.Reply{}))
	if _, err := Run(context.Background(), e, "m", Options{Records: 20, RetryBase: 1}); err != nil {
		t.Fatalf("a single 503 was not retried: %v", err)
	}
}

func TestBinomialTail(t *testing.T) {
	tests := []struct {
		k, n int
		p    float64
		want float64
	}{
		{0, 10, 0.5, 1},
		{10, 10, 0.5, 1.0 / 1024},
		{1, 1, 0.3, 0.3},
		{2, 3, 0.5, 0.5},
	}
	for _, tt := range tests {
		if got := binomialTail(tt.k, tt.n, tt.p); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("binomialTail(%d,%d,%v) = %v, want %v", tt.k, tt.n, tt.p, got, tt.want)
		}
	}
}

func TestNearest(t *testing.T) {
	set := [][]float64{{1, 0}, {0, 1}, {0.7, 0.7}, {-1, 0}}
	got := nearest([]float64{1, 0.1}, set, 3)
	if len(got) != 3 || got[0] != 0 || got[1] != 2 || got[2] != 1 {
		t.Errorf("nearest = %v, want [0 2 1]", got)
	}
}
