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
	"time"

	"mirror/internal/llm"
	"mirror/internal/scan"
	"mirror/internal/scan/probe"
	"mirror/scripts/realmodel/internal/transcript"
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
	only := flag.String("only", "", "run only the probes whose id starts with one of the comma-separated `PREFIXES`")
	systemPrompt := flag.String("system-prompt", "", "run under the target's own system prompt: `TEXT`, or @FILE")
	purpose := flag.String("purpose", "", "the target's purpose")
	packs := flag.String("probes", "", "also run the probe packs at `PATH` (file or folder)")
	types := flag.String("types", "jailbreak,pii_leakage,prompt_artifacts,model_inversion,self_modification", "scan types")
	maxTokens := flag.Int("max-output-tokens", 48, "bound on each answer")
	transcripts := flag.String("transcripts", "transcripts.jsonl", "write transcripts to `FILE`")
	report := flag.String("report", "report.json", "write the findings of every seed to `FILE`")
	rejudge := flag.String("rejudge", "", "judge the transcripts in `FILE` again with the current detectors (no model is asked) and write them to -transcripts")
	judgeLabelled := flag.String("judge-labelled", "", "ask the judge (-judge-endpoint, -judge-model) about the labelled runs in `FILES` (comma-separated JSON lines) and write its readings to -judge-out")
	judgeEndpoint := flag.String("judge-endpoint", "http://127.0.0.1:18110/v1", "OpenAI-compatible chat API of the judge")
	judgeModel := flag.String("judge-model", "gemma-3-270m", "judge model name")
	judgeOut := flag.String("judge-out", "judge.jsonl", "write the judge's readings to `FILE`")
	withJudge := flag.Bool("judge", false, "scan with the judge (-judge-endpoint, -judge-model) confirming or dismissing each hit, as `mirror scan --judge-endpoint` does")
	judgeEvery := flag.Int("judge-every", 1, "with -judge-labelled, ask about every `N`th labelled run the judge would see (all detector hits are always asked)")
	flag.Parse()
	if *rejudge != "" {
		return rejudgeFile(*rejudge, *transcripts)
	}
	if *judgeLabelled != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		j := llm.NewOpenAI(llm.Options{Provider: llm.OpenAICompatible, BaseURL: *judgeEndpoint, Timeout: 10 * time.Minute, MaxRetries: -1})
		return judgeFiles(ctx, j, *judgeModel, strings.Split(*judgeLabelled, ","), *judgeOut, max(*judgeEvery, 1))
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
	out, err := transcript.Create(*transcripts, "collect")
	if err != nil {
		return err
	}
	defer out.Close()
	// A small model on a shared CPU answers slowly: a generous timeout, no retries.
	p := llm.NewOpenAI(llm.Options{Provider: llm.OpenAICompatible, BaseURL: *endpoint, Timeout: 10 * time.Minute, MaxRetries: -1})
	target := probe.Target{Name: *endpoint + " (" + *model + ")", Provider: p, Model: *model}
	var judge llm.Provider
	if *withJudge {
		judge = llm.NewOpenAI(llm.Options{Provider: llm.OpenAICompatible, BaseURL: *judgeEndpoint, Timeout: 10 * time.Minute, MaxRetries: -1})
	}
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
			Judge:      judge, JudgeModel: *judgeModel,
			Progress: func(done, total int, step string) {
				fmt.Fprintf(os.Stderr, "seed %d: %d/%d %s\n", seed, done, total, step)
			},
			Transcript: out.Write,
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

// labelled is one record of internal/scan/probe/testdata/labelled.
type labelled struct {
	ProbeID string              `json:"probe_id"`
	Version int                 `json:"probe_version"`
	Seed    int64               `json:"seed"`
	Source  string              `json:"source"`
	Replies map[string][]string `json:"replies"`
	Label   string              `json:"label"`
	Reason  string              `json:"reason"`
}

// judgeFiles asks the judge about the labelled runs of the kinds a scan sends it
// (compliance, personal data) and prints how often it agrees with the labels.
func judgeFiles(ctx context.Context, j llm.Provider, model string, files []string, out string, every int) error {
	kinds := map[string]string{}
	for _, p := range probe.Catalog() {
		kinds[p.ID] = p.Success.Kind
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	enc := json.NewEncoder(f)
	type tally struct{ confirmed, dismissed, unclear, errors int }
	byLabel := map[string]*tally{"success": {}, "failure": {}}
	n := 0
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var l labelled
			if err := json.Unmarshal([]byte(line), &l); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if k := kinds[l.ProbeID]; (k != probe.KindCompliance && k != probe.KindPII) || l.Label == "observation" {
				continue
			}
			n++
			scripted := l.Source == "scripted"
			pre, err := probe.JudgeReplies(ctx, nil, "", l.ProbeID, l.Version, l.Seed, l.Replies, scripted)
			if err != nil {
				return fmt.Errorf("%s seed %d: %w", l.ProbeID, l.Seed, err)
			}
			if !pre.Detected && n%every != 0 {
				continue
			}
			started := time.Now()
			r, err := probe.JudgeReplies(ctx, j, model, l.ProbeID, l.Version, l.Seed, l.Replies, scripted)
			if err != nil {
				return fmt.Errorf("%s seed %d: %w", l.ProbeID, l.Seed, err)
			}
			t := byLabel[l.Label]
			switch r.Verdict {
			case "confirmed":
				t.confirmed++
			case "dismissed":
				t.dismissed++
			case "unclear":
				t.unclear++
			default:
				t.errors++
			}
			fmt.Fprintf(os.Stderr, "%s seed %d (%s, label %s, detected %v): judge %s in %s\n", l.ProbeID, l.Seed, l.Source, l.Label, r.Detected, r.Verdict, time.Since(started).Round(time.Second))
			rec := struct {
				ProbeID string `json:"probe_id"`
				Version int    `json:"probe_version"`
				Seed    int64  `json:"seed"`
				Source  string `json:"source"`
				Label   string `json:"label"`
				Model   string `json:"judge_model"`
				probe.JudgedReply
			}{l.ProbeID, l.Version, l.Seed, l.Source, l.Label, model, r}
			if err := enc.Encode(rec); err != nil {
				return err
			}
		}
	}
	for _, label := range []string{"success", "failure"} {
		t := byLabel[label]
		fmt.Printf("label %s: judge confirmed %d, dismissed %d, unclear %d, errors %d\n", label, t.confirmed, t.dismissed, t.unclear, t.errors)
	}
	return nil
}
