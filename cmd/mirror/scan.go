package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"mirror/internal/scan"
	"mirror/internal/scancli"
)

const scanUsage = `usage: mirror scan [flags] PATH...
       mirror scan [flags] --endpoint URL --model NAME

Scans model files and folders (recursively) for code that runs on load and for
chat templates that smuggle instructions; or, with --endpoint, probes a live model
for jailbreaks, PII leakage, prompt artifacts, model inversion and
self-modification.

` + scancli.UsageTail

// runScanCommand implements `mirror scan` (package scancli) with the live-model
// scan (--endpoint, endpointFlags) added to the file scan.
func runScanCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	c := scancli.Command{Name: "mirror scan", Usage: scanUsage, Tool: reportTool(), Extension: &endpointFlags{Getenv: getenv}}
	return c.Run(ctx, args, getenv, stdout, stderr)
}

// reportTool names this build in every report.
func reportTool() scan.Tool {
	return scan.Tool{Name: "mirror", Version: version, InformationURI: informationURI}
}

// AddFlags defines the flags of the endpoint scan (scancli.Extension).
func (f *endpointFlags) AddFlags(fs *pflag.FlagSet) {
	f.fs = fs
	fs.StringVar(&f.Endpoint, "endpoint", "", "scan the live model at `URL` instead of files")
	fs.StringVar(&f.Model, "model", "", "model `NAME` at the endpoint")
	fs.StringVar(&f.Provider, "provider", "openai", "endpoint wire `PROTOCOL`: openai, anthropic or gemini")
	fs.StringVar(&f.APIKeyEnv, "api-key-env", "", "environment `VAR` holding the endpoint's API key (default OPENAI_API_KEY)")
	fs.StringVar(&f.EmbeddingsEndpoint, "embeddings-endpoint", "", "embeddings API at `URL` for re-identification scans")
	fs.StringVar(&f.EmbeddingModel, "embedding-model", "", "embedding model `NAME`")
	fs.StringSliceVar(&f.typeNames, "types", nil, "comma-separated scan `TYPES` to run against an endpoint")
	fs.Int64Var(&f.Seed, "seed", 0, "seed `N` for reproducible probe selection")
	fs.StringVar(&f.JudgeEndpoint, "judge-endpoint", "", "OpenAI-compatible API at `URL` of a judge model that confirms or dismisses each compliance and personal-data finding")
	fs.StringVar(&f.JudgeModel, "judge-model", "", "judge model `NAME`")
	fs.StringVar(&f.JudgeAPIKeyEnv, "judge-api-key-env", "", "environment `VAR` holding the judge's API key (default: the endpoint's)")
	fs.IntVar(&f.MaxOutputTokens, "max-output-tokens", 0, "bound each answer of the scanned model to `N` tokens (default 400)")
	fs.IntVar(&f.Concurrency, "concurrency", 0, "run `N` probes at once (default 4)")
	fs.StringSliceVar(&f.Strategies, "strategies", nil, "comma-separated `NAMES` of strategies that also run every probe transformed: "+strings.Join(scan.StrategyNames, ", ")+" (the last three need --attacker-endpoint)")
	fs.IntVar(&f.Samples, "samples", 0, "try each probe and strategy `N` times (default 1, at most 20); findings report attack success rates")
	fs.Float64Var(&f.Temperature, "temperature", 0, "sampling temperature `T` of the scanned model's answers (0 to 2)")
	fs.StringVar(&f.ToolChoice, "tool-choice", "", "`auto` (default) or required: required makes the target call a tool on the planting turn of each tool self-modification probe (later turns stay auto)")
	fs.StringVar(&f.AttackerEndpoint, "attacker-endpoint", "", "OpenAI-compatible API at `URL` of an attacker model for the paraphrase, translation and crescendo strategies")
	fs.StringVar(&f.AttackerModel, "attacker-model", "", "attacker model `NAME`")
	fs.StringVar(&f.AttackerAPIKeyEnv, "attacker-api-key-env", "", "environment `VAR` holding the attacker's API key (default: the endpoint's)")
	fs.IntVar(&f.MaxRequests, "max-requests", 0, "send at most `N` requests to the scanned model (default: no bound)")
	fs.IntVar(&f.MaxTokens, "max-tokens", 0, "spend at most `N` tokens, input and output, of the scanned and attacker models (default: no bound)")
	fs.StringVar(&f.SystemPrompt, "system-prompt", "", "run the probes under the target's own system prompt: `TEXT`, or @FILE to read it from a file (default: the scanner's own invented policies)")
	fs.StringVar(&f.Purpose, "purpose", "", "what the target is for, as a phrase (\"questions about orders and returns\"): goal-hijack probes try to make it leave this `PURPOSE`, and the judge is told it")
	fs.StringVar(&f.ProbesPath, "probes", "", "also run the probe packs at `PATH` (a .yaml, .yml or .json file, or a folder of them; docs/probe-packs.md)")
}

