package embedding

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"mirror/internal/llm"
	"mirror/internal/llm/llmtest"
	"mirror/internal/scan"
	"mirror/internal/scan/probe/pii"
)

// The scripted embedders below are served by llmtest's fake OpenAI server on
// 127.0.0.1, so every vector crosses the real /v1/embeddings wire format.

var tokenVecs sync.Map // "dims:token" → []float64

// tokenVec is a fixed pseudo-random Gaussian vector per token.
func tokenVec(tok string, dims int) []float64 {
	key := fmt.Sprint(dims, ":", tok)
	if v, ok := tokenVecs.Load(key); ok {
		return v.([]float64)
	}
	v := newTokenVec(tok, dims)
	tokenVecs.Store(key, v)
	return v
}

func newTokenVec(tok string, dims int) []float64 {
	h := fnv.New64a()
	h.Write([]byte(tok))
	r := rand.New(rand.NewPCG(h.Sum64(), 7))
	v := make([]float64, dims)
	for i := range v {
		v[i] = r.NormFloat64()
	}
	return v
}

// bagOfWords sums the vectors of the text's lower-cased word tokens: a faithful
// but invertible embedder (each word's direction is in the sum).
func bagOfWords(text string) []float64 {
	const dims = 384
	v := make([]float64, dims)
	for _, w := range wordTokens(text) {
		for i, x := range tokenVec(w, dims) {
			v[i] += x
		}
	}
	return v
}

// hashEmbed is a keyed-hash (random projection of a digest) embedder: the same text
// always gives the same vector, and any other text an unrelated one. It leaks
// nothing beyond equality.
func hashEmbed(text string) []float64 {
	sum := sha256.Sum256([]byte("tenant-key:" + text))
	r := rand.New(rand.NewPCG(binary.LittleEndian.Uint64(sum[:8]), binary.LittleEndian.Uint64(sum[8:16])))
	v := make([]float64, 128)
	for i := range v {
		v[i] = r.NormFloat64()
	}
	return v
}

// ngramEmbed hashes character trigrams of the lower-cased text into 512 counts:
// similarity structure of the lexical kind only, so it re-identifies well but no
// better than a lexical matcher.
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

// semanticEmbed understands what the text says rather than its words: it reads
// paraphrased occupations as the occupation, state names as their codes and month
// names as month numbers before a bag of words, so descriptions that share no word
// with a record can still land next to it.
func semanticEmbed(text string) []float64 {
	t := strings.ToLower(text)
	for occ, p := range paraphrases {
		t = strings.ReplaceAll(t, strings.ToLower(p), occ)
	}
	for code, name := range stateNames {
		t = strings.ReplaceAll(t, strings.ToLower(name), strings.ToLower(code))
	}
	for i, m := range monthNames {
		t = strings.ReplaceAll(t, strings.ToLower(m)+" ", fmtTwo(i+1)+"-")
	}
	// Day numbers as in ISO dates ("-7" → "-07").
	words := strings.Fields(t)
	for i, w := range words {
		if j := strings.LastIndexByte(w, '-'); j >= 0 && len(w)-j == 2 && w[j+1] >= '0' && w[j+1] <= '9' {
			words[i] = w[:j+1] + "0" + w[j+1:]
		}
	}
	return bagOfWords(strings.Join(words, " "))
}

func fmtTwo(n int) string { return string([]byte{byte('0' + n/10), byte('0' + n%10)}) }

// noiseEmbedder returns fresh random vectors on every call: no structure at all.
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

func serveOn(t *testing.T, embed func(string) []float64, h llmtest.Handler) (llm.Embedder, *llmtest.Server) {
	t.Helper()
	if h == nil {
		h = func(llmtest.ChatRequest) llmtest.Reply { return llmtest.Reply{} }
	}
	srv := llmtest.NewOpenAIServer(t, h, llmtest.WithEmbedder(embed))
	return llm.NewOpenAI(llm.Options{Provider: llm.OpenAICompatible, APIKey: srv.Key, BaseURL: srv.BaseURL, MaxRetries: -1}), srv
}

func serve(t *testing.T, embed func(string) []float64, h llmtest.Handler) llm.Embedder {
	e, _ := serveOn(t, embed, h)
	return e
}

func byRule(t *testing.T, fs []scan.Finding) map[string]scan.Finding {
	t.Helper()
	if len(fs) != 3 {
		t.Fatalf("got %d findings, want 3", len(fs))
	}
	m := map[string]scan.Finding{}
	for _, f := range fs {
		if f.ScanType != scan.EmbeddingReidentification || f.Remediation == "" || f.Title == "" {
			t.Errorf("bad finding header %+v", f)
		}
		if r := scan.RuleFor(f); r.ID != f.RuleID || r.OWASPLLM != "LLM08" || r.ATLAS == "" {
			t.Errorf("finding %s has no catalogued rule: %+v", f.RuleID, r)
		}
		m[strings.TrimPrefix(f.RuleID, "embedding_reidentification.")] = f
	}
	for _, k := range []string{"reidentification", "attribute_inference", "inversion"} {
		if _, ok := m[k]; !ok {
			t.Fatalf("no %s finding in %v", k, m)
		}
	}
	return m
}

