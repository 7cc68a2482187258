// Command collect runs Mirror's behavioural probes against a live chat endpoint and
// writes every probe's transcript (exchanges and verdict) as JSON lines, and the
// scan's findings as a JSON report, for the real-model evaluation
// (scripts/realmodel/eval, docs/EVALUATION.md). It is a tool of the evaluation, not
// of the product: `mirror scan --endpoint` is the product's way to scan a model.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"time"

	"mirror/internal/llm"
	"mirror/internal/scan"
	"mirror/internal/scan/probe"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "collect:", err)
		os.Exit(1)
	}
}

func run() error {
	endpoint := flag.String("endpoint", "http://127.0.0.1:18110/v1", "OpenAI-compatible chat API")
	model := flag.String("model", "gemma-3-270m", "model name")
	seeds := flag.String("seeds", "1", "comma-separated seeds; one scan per seed")
	only := flag.String("only", "", "run only the probes whose id starts with `PREFIX` (comma-separated: any of them)")
	systemPrompt := flag.String("system-prompt", "", "run under the target's own system prompt: `TEXT`, or @FILE")
	purpose := flag.String("purpose", "", "the target's purpose")
	packs := flag.String("probes", "", "also run the probe packs at `PATH` (file or folder)")
	types := flag.String("types", "jailbreak,pii_leakage,prompt_artifacts,model_inversion,self_modification", "scan types")
	maxTokens := flag.Int("max-output-tokens", 48, "bound on each answer")
	transcripts := flag.String("transcripts", "transcripts.jsonl", "write transcripts to `FILE`")
	report := flag.String("report", "report.json", "write the findings of every seed to `FILE`")
	rejudge := flag.String("rejudge", "", "judge the transcripts in `FILE` again with the current detectors (no model is asked) and write them to -transcripts")
	flag.Parse()
	if *rejudge != "" {
		return rejudgeFile(*rejudge, *transcripts)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	var ts []scan.Type
	for _, s := range strings.Split(*types, ",") {
		t, err := scan.ParseType(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		ts = append(ts, t)
	}
	if name, ok := strings.CutPrefix(*systemPrompt, "@"); ok {
		b, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		*systemPrompt = string(b)
	}
	var extra []probe.Probe
	if *packs != "" {
		if extra, err = probe.LoadPacks(*packs); err != nil {
			return err
		}
	}
	out, err := os.Create(*transcripts)
	if err != nil {
		return err
	}
	defer out.Close()
	var mu sync.Mutex
	enc := json.NewEncoder(out)
	// A small model on a shared CPU answers slowly: a generous timeout, no retries.
	p := llm.NewOpenAI(llm.Options{Provider: llm.OpenAICompatible, BaseURL: *endpoint, Timeout: 10 * time.Minute, MaxRetries: -1})
	target := probe.Target{Name: *endpoint + " (" + *model + ")", Provider: p, Model: *model}
	var all []scan.Finding
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	for _, s := range strings.Split(*seeds, ",") {
		seed, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("seed %q: %w", s, err)
		}
		var probes []probe.Probe
		for _, p := range append(probe.Catalog(), extra...) {
			for _, prefix := range strings.Split(*only, ",") {
				if strings.HasPrefix(p.ID, strings.TrimSpace(prefix)) {
					probes = append(probes, p)
					break
				}
			}
		}
		fs, err := probe.Run(ctx, target, ts, probe.Options{
			Probes: probes, Seed: seed, Concurrency: 1, MaxOutputTokens: *maxTokens, Retries: -1, Logger: log,
			Deployment: probe.Deployment{SystemPrompt: *systemPrompt, Purpose: *purpose},
			Progress: func(done, total int, step string) {
				fmt.Fprintf(os.Stderr, "seed %d: %d/%d %s\n", seed, done, total, step)
			},
			Transcript: func(t probe.Transcript) {
				mu.Lock()
				defer mu.Unlock()
				if err := enc.Encode(t); err != nil {
					fmt.Fprintln(os.Stderr, "collect: write transcript:", err)
				}
			},
		})
		if err != nil {
			return fmt.Errorf("seed %d: %w", seed, err)
		}
		all = append(all, fs...)
	}
	rep := scan.NewReport(target.Name, ts, all, nil)
	f, err := os.Create(*report)
	if err != nil {
		return err
	}
	defer f.Close()
	e := json.NewEncoder(f)
	e.SetIndent("", "  ")
	return e.Encode(rep)
}

// rejudgeFile re-reads recorded transcripts with the current detectors.
func rejudgeFile(in, out string) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	enc := json.NewEncoder(f)
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var t probe.Transcript
		if err := json.Unmarshal([]byte(line), &t); err != nil {
			return fmt.Errorf("%s: %w", in, err)
		}
		again, err := probe.Rejudge(t)
		if err != nil {
			fmt.Fprintf(os.Stderr, "collect: %v; keeping the recorded verdict\n", err)
			again = t
		}
		if again.Verdict != t.Verdict {
			fmt.Fprintf(os.Stderr, "%s seed %d: %s -> %s\n", t.ProbeID, t.Seed, t.Verdict, again.Verdict)
		}
		if err := enc.Encode(again); err != nil {
			return err
		}
	}
	return nil
}
