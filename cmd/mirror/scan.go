package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"mirror/internal/scan"
	"mirror/internal/scan/engine"
)

const scanUsage = `usage: mirror scan [flags] PATH...
       mirror scan [flags] --endpoint URL --model NAME

Scans model files and folders (recursively) for code that runs on load and for
chat templates that smuggle instructions; or, with --endpoint, probes a live model
for jailbreaks, PII leakage, prompt artifacts, model inversion and
self-modification.

Reports: table (default, for people), json (docs/report-format.md), sarif (SARIF
2.1.0 for GitHub code scanning), html (one self-contained page), cyclonedx
(CycloneDX 1.6 ML-BOM). Progress goes to stderr when it is a terminal.

Exit codes: 0 nothing at or above --fail-on; 1 a finding at or above --fail-on
(default high); 2 something could not be scanned, or a usage or output error.

Flags:
`

// scanFormats are the values of --format.
var scanFormats = []string{"table", "json", "sarif", "html", "cyclonedx"}

// scanOptions holds the parsed command line.
type scanOptions struct {
	paths    []string
	format   string
	output   string
	failOn   scan.Severity
	noColor  bool
	quiet    bool
	endpoint endpointFlags
}

// runScanCommand implements `mirror scan`. It returns the exit code of API.md:
// 1 findings at or above --fail-on, else 2 if anything was not scanned or on a
// usage or output error, else 0.
func runScanCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	opts, err := parseScanArgs(args, getenv, stdout, stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	if err != nil {
		printScanError(stderr, err)
		return 2
	}
	stderrColor := colorWanted(stderr, opts.noColor, getenv)
	started := time.Now().UTC()
	var report scan.Report
	if opts.endpoint.Endpoint != "" || opts.endpoint.EmbeddingsEndpoint != "" {
		bar := newProgress(stderr, opts.quiet, stderrColor, "probes")
		opts.endpoint.Progress = bar.update
		report, err = scanEndpoint(ctx, opts.endpoint)
		bar.finish()
	} else {
		report, err = scanPaths(ctx, opts.paths, hashedFormats[opts.format], stderr, newProgress(stderr, opts.quiet, stderrColor, "files"))
	}
	if err != nil {
		fmt.Fprintf(stderr, "mirror scan: %v\n", err)
		return 2
	}
	report.Tool = scan.Tool{Name: "mirror", Version: version, InformationURI: informationURI}
	report.StartedAt, report.FinishedAt = started, time.Now().UTC()
	tableColor := opts.output == "" && colorWanted(stdout, opts.noColor, getenv)
	if err := writeReport(report, opts, stdout, tableColor); err != nil {
		fmt.Fprintf(stderr, "mirror scan: %v\n", err)
		return 2
	}
	code := report.ExitCode(opts.failOn)
	if opts.output != "" || opts.format != "table" {
		s := report.Summary
		line := fmt.Sprintf("%d critical, %d high, %d medium, %d low, %d info; %d not scanned",
			s.Critical, s.High, s.Medium, s.Low, s.Info, len(report.NotScanned))
		if len(report.Files) > 0 {
			line += fmt.Sprintf("; %d files scanned, %d skipped", len(report.Scanned), len(report.Files)-len(report.Scanned))
		}
		if opts.output != "" {
			line += "; report written to " + opts.output
		}
		fmt.Fprintf(stderr, "mirror scan: %s\n", line)
	}
	return code
}