func fieldRecovered(f scan.Finding, name string) int {
	return f.Evidence["per_field"].(map[string]any)[name].(map[string]any)["recovered"].(int)
}

func TestBagOfWordsEmbedderIsInvertible(t *testing.T) {
	e := serve(t, bagOfWords, nil)
	fs, err := Run(context.Background(), e, "bow", Options{Seed: 1, Target: "emb", Records: 60})
	if err != nil {
		t.Fatal(err)
	}
	m := byRule(t, fs)
	inv := m["inversion"]
	t.Logf("inversion: %s %.1f %s", inv.Severity, inv.Score, inv.Title)
	if inv.Severity != scan.Critical {
		t.Errorf("inversion of a bag-of-words embedder is %s (%.1f), want critical: %v", inv.Severity, inv.Score, inv.Evidence)
	}
	n := inv.Evidence["secrets"].(int)
	for _, f := range []string{"first_name", "last_name", "birth_year", "condition"} {
		if got := fieldRecovered(inv, f); got < n*3/4 {
			t.Errorf("%s recovered %d of %d, want most", f, got, n)
		}
	}
	if p, r := inv.Evidence["token_precision"].(float64), inv.Evidence["token_recall"].(float64); p < 0.8 || r < 0.4 {
		t.Errorf("token precision %.2f recall %.2f, want high", p, r)
	}
	if rec := inv.Evidence["sensitive_recovered"].([]string); len(rec) < 2 || rec[0] != "name" || rec[1] != "number" {
		t.Errorf("sensitive_recovered = %v, want name and number first", rec)
	}
	// A bag of words re-identifies exactly as well as a word matcher: not held against it.
	if reid := m["reidentification"]; reid.Severity != scan.Info {
		t.Errorf("bag-of-words re-identification judged %s: %s", reid.Severity, reid.Title)
	}
}

func TestHashEmbedderLeaksNothing(t *testing.T) {
	for _, seed := range []int64{1, 2} {
		e := serve(t, hashEmbed, nil)
		fs, err := Run(context.Background(), e, "hash", Options{Seed: seed, Records: 60})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range byRule(t, fs) {
			t.Logf("seed %d: %s %.1f %s", seed, f.Severity, f.Score, f.Title)
			if f.Severity != scan.Info {
				t.Errorf("seed %d: hash embedder raised %s: %s %v", seed, f.Severity, f.Title, f.Evidence)
			}
		}
		inv := byRule(t, fs)["inversion"]
		if rec := inv.Evidence["sensitive_recovered"].([]string); len(rec) != 0 {
			t.Errorf("seed %d: recovered %v from a hash embedder", seed, rec)
		}
		if fn := inv.Evidence["full_name_recovered"].(int); fn != 0 {
			t.Errorf("seed %d: %d full names recovered from a hash embedder", seed, fn)
		}
	}
}

