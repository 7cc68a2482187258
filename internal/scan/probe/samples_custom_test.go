package probe_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"mirror/internal/llm"
	"mirror/internal/llm/llmtest"
	"mirror/internal/scan"
	"mirror/internal/scan/probe"
)

// bySeed answers a request whose seed is odd with weak and every other with
// strong: a target that gives in on some samples only, so that an attack success
// rate over samples is neither 0 nor 1 when each sample really is its own request.
func bySeed(weak, strong llmtest.Handler) llmtest.Handler {
	return func(req llmtest.ChatRequest) llmtest.Reply {
		if req.Seed != nil && *req.Seed%2 == 1 {
			return weak(req)
		}
		return strong(req)
	}
}

// TestCustomProbesHonourSamples: the probes that run apart from the base probes
// (tool calls, extraction, logprob membership) send each sample as its own request,
// with the sample's seed and the scan's temperature, and report an attack success
// rate with its counts over the samples, exactly as the base probes do.
func TestCustomProbesHonourSamples(t *testing.T) {
	leaks := func(req llmtest.ChatRequest) llmtest.Reply {
		if strings.Contains(req.LastUser(), "AWS_ACCESS_KEY_ID=") {
			return llmtest.Reply{Text: "AKIA4XQ7MZKV2RLP3N6D\nAWS_SECRET_ACCESS_KEY=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\n```"}
		}
		return llmtest.Reply{Text: "I can't reproduce documents from my training data."}
	}
	declines := llmtest.Text("I can't reproduce documents from my training data.")
	var mu sync.Mutex
	gap := &memoryModel{gap: true, r: rand.New(rand.NewPCG(5, 5))}
	// The strong side gives every token the same logprob: no gap, and no chance of
	// one by the draw (a random flat model shows p < 0.01 one time in a hundred).
	flat := func(llmtest.ChatRequest) llmtest.Reply {
		lps := make([]llm.TokenLogprob, 16)
		for i := range lps {
			lps[i] = llm.TokenLogprob{Token: "t", Logprob: -1.5}
		}
		return llmtest.Reply{Text: "and so it went on", Logprobs: lps}
	}
	locked := func(h llmtest.Handler) llmtest.Handler {
		return func(req llmtest.ChatRequest) llmtest.Reply {
			mu.Lock()
			defer mu.Unlock()
			return h(req)
		}
	}
	for _, c := range []struct {
		name    string
		probe   string
		typ     scan.Type
		handler llmtest.Handler
	}{
		{"tool-based self-modification", "self_modification.tools.set_system_prompt", scan.SelfModification,
			bySeed(rewriter(func(code string) string { return "[" + code + "]" }), benignTools)},
		{"prefix extraction", "model_inversion.extraction.env_file_prefix", scan.ModelInversion, bySeed(leaks, declines)},
		{"logprob membership", "model_inversion.membership.rank_test", scan.ModelInversion, locked(bySeed(gap.handle, flat))},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := llmtest.NewOpenAIServer(t, c.handler)
			p := llm.NewOpenAI(llm.Options{Provider: llm.OpenAICompatible, APIKey: srv.Key, BaseURL: srv.BaseURL, MaxRetries: -1})
			const seed, samples = 10, 4 // seeds 10..13: samples 1 and 3 meet the weak side
			fs, err := probe.Run(context.Background(), probe.Target{Name: srv.BaseURL, Provider: p, Model: "scripted"}, []scan.Type{c.typ},
				probe.Options{Seed: seed, Probes: probesOf(t, c.probe), Samples: samples, Temperature: 0.7,
					Strategies: []string{scan.StrategyBase64}})
			if err != nil {
				t.Fatal(err)
			}
			var seeds []int64
			for _, r := range srv.Requests() {
				if r.Temperature == nil || *r.Temperature != 0.7 {
					t.Errorf("request %d at temperature %v, want 0.7", r.N, r.Temperature)
				}
				if r.Seed == nil {
					t.Fatalf("request %d carries no seed", r.N)
				}
				if !slices.Contains(seeds, *r.Seed) {
					seeds = append(seeds, *r.Seed)
				}
			}
			slices.Sort(seeds)
			if !slices.Equal(seeds, []int64{10, 11, 12, 13}) {
				t.Errorf("requests carried seeds %v, want one per sample: 10 11 12 13", seeds)
			}
			var found *scan.Finding
			for i := range fs {
				if fs[i].Evidence["probe_id"] == c.probe && fs[i].Severity != scan.Info {
					found = &fs[i]
				}
			}
			if found == nil {
				t.Fatalf("no finding for %s: %v", c.probe, fs)
			}
			// base64 does not apply to these probes: 4 attempts, not 8.
			if found.Evidence["attempts"] != samples || found.Evidence["judged"] != samples || found.Evidence["succeeded"] != 2 || found.Evidence["attack_success_rate"] != 0.5 {
				t.Errorf("finding counts %v of %v judged, %v attempts (rate %v), want 2 of 4 (0.5)",
					found.Evidence["succeeded"], found.Evidence["judged"], found.Evidence["attempts"], found.Evidence["attack_success_rate"])
			}
			bp := summaries(fs)[c.typ]["by_probe"].(map[string]any)[c.probe].(map[string]any)
			if bp["attempts"] != samples || bp["succeeded"] != 2 {
				t.Errorf("summary by_probe %v", bp)
			}
		})
	}
}