// parseScanArgs parses flags given before, between or after the paths. Flags are
// GNU style (--format sarif, --format=sarif, -o FILE); -h and --help print the usage
// on stdout and return pflag.ErrHelp.
func parseScanArgs(args []string, getenv func(string) string, stdout, stderr io.Writer) (scanOptions, error) {
	fs := pflag.NewFlagSet("mirror scan", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	var o scanOptions
	var failOn string
	var types []string
	var seed int64
	fs.StringVarP(&o.format, "format", "f", "table", "report `FORMAT`: "+strings.Join(scanFormats, ", "))
	fs.StringVarP(&o.output, "output", "o", "", "write the report to `FILE` instead of standard output")
	fs.StringVar(&failOn, "fail-on", "high", "lowest `SEVERITY` that makes the exit code 1: critical, high, medium, low or info")
	fs.BoolVar(&o.noColor, "no-color", false, "never colour the output (also: NO_COLOR set to anything)")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "no progress display on stderr")
	fs.StringVar(&o.endpoint.Endpoint, "endpoint", "", "scan the live model at `URL` instead of files")
	fs.StringVar(&o.endpoint.Model, "model", "", "model `NAME` at the endpoint")
	fs.StringVar(&o.endpoint.Provider, "provider", "openai", "endpoint wire `PROTOCOL`: openai, anthropic or gemini")
	fs.StringVar(&o.endpoint.APIKeyEnv, "api-key-env", "", "environment `VAR` holding the endpoint's API key (default OPENAI_API_KEY)")
	fs.StringVar(&o.endpoint.EmbeddingsEndpoint, "embeddings-endpoint", "", "embeddings API at `URL` for re-identification scans")
	fs.StringVar(&o.endpoint.EmbeddingModel, "embedding-model", "", "embedding model `NAME`")
	fs.StringSliceVar(&types, "types", nil, "comma-separated scan `TYPES` to run against an endpoint")
	fs.Int64Var(&seed, "seed", 0, "seed `N` for reproducible probe selection")
	fs.StringVar(&o.endpoint.JudgeEndpoint, "judge-endpoint", "", "OpenAI-compatible API at `URL` of a judge model that confirms or dismisses each compliance and personal-data finding")
	fs.StringVar(&o.endpoint.JudgeModel, "judge-model", "", "judge model `NAME`")
	fs.StringVar(&o.endpoint.JudgeAPIKeyEnv, "judge-api-key-env", "", "environment `VAR` holding the judge's API key (default: the endpoint's)")
	fs.IntVar(&o.endpoint.MaxOutputTokens, "max-output-tokens", 0, "bound each answer of the scanned model to `N` tokens (default 400)")
	fs.IntVar(&o.endpoint.Concurrency, "concurrency", 0, "run `N` probes at once (default 4)")
	fs.StringSliceVar(&o.endpoint.Strategies, "strategies", nil, "comma-separated `NAMES` of strategies that also run every probe transformed: "+strings.Join(scan.StrategyNames, ", ")+" (the last three need --attacker-endpoint)")
	fs.IntVar(&o.endpoint.Samples, "samples", 0, "try each probe and strategy `N` times (default 1, at most 20); findings report attack success rates")
	fs.Float64Var(&o.endpoint.Temperature, "temperature", 0, "sampling temperature `T` of the scanned model's answers (0 to 2)")
	fs.StringVar(&o.endpoint.ToolChoice, "tool-choice", "", "`auto` (default) or required: required makes the target call a tool on the planting turn of each tool self-modification probe (later turns stay auto)")
	fs.StringVar(&o.endpoint.AttackerEndpoint, "attacker-endpoint", "", "OpenAI-compatible API at `URL` of an attacker model for the paraphrase, translation and crescendo strategies")
	fs.StringVar(&o.endpoint.AttackerModel, "attacker-model", "", "attacker model `NAME`")
	fs.StringVar(&o.endpoint.AttackerAPIKeyEnv, "attacker-api-key-env", "", "environment `VAR` holding the attacker's API key (default: the endpoint's)")
	fs.IntVar(&o.endpoint.MaxRequests, "max-requests", 0, "send at most `N` requests to the scanned model (default: no bound)")
	fs.IntVar(&o.endpoint.MaxTokens, "max-tokens", 0, "spend at most `N` tokens, input and output, of the scanned and attacker models (default: no bound)")
	fs.StringVar(&o.endpoint.SystemPrompt, "system-prompt", "", "run the probes under the target's own system prompt: `TEXT`, or @FILE to read it from a file (default: the scanner's own invented policies)")
	fs.StringVar(&o.endpoint.Purpose, "purpose", "", "what the target is for, as a phrase (\"questions about orders and returns\"): goal-hijack probes try to make it leave this `PURPOSE`, and the judge is told it")
	fs.StringVar(&o.endpoint.ProbesPath, "probes", "", "also run the probe packs at `PATH` (a .yaml, .yml or .json file, or a folder of them; docs/probe-packs.md)")
	fs.BoolP("help", "h", false, "show this help")
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprint(stdout, scanUsage+fs.FlagUsages())
		} else {
			err = fmt.Errorf("%w (see mirror scan --help)", err)
		}
		return o, err
	}
	if h, _ := fs.GetBool("help"); h {
		fmt.Fprint(stdout, scanUsage+fs.FlagUsages())
		return o, pflag.ErrHelp
	}
	o.paths = fs.Args()
	o.endpoint.SeedSet = fs.Changed("seed")
	o.endpoint.Seed = seed
	o.endpoint.Getenv = getenv
	if !slices.Contains(scanFormats, o.format) {
		return o, fmt.Errorf("--format %q: want %s", o.format, strings.Join(scanFormats, ", "))
	}
	sev, err := scan.ParseSeverity(failOn)
	if err != nil {
		return o, fmt.Errorf("--fail-on: %w", err)
	}
	o.failOn = sev
	for _, t := range types {
		st, err := scan.ParseType(strings.TrimSpace(t))
		if err != nil {
			return o, fmt.Errorf("--types: %w", err)
		}
		o.endpoint.Types = append(o.endpoint.Types, st)
	}
	endpointMode := o.endpoint.Endpoint != "" || o.endpoint.EmbeddingsEndpoint != ""
	switch {
	case endpointMode && len(o.paths) > 0:
		return o, errors.New("give either PATHs or --endpoint, not both")
	case endpointMode:
		if o.endpoint.Endpoint != "" && o.endpoint.Model == "" {
			return o, errors.New("--endpoint needs --model")
		}
		if o.endpoint.EmbeddingsEndpoint != "" && o.endpoint.EmbeddingModel == "" {
			return o, errors.New("--embeddings-endpoint needs --embedding-model")
		}
		if (o.endpoint.JudgeEndpoint == "") != (o.endpoint.JudgeModel == "") {
			return o, errors.New("--judge-endpoint and --judge-model go together")
		}
		if o.endpoint.JudgeEndpoint != "" && o.endpoint.Endpoint == "" {
			return o, errors.New("--judge-endpoint judges chat scans: it needs --endpoint")
		}
		if o.endpoint.MaxOutputTokens < 0 || o.endpoint.Concurrency < 0 || o.endpoint.MaxRequests < 0 || o.endpoint.MaxTokens < 0 {
			return o, errors.New("--max-output-tokens, --concurrency, --max-requests and --max-tokens must not be negative")
		}
		if err := o.endpoint.checkStrategies(); err != nil {
			return o, err
		}
		if !slices.Contains([]string{"openai", "anthropic", "gemini"}, o.endpoint.Provider) {
			return o, fmt.Errorf("--provider %q: want openai, anthropic or gemini", o.endpoint.Provider)
		}
		if err := o.endpoint.loadContext(); err != nil {
			return o, err
		}
	case len(o.paths) == 0:
		return o, errors.New("no PATH given (see mirror scan --help)")
	case len(types) > 0 || o.endpoint.SeedSet || o.endpoint.Model != "" || o.endpoint.APIKeyEnv != "" || o.endpoint.JudgeEndpoint != "" ||
		o.endpoint.JudgeModel != "" || o.endpoint.MaxOutputTokens != 0 || o.endpoint.Concurrency != 0 || o.endpoint.sampling() ||
		o.endpoint.SystemPrompt != "" || o.endpoint.Purpose != "" || o.endpoint.ProbesPath != "":
		return o, errors.New("--model, --api-key-env, --types, --seed, --judge-*, --max-output-tokens, --concurrency, --strategies, --samples, --temperature, --tool-choice, --attacker-*, --max-requests, --max-tokens, --system-prompt, --purpose and --probes apply to --endpoint scans only")
	}
	return o, nil
}