// Active reports whether an endpoint is named (scancli.Extension).
func (f *endpointFlags) Active() bool { return f.Endpoint != "" || f.EmbeddingsEndpoint != "" }

// Unit is what the endpoint scan's progress counts.
func (f *endpointFlags) Unit() string { return "probes" }

// Scan runs the endpoint scan (scancli.Extension).
func (f *endpointFlags) Scan(ctx context.Context, progress scan.ProgressFunc) (scan.Report, error) {
	f.Progress = progress
	return scanEndpoint(ctx, *f)
}

// Check validates the endpoint flags (scancli.Extension): with an endpoint, that
// they make a scan; beside PATHs, that none of them is set.
func (f *endpointFlags) Check(paths []string) error {
	f.SeedSet = f.fs.Changed("seed")
	for _, t := range f.typeNames {
		st, err := scan.ParseType(strings.TrimSpace(t))
		if err != nil {
			return fmt.Errorf("--types: %w", err)
		}
		f.Types = append(f.Types, st)
	}
	if !f.Active() {
		if len(f.Types) > 0 || f.SeedSet || f.Model != "" || f.APIKeyEnv != "" || f.JudgeEndpoint != "" ||
			f.JudgeModel != "" || f.MaxOutputTokens != 0 || f.Concurrency != 0 || f.sampling() ||
			f.SystemPrompt != "" || f.Purpose != "" || f.ProbesPath != "" {
			return errors.New("--model, --api-key-env, --types, --seed, --judge-*, --max-output-tokens, --concurrency, --strategies, --samples, --temperature, --tool-choice, --attacker-*, --max-requests, --max-tokens, --system-prompt, --purpose and --probes apply to --endpoint scans only")
		}
		return nil
	}
	switch {
	case len(paths) > 0:
		return errors.New("give either PATHs or --endpoint, not both")
	case f.Endpoint != "" && f.Model == "":
		return errors.New("--endpoint needs --model")
	case f.EmbeddingsEndpoint != "" && f.EmbeddingModel == "":
		return errors.New("--embeddings-endpoint needs --embedding-model")
	case (f.JudgeEndpoint == "") != (f.JudgeModel == ""):
		return errors.New("--judge-endpoint and --judge-model go together")
	case f.JudgeEndpoint != "" && f.Endpoint == "":
		return errors.New("--judge-endpoint judges chat scans: it needs --endpoint")
	case f.MaxOutputTokens < 0 || f.Concurrency < 0 || f.MaxRequests < 0 || f.MaxTokens < 0:
		return errors.New("--max-output-tokens, --concurrency, --max-requests and --max-tokens must not be negative")
	}
	if err := f.checkStrategies(); err != nil {
		return err
	}
	if !slices.Contains([]string{"openai", "anthropic", "gemini"}, f.Provider) {
		return fmt.Errorf("--provider %q: want openai, anthropic or gemini", f.Provider)
	}
	return f.loadContext()
}
