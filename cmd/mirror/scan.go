package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"mirror/internal/scan"
	"mirror/internal/scan/artifact"
)

const scanUsage = `usage: mirror scan PATH... [--format table|json|sarif] [--output FILE] [--fail-on SEVERITY]
       mirror scan --endpoint URL --model NAME [--provider openai|anthropic|gemini] [--api-key-env VAR]
                   [--embeddings-endpoint URL --embedding-model NAME] [--types a,b] [--seed N]
                   [--judge-endpoint URL --judge-model NAME [--judge-api-key-env VAR]]
                   [--max-output-tokens N] [--concurrency N]

Scans model files and directories (recursively) for code that runs on load and
for chat templates that smuggle instructions. Exit codes: 0 nothing at or above
--fail-on (default high); 1 findings at or above it; 2 usage error, or something
could not be scanned.

flags:
`

// scanTypesArtifact are the scan types a model-file scan performs (API.md).
var scanTypesArtifact = []scan.Type{scan.SelfModification, scan.PromptArtifacts}

// scanOptions holds the parsed command line.
type scanOptions struct {
	paths    []string
	format   string
	output   string
	failOn   scan.Severity
	endpoint endpointFlags
}

// runScanCommand implements `mirror scan`. It returns the exit code of API.md:
// 1 findings at or above --fail-on, else 2 if anything was not scanned or on a
// usage or output error, else 0.
func runScanCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	opts, err := parseScanArgs(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "mirror scan: %v\n", err)
		return 2
	}
	var report scan.Report
	if opts.endpoint.Endpoint != "" || opts.endpoint.EmbeddingsEndpoint != "" {
		report, err = scanEndpoint(ctx, opts.endpoint)
		if err != nil {
			fmt.Fprintf(stderr, "mirror scan: %v\n", err)
			return 2
		}
	} else {
		report, err = scanPaths(ctx, opts.paths, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "mirror scan: %v\n", err)
			return 2
		}
	}
	if err := writeReport(report, opts, stdout); err != nil {
		fmt.Fprintf(stderr, "mirror scan: %v\n", err)
		return 2
	}
	code := report.ExitCode(opts.failOn)
	if opts.output != "" || opts.format != "table" {
		s := report.Summary
		fmt.Fprintf(stderr, "mirror scan: %d critical, %d high, %d medium, %d low, %d info; %d not scanned\n",
			s.Critical, s.High, s.Medium, s.Low, s.Info, len(report.NotScanned))
	}
	return code
}