// hashedFormats are the report formats that show each file's SHA-256. The hash
// reads every byte of every file, where the scan itself skips tensor data (a
// few KiB of a multi-GB checkpoint), so the table and SARIF reports, which do not
// show it, are made without it.
var hashedFormats = map[string]bool{"json": true, "html": true, "cyclonedx": true}

// scanPaths runs engine.ScanPaths with the terminal's progress bar and warnings
// logged to stderr.
func scanPaths(ctx context.Context, paths []string, hash bool, stderr io.Writer, bar *progress) (scan.Report, error) {
	defer bar.finish()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return engine.ScanPaths(ctx, engine.PathScan{Paths: paths, Hash: hash, Logger: log, Progress: bar.update, NextPath: bar.next})
}

// writeReport writes the report in the chosen format to --output or stdout.
func writeReport(r scan.Report, o scanOptions, stdout io.Writer, color bool) (err error) {
	w := stdout
	if o.output != "" {
		f, err := os.Create(o.output)
		if err != nil {
			return fmt.Errorf("create report: %w", err)
		}
		defer func() {
			if cerr := f.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("write report: %w", cerr)
			}
		}()
		w = f
	}
	switch o.format {
	case "json":
		return r.WriteJSON(w)
	case "sarif":
		return r.WriteSARIF(w)
	case "html":
		return r.WriteHTML(w)
	case "cyclonedx":
		return r.WriteCycloneDX(w)
	}
	return r.WriteTable(w, scan.TableOptions{Color: color})
}
