package probe_test

import (
	"cmp"
	"context"
	"encoding/json"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"mirror/internal/llm"
	"mirror/internal/scan"
	"mirror/internal/scan/probe"
)

// TestRealModelStrategies measures strategies on a real model: it is skipped unless
// MIRROR_EVAL_CHAT_URL names an OpenAI-compatible endpoint (docs/EVALUATION.md,
// "Strategies and samples"). MIRROR_EVAL_PROBES picks catalog probes by id (all
// when empty), MIRROR_EVAL_STRATEGIES and MIRROR_EVAL_SAMPLES the strategies and
// samples, MIRROR_EVAL_ATTACKER_URL the attacker (default: the same endpoint and
// model), MIRROR_EVAL_OUT a file for the findings as JSON. It asserts nothing about
// the model: it prints attack success rates per type and strategy, requests and time.
func TestRealModelStrategies(t *testing.T) {
	url := os.Getenv("MIRROR_EVAL_CHAT_URL")
	if url == "" {
		t.Skip("MIRROR_EVAL_CHAT_URL not set: no real model to measure")
	}
	model := cmp.Or(os.Getenv("MIRROR_EVAL_MODEL"), "gemma-3-270m")
	var probes []probe.Probe
	ids := strings.Split(os.Getenv("MIRROR_EVAL_PROBES"), ",")
	types := map[scan.Type]bool{}
	for _, p := range probe.Catalog() {
		if ids[0] == "" || slices.Contains(ids, p.ID) {
			probes = append(probes, p)
			types[p.Type] = true
		}
	}
	var typeList []scan.Type
	for ty := range types {
		typeList = append(typeList, ty)
	}
	samples, _ := strconv.Atoi(os.Getenv("MIRROR_EVAL_SAMPLES"))
	temp, _ := strconv.ParseFloat(os.Getenv("MIRROR_EVAL_TEMPERATURE"), 64)
	opts := probe.Options{Seed: 1, Probes: probes, Concurrency: 1, MaxOutputTokens: 48, Samples: samples, Temperature: temp, Logger: testLogger(t),
		Progress: func(done, total int, step string) {
			t.Logf("%s %d/%d %s", time.Now().Format("15:04:05"), done, total, step)
		}}
	if s := os.Getenv("MIRROR_EVAL_STRATEGIES"); s != "" {
		opts.Strategies = strings.Split(s, ",")
	}
	newClient := func(u string) llm.Provider {
		return llm.NewOpenAI(llm.Options{Provider: llm.OpenAICompatible, BaseURL: u, Timeout: 10 * time.Minute})
	}
	for _, s := range opts.Strategies {
		if scan.NeedsAttacker(s) {
			opts.Attacker, opts.AttackerModel = newClient(cmp.Or(os.Getenv("MIRROR_EVAL_ATTACKER_URL"), url)), model
		}
	}
	start := time.Now()
	fs, err := probe.Run(context.Background(), probe.Target{Name: url, Provider: newClient(url), Model: model}, typeList, opts)
	if err != nil {
		t.Fatal(err)
	}
	secs := time.Since(start).Seconds()
	if out := os.Getenv("MIRROR_EVAL_OUT"); out != "" {
		b, _ := json.MarshalIndent(fs, "", " ")
		if err := os.WriteFile(out, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range fs {
		ev := f.Evidence
		if ev["kind"] != "summary" {
			if f.Severity != scan.Info {
				t.Logf("finding %s %s [%v] %v/%v: %v", f.Severity, ev["probe_id"], ev["strategy"], ev["succeeded"], ev["judged"], ev["matched"])
			}
			continue
		}
		bs := ev["by_strategy"].(map[string]any)
		names := make([]string, 0, len(bs))
		for n := range bs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			r := bs[n].(map[string]any)
			t.Logf("| %s | %s | %v | %v | %v | %v |", f.ScanType, n, r["attempts"], r["judged"], r["succeeded"], r["attack_success_rate"])
		}
		t.Logf("%s: requests to the target %v, attacker requests %v", f.ScanType, ev["requests_used"], ev["attacker_requests"])
	}
	t.Logf("seconds %.0f", secs)
}
