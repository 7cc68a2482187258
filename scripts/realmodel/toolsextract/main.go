// Command toolsextract runs the tool-based self-modification probes and the
// extraction probes (divergence, training-data and prefix extraction, the logprob
// rank test) against a live OpenAI-compatible endpoint and prints what they found:
// the measurement behind "Tools and extraction" in docs/EVALUATION.md.
//
//	go run ./scripts/realmodel/toolsextract --endpoint http://127.0.0.1:18110/v1 --model gemma-3-270m \
//	  --part extraction --pairs 8 --max-output-tokens 160 --transcripts out.jsonl
//
// --part selects tools, extraction or membership; --pairs cuts the rank test to
// its first N member/non-member pairs (the catalog has 16) for a slow target.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"time"

	"mirror/internal/llm"
	"mirror/internal/scan"
	"mirror/internal/scan/probe"
	"mirror/scripts/realmodel/internal/transcript"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "toolsextract:", err)
		os.Exit(1)
	}
}

func run() error {
	endpoint := flag.String("endpoint", "http://127.0.0.1:18110/v1", "OpenAI-compatible chat API")
	model := flag.String("model", "gemma-3-270m", "model name")
	part := flag.String("part", "tools", "tools, extraction or membership")
	pairs := flag.Int("pairs", 16, "member/non-member pairs of the rank test (at most the catalog's 16)")
	seed := flag.Int64("seed", 1, "scan seed")
	maxTokens := flag.Int("max-output-tokens", 160, "bound on each answer")
	toolChoice := flag.String("tool-choice", "", "auto or required: required makes the model call a tool on each tool probe's planting turn")
	transcripts := flag.String("transcripts", "toolsextract.jsonl", "write transcripts to `FILE`")
	flag.Parse()

	var probes []probe.Probe
	types := []scan.Type{scan.ModelInversion}
	for _, p := range probe.Catalog() {
		switch {
		case *part == "tools" && p.Success.Kind == probe.KindToolWrite:
			types = []scan.Type{scan.SelfModification}
		case *part == "extraction" && p.Success.Kind == probe.KindExtraction:
		case *part == "membership" && p.Success.Kind == probe.KindMembershipTest:
			if n := min(*pairs, len(p.Success.Members)); n < len(p.Success.Members) {
				p.Success.Members = p.Success.Members[:n]
				p.Sessions = p.Sessions[:2*n] // member_i and nonmember_i, in pairs
			}
		default:
			continue
		}
		probes = append(probes, p)
	}
	if len(probes) == 0 {
		return fmt.Errorf("no probes for part %q", *part)
	}
	out, err := transcript.Create(*transcripts, "toolsextract")
	if err != nil {
		return err
	}
	defer out.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	p := llm.NewOpenAI(llm.Options{Provider: llm.OpenAICompatible, BaseURL: *endpoint, Timeout: 20 * time.Minute, MaxRetries: -1})
	start := time.Now()
	fs, err := probe.Run(ctx, probe.Target{Name: *endpoint, Provider: p, Model: *model}, types, probe.Options{
		Probes: probes, Seed: *seed, Concurrency: 1, MaxOutputTokens: *maxTokens, Retries: -1, ToolChoice: *toolChoice,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Progress: func(done, total int, step string) {
			fmt.Fprintf(os.Stderr, "%s %d/%d %s\n", time.Since(start).Round(time.Second), done, total, step)
		},
		Transcript: out.Write,
	})
	if err != nil {
		return err
	}
	fmt.Printf("%s: %d probes in %s\n", *part, len(probes), time.Since(start).Round(time.Second))
	for _, f := range fs {
		ev := f.Evidence
		keys := []string{"probe_id", "matched", "p_value", "n_members", "n_nonmembers", "auc", "member_mean_logprob", "nonmember_mean_logprob",
			"other_words_share", "overlap_words", "baseline_overlap_words", "notes", "attack_success_rate", "probes_run", "probes_not_judged"}
		var parts []string
		for _, k := range keys {
			if v, ok := ev[k]; ok {
				parts = append(parts, fmt.Sprintf("%s=%v", k, v))
			}
		}
		fmt.Printf("- %s %.1f %s | %s\n", f.Severity, f.Score, f.Title, strings.Join(parts, " "))
	}
	return nil
}