// parseScanArgs parses flags given before, between or after the paths.
func parseScanArgs(args []string, getenv func(string) string, stderr io.Writer) (scanOptions, error) {
	fs := flag.NewFlagSet("mirror scan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, scanUsage)
		fs.PrintDefaults()
	}
	var o scanOptions
	var failOn, types string
	var seed int64
	fs.StringVar(&o.format, "format", "table", "report format: table, json or sarif")
	fs.StringVar(&o.output, "output", "", "write the report to `FILE` instead of standard output")
	fs.StringVar(&failOn, "fail-on", "high", "lowest `SEVERITY` that makes the exit code 1: critical, high, medium, low or info")
	fs.StringVar(&o.endpoint.Endpoint, "endpoint", "", "scan the live model at `URL` instead of files")
	fs.StringVar(&o.endpoint.Model, "model", "", "model `NAME` at the endpoint")
	fs.StringVar(&o.endpoint.Provider, "provider", "openai", "endpoint wire protocol: openai, anthropic or gemini")
	fs.StringVar(&o.endpoint.APIKeyEnv, "api-key-env", "", "environment `VAR` holding the endpoint's API key")
	fs.StringVar(&o.endpoint.EmbeddingsEndpoint, "embeddings-endpoint", "", "embeddings API at `URL` for re-identification scans")
	fs.StringVar(&o.endpoint.EmbeddingModel, "embedding-model", "", "embedding model `NAME`")
	fs.StringVar(&types, "types", "", "comma-separated scan types to run against an endpoint")
	fs.Int64Var(&seed, "seed", 0, "seed `N` for reproducible probe selection")
	fs.StringVar(&o.endpoint.JudgeEndpoint, "judge-endpoint", "", "OpenAI-compatible API at `URL` of a judge model that confirms or dismisses each compliance and personal-data finding")
	fs.StringVar(&o.endpoint.JudgeModel, "judge-model", "", "judge model `NAME`")
	fs.StringVar(&o.endpoint.JudgeAPIKeyEnv, "judge-api-key-env", "", "environment `VAR` holding the judge's API key (default: the endpoint's)")
	fs.IntVar(&o.endpoint.MaxOutputTokens, "max-output-tokens", 0, "bound each answer of the scanned model to `N` tokens (default 400)")
	fs.IntVar(&o.endpoint.Concurrency, "concurrency", 0, "run `N` probes at once (default 4)")
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return o, err
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		o.paths = append(o.paths, rest[0])
		rest = rest[1:]
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "seed" {
			o.endpoint.SeedSet = true
		}
	})
	o.endpoint.Seed = seed
	o.endpoint.Getenv = getenv
	if !slices.Contains([]string{"table", "json", "sarif"}, o.format) {
		return o, fmt.Errorf("--format %q: want table, json or sarif", o.format)
	}
	sev, err := scan.ParseSeverity(failOn)
	if err != nil {
		return o, fmt.Errorf("--fail-on: %w", err)
	}
	o.failOn = sev
	if types != "" {
		for t := range strings.SplitSeq(types, ",") {
			st, err := scan.ParseType(strings.TrimSpace(t))
			if err != nil {
				return o, fmt.Errorf("--types: %w", err)
			}
			o.endpoint.Types = append(o.endpoint.Types, st)
		}
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
		if o.endpoint.MaxOutputTokens < 0 || o.endpoint.Concurrency < 0 {
			return o, errors.New("--max-output-tokens and --concurrency must not be negative")
		}
		if !slices.Contains([]string{"openai", "anthropic", "gemini"}, o.endpoint.Provider) {
			return o, fmt.Errorf("--provider %q: want openai, anthropic or gemini", o.endpoint.Provider)
		}
	case len(o.paths) == 0:
		fs.Usage()
		return o, errors.New("no PATH given")
	case types != "" || o.endpoint.SeedSet || o.endpoint.Model != "" || o.endpoint.APIKeyEnv != "" || o.endpoint.JudgeEndpoint != "" ||
		o.endpoint.JudgeModel != "" || o.endpoint.MaxOutputTokens != 0 || o.endpoint.Concurrency != 0:
		return o, errors.New("--model, --api-key-env, --types, --seed, --judge-*, --max-output-tokens and --concurrency apply to --endpoint scans only")
	}
	return o, nil
}

// scanPaths scans each path; a path that cannot be read is reported as not
// scanned so the report stays complete and the exit code says so.
func scanPaths(ctx context.Context, paths []string, stderr io.Writer) (scan.Report, error) {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var findings []scan.Finding
	var notScanned []scan.NotScanned
	for _, p := range paths {
		f, ns, err := artifact.Scan(ctx, p, artifact.Options{Logger: log})
		if err != nil {
			if ctx.Err() != nil {
				return scan.Report{}, fmt.Errorf("interrupted: %w", ctx.Err())
			}
			notScanned = append(notScanned, scan.NotScanned{Path: p, Reason: err.Error()})
			continue
		}
		findings = append(findings, f...)
		notScanned = append(notScanned, ns...)
	}
	return scan.NewReport(strings.Join(paths, " "), scanTypesArtifact, findings, notScanned), nil
}

// writeReport writes the report in the chosen format to --output or stdout.
func writeReport(r scan.Report, o scanOptions, stdout io.Writer) (err error) {
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
		return r.WriteSARIF(w, version)
	}
	return r.WriteTable(w)
}