func TestLexicalEmbedderIsNotVulnerable(t *testing.T) {
	e := serve(t, ngramEmbed, nil)
	fs, err := Run(context.Background(), e, "ngram", Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	m := byRule(t, fs)
	reid := m["reidentification"]
	t.Logf("reid: %s %.1f %s", reid.Severity, reid.Score, reid.Title)
	ev := reid.Evidence
	// It does re-identify, far above chance ...
	if r1, c := ev["top1_rate"].(float64), ev["chance_top1"].(float64); r1 < 20*c {
		t.Errorf("top-1 %.3f not far above chance %.3f: the embedder should re-identify", r1, c)
	}
	// ... but no more than the lexical matcher does on the same text.
	if reid.Severity != scan.Info {
		t.Errorf("re-identification judged %s though a lexical matcher does as well: %v", reid.Severity, ev)
	}
	if ev["lexical_top1_hits"].(int) < ev["top1_hits"].(int)*9/10 {
		t.Errorf("lexical hits %v far below embedder's %v", ev["lexical_top1_hits"], ev["top1_hits"])
	}
	for _, k := range []string{"top1_hits", "lexical_top1_hits", "embedder_only_hits", "lexical_only_hits", "p_value_vs_lexical", "per_variant", "requests"} {
		if _, ok := ev[k]; !ok {
			t.Errorf("evidence lacks %s", k)
		}
	}
	if attr := m["attribute_inference"]; attr.Severity != scan.Info {
		t.Errorf("attribute inference judged %s: %s", attr.Severity, attr.Title)
	}
	if ex, _ := ev["example_matched_record"].(string); !strings.Contains(ex, "***@") || len(pii.Find(ex)) > 0 && strings.Contains(ex, "Phone: (") && !strings.Contains(ex, "***") {
		t.Errorf("example record not masked: %q", ex)
	}
}

func TestSemanticEmbedderBeatsLexicalBaseline(t *testing.T) {
	e := serve(t, semanticEmbed, nil)
	fs, err := Run(context.Background(), e, "semantic", Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	reid := byRule(t, fs)["reidentification"]
	t.Logf("reid: %s %.1f %s", reid.Severity, reid.Score, reid.Title)
	if reid.Severity.Rank() < scan.High.Rank() {
		t.Errorf("re-identification of paraphrases judged %s (%.1f), want high: %v", reid.Severity, reid.Score, reid.Evidence)
	}
	if w := reid.Evidence["worst_variant"]; w != "paraphrased" {
		t.Errorf("worst variant %v, want paraphrased", w)
	}
	para := reid.Evidence["per_variant"].(map[string]any)["paraphrased"].(map[string]any)
	if para["top1_hits"].(int) <= 2*para["lexical_hits"].(int) || para["embedder_only"].(int) == 0 {
		t.Errorf("paraphrased: embedder %v vs lexical %v", para["top1_hits"], para["lexical_hits"])
	}
}

func TestNoiseEmbedderStaysAtBaseline(t *testing.T) {
	e := serve(t, noiseEmbedder(), nil)
	fs, err := Run(context.Background(), e, "noise", Options{Seed: 1, Records: 60})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range byRule(t, fs) {
		if f.Severity != scan.Info {
			t.Errorf("noise embedder raised %s: %s %v", f.Severity, f.Title, f.Evidence)
		}
	}
}

func TestRunDeterministic(t *testing.T) {
	e := serve(t, ngramEmbed, nil)
	a, err := Run(context.Background(), e, "m", Options{Seed: 5, Records: 50, Secrets: 4})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Run(context.Background(), e, "m", Options{Seed: 5, Records: 50, Secrets: 4})
	for i := range a {
		for _, k := range []string{"top1_hits", "lexical_top1_hits", "hits", "token_recall", "examples"} {
			if av, ok := a[i].Evidence[k]; ok && !reflect.DeepEqual(av, b[i].Evidence[k]) {
				t.Errorf("same seed, different %s: %v vs %v", k, av, b[i].Evidence[k])
			}
		}
	}
}

// countingGate is a Gate with a request budget, counting what it let through.
type countingGate struct {
	max     int64
	granted atomic.Int64
}

func (g *countingGate) Acquire(ctx context.Context) error {
	for {
		cur := g.granted.Load()
		if cur >= g.max {
			return ErrBudget
		}
		if g.granted.CompareAndSwap(cur, cur+1) {
			return ctx.Err()
		}
	}
}

func (g *countingGate) Remaining() int { return int(g.max - g.granted.Load()) }

func TestBudgetHolds(t *testing.T) {
	tests := []struct {
		name          string
		budget        int64
		wantReid      bool // re-identification measured
		wantInversion bool // inversion measured
	}{
		{"ample", 1000, true, true},
		{"search cut short", 14, true, true},
		{"records shrink, no inversion", 3, true, false},
		{"nothing fits", 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, srv := serveOn(t, bagOfWords, nil)
			g := &countingGate{max: tt.budget}
			fs, err := Run(context.Background(), e, "bow", Options{Seed: 1, Records: 100, Secrets: 8, BatchSize: 64, Gate: g})
			if err != nil {
				t.Fatal(err)
			}
			if got := int64(srv.Count()); got > tt.budget || got != g.granted.Load() {
				t.Errorf("server saw %d requests, gate granted %d, budget %d", got, g.granted.Load(), tt.budget)
			}
			m := byRule(t, fs)
			reidDone := m["reidentification"].Evidence["budget_exhausted"] == nil
			invDone := m["inversion"].Evidence["secrets"] != nil
			if reidDone != tt.wantReid || invDone != tt.wantInversion {
				t.Errorf("re-identification measured %v (want %v), inversion %v (want %v): %v / %v", reidDone, tt.wantReid, invDone, tt.wantInversion, m["reidentification"].Title, m["inversion"].Title)
			}
			if tt.name == "search cut short" {
				ev := m["inversion"].Evidence
				if ev["budget_exhausted"] != true || ev["requests"].(int) > int(tt.budget) {
					t.Errorf("search not cut by the budget: %v", ev)
				}
			}
			if tt.name == "records shrink, no inversion" {
				if ev := m["reidentification"].Evidence; ev["records"].(int) >= 100 || ev["records_reduced_for_budget"] != true {
					t.Errorf("records not reduced to the budget: %v", ev)
				}
			}
		})
	}
}

func TestBatchesAndConcurrency(t *testing.T) {
	var inFlight, peak atomic.Int32
	var mu sync.Mutex
	sizes := map[int]int{}
	h := func(req llmtest.ChatRequest) llmtest.Reply {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		mu.Lock()
		sizes[len(req.Inputs)]++
		mu.Unlock()
		return llmtest.Reply{}
	}
	e, srv := serveOn(t, bagOfWords, h)
	_, err := Run(context.Background(), e, "bow", Options{Seed: 1, Records: 50, Secrets: 4, BatchSize: 32, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	if peak.Load() > 2 {
		t.Errorf("%d requests in flight, concurrency 2", peak.Load())
	}
	if sizes[32] == 0 {
		t.Errorf("no full batches of 32: %v", sizes)
	}
	for size := range sizes {
		if size > 32 {
			t.Errorf("a request carried %d inputs, batch size 32", size)
		}
	}
	t.Logf("%d requests, batch sizes %v", srv.Count(), sizes)
}

func TestRunRejectsBadVectors(t *testing.T) {
	tests := []struct {
		name  string
		embed func(string) []float64
		reply llmtest.Reply
	}{
		{"ragged", func(s string) []float64 { return make([]float64, 4+len(s)%3) }, llmtest.Reply{}},
		{"empty", func(string) []float64 { return nil }, llmtest.Reply{}},
		{"non-retryable error", ngramEmbed, llmtest.Reply{Status: 400}},
		{"server error after retries", ngramEmbed, llmtest.Reply{Status: 503}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := serve(t, tt.embed, func(llmtest.ChatRequest) llmtest.Reply { return tt.reply })
			_, err := Run(context.Background(), e, "m", Options{Records: 20, Secrets: 2, RetryBase: 1})
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
	e, srv := serveOn(t, ngramEmbed, llmtest.Sequence(llmtest.Reply{Status: 503}, llmtest.Reply{}))
	g := &countingGate{max: 1 << 20}
	if _, err := Run(context.Background(), e, "m", Options{Records: 20, Secrets: 2, RetryBase: 1, Gate: g}); err != nil {
		t.Fatalf("a single 503 was not retried: %v", err)
	}
	if int64(srv.Count()) != g.granted.Load() {
		t.Errorf("the retry bypassed the gate: server %d, gate %d", srv.Count(), g.granted.Load())
	}
}

func TestCancelled(t *testing.T) {
	e := serve(t, bagOfWords, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, e, "m", Options{Records: 20}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled run returned %v", err)
	}
}

func TestLexicalMatchers(t *testing.T) {
	records := []string{"Maren Halvorsen nurse Tulsa", "Tobias Okonkwo pilot Boise", "Priya Lindqvist chef Reno"}
	for _, m := range newLexicalMatchers(records) {
		if got := m.rank("halvorsen from tulsa", 3); got[0] != 0 {
			t.Errorf("%s ranked %v", m.name, got)
		}
		if got := m.rank("Okonkow, Tobais", 1); m.name == lexChar3 && got[0] != 1 {
			t.Errorf("%s missed a typo'd name: %v", m.name, got)
		}
	}
	if got := charNgrams(3)("Ab, c"); strings.Join(got, "|") != " ab|ab |b c| c " {
		t.Errorf("charNgrams = %q", got)
	}
}

func TestVocabulary(t *testing.T) {
	for _, f := range invFields {
		seen := map[string]bool{}
		for _, v := range f.values {
			if seen[v] {
				t.Errorf("%s lists %q twice", f.name, v)
			}
			seen[v] = true
		}
		if len(f.values) < 25 {
			t.Errorf("%s has only %d candidates", f.name, len(f.values))
		}
	}
	for _, tpl := range secretTemplates {
		if strings.Count(tpl, "%[") != len(invFields) {
			t.Errorf("template %q does not use every field", tpl)
		}
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
	if got := mcnemar(0, 0); got != 1 {
		t.Errorf("mcnemar(0,0) = %v", got)
	}
	if got := mcnemar(10, 0); math.Abs(got-1.0/1024) > 1e-12 {
		t.Errorf("mcnemar(10,0) = %v", got)
	}
}

func TestNearest(t *testing.T) {
	set := [][]float64{{1, 0}, {0, 1}, {0.7, 0.7}, {-1, 0}}
	got := nearest([]float64{1, 0.1}, set, 3)
	if len(got) != 3 || got[0] != 0 || got[1] != 2 || got[2] != 1 {
		t.Errorf("nearest = %v, want [0 2 1]", got)
	}
}
