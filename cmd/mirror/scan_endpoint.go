package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"mirror/internal/llm"
	"mirror/internal/scan"
	"mirror/internal/scan/probe"
)

// endpointFlags are the flags of `mirror scan --endpoint URL --model NAME`: a
// behavioural scan of a live model (issue 6), parsed by runScanCommand.
type endpointFlags struct {
	Endpoint           string      // --endpoint: base URL of the model's API
	Model              string      // --model: model name sent to the endpoint
	Provider           string      // --provider: openai, anthropic or gemini wire protocol
	APIKeyEnv          string      // --api-key-env: variable holding the API key (never the key itself)
	EmbeddingsEndpoint string      // --embeddings-endpoint: base URL of an embeddings API
	EmbeddingModel     string      // --embedding-model
	Types              []scan.Type // --types: scan types to run; empty means all that apply
	Seed               int64       // --seed: makes probe selection reproducible
	SeedSet            bool        // whether --seed was given
	JudgeEndpoint      string      // --judge-endpoint: OpenAI-compatible API of the judge model
	JudgeModel         string      // --judge-model
	JudgeAPIKeyEnv     string      // --judge-api-key-env (default: the endpoint's variable)
	MaxOutputTokens    int         // --max-output-tokens: bound on each answer (0: probe default)
	Concurrency        int         // --concurrency: probes at once (0: probe default)
	Strategies         []string    // --strategies: scan.StrategyNames
	Samples            int         // --samples: attempts per probe and strategy (0: one)
	Temperature        float64     // --temperature of the scanned model's answers
	AttackerEndpoint   string      // --attacker-endpoint: OpenAI-compatible API of the attacker model
	AttackerModel      string      // --attacker-model
	AttackerAPIKeyEnv  string      // --attacker-api-key-env (default: the endpoint's variable)
	MaxRequests        int         // --max-requests: bound on requests to the scanned model (0: none)
	MaxTokens          int         // --max-tokens: bound on tokens (0: none)
	SystemPrompt       string      // --system-prompt: the target's own system prompt (TEXT or @FILE)
	Purpose            string      // --purpose: what the target is for
	ProbesPath         string      // --probes: probe packs to run beside the built-in probes
	// packs are the probes of ProbesPath, loaded by loadContext.
	packs []probe.Probe
	// Getenv reads APIKeyEnv; it is the process environment in main.
	Getenv func(string) string
	// Progress, when set, receives probes done of probes total.
	Progress scan.ProgressFunc
}

// chatTypes are the scan types that need a chat endpoint (API.md: endpoint targets).
var chatTypes = []scan.Type{scan.Jailbreak, scan.PIILeakage, scan.PromptArtifacts, scan.ModelInversion, scan.SelfModification}

// applicable returns the types that the given endpoints allow.
func (f endpointFlags) applicable() []scan.Type {
	var out []scan.Type
	if f.Endpoint != "" {
		out = append(out, chatTypes...)
	}
	if f.EmbeddingsEndpoint != "" {
		out = append(out, scan.EmbeddingReidentification)
	}
	return out
}

// scanEndpoint runs a behavioural scan of a live endpoint and returns its report.
// The endpoint is the user's own choice, so no SSRF guard applies here (the API's
// scans have one); the key is read from --api-key-env (default OPENAI_API_KEY) and
// may be empty, as for a local Ollama or vLLM.
func scanEndpoint(ctx context.Context, f endpointFlags) (scan.Report, error) {
	allowed := f.applicable()
	types := f.Types
	if len(types) == 0 {
		types = allowed
	}
	for _, t := range types {
		if !containsType(allowed, t) {
			return scan.Report{}, fmt.Errorf("scan type %s does not apply here (it needs %s)", t, needs(t))
		}
	}
	key := f.Getenv(cmp.Or(f.APIKeyEnv, "OPENAI_API_KEY"))
	target := probe.Target{Model: f.Model, EmbeddingModel: f.EmbeddingModel}
	var names []string
	if f.Endpoint != "" {
		p, err := llm.ForEndpoint(f.Provider, f.Endpoint, llm.Options{APIKey: key})
		if err != nil {
			return scan.Report{}, err
		}
		target.Provider = p
		names = append(names, f.Endpoint+" ("+f.Model+")")
	}
	if f.EmbeddingsEndpoint != "" {
		// The analysis retries through the scan's budget itself.
		target.Embedder = llm.NewOpenAI(llm.Options{Provider: llm.OpenAICompatible, APIKey: key, BaseURL: f.EmbeddingsEndpoint, MaxRetries: -1})
		names = append(names, f.EmbeddingsEndpoint+" ("+f.EmbeddingModel+")")
	}
	target.Name = strings.Join(names, " + ")
	opts := probe.Options{Seed: f.Seed, Progress: f.Progress, MaxOutputTokens: f.MaxOutputTokens, Concurrency: f.Concurrency,
		Strategies: f.Strategies, Samples: f.Samples, Temperature: f.Temperature, MaxRequests: f.MaxRequests, MaxTokens: f.MaxTokens,
		Deployment: probe.Deployment{SystemPrompt: f.SystemPrompt, Purpose: f.Purpose}}
	if f.AttackerEndpoint != "" {
		attackerKey := f.Getenv(cmp.Or(f.AttackerAPIKeyEnv, f.APIKeyEnv, "OPENAI_API_KEY"))
		opts.Attacker = llm.NewOpenAI(llm.Options{Provider: llm.OpenAICompatible, APIKey: attackerKey, BaseURL: f.AttackerEndpoint})
		opts.AttackerModel = f.AttackerModel
	}
	if len(f.packs) > 0 {
		opts.Probes = probe.WithPacks(f.packs)
	}
	if f.JudgeEndpoint != "" {
		// Without a judge the built-in detectors decide alone; with one, each
		// compliance and personal-data hit is confirmed or dismissed, with the
		// judge's rationale in the finding's evidence.
		judgeKey := f.Getenv(cmp.Or(f.JudgeAPIKeyEnv, f.APIKeyEnv, "OPENAI_API_KEY"))
		opts.Judge = llm.NewOpenAI(llm.Options{Provider: llm.OpenAICompatible, APIKey: judgeKey, BaseURL: f.JudgeEndpoint})
		opts.JudgeModel = f.JudgeModel
	}
	findings, err := probe.Run(ctx, target, types, opts)
	if err != nil {
		return scan.Report{}, err
	}
	return scan.NewReport(target.Name, types, findings, nil), nil
}

// Bounds on --system-prompt and --purpose, the same as the API's options.
const (
	maxSystemPromptBytes = scan.MaxSystemPromptBytes
	maxPurposeBytes      = scan.MaxPurposeBytes
)

// loadContext reads --system-prompt @FILE and the packs of --probes, and checks
// the sizes. A pack's problems come back as a *probe.PackError.
func (f *endpointFlags) loadContext() error {
	if name, ok := strings.CutPrefix(f.SystemPrompt, "@"); ok {
		fi, err := os.Stat(name)
		if err != nil {
			return fmt.Errorf("--system-prompt: %w", err)
		}
		if fi.Size() > maxSystemPromptBytes {
			return fmt.Errorf("--system-prompt: %s is %d bytes, at most %d", name, fi.Size(), maxSystemPromptBytes)
		}
		b, err := os.ReadFile(name)
		if err != nil {
			return fmt.Errorf("--system-prompt: %w", err)
		}
		f.SystemPrompt = string(b)
	}
	switch {
	case len(f.SystemPrompt) > maxSystemPromptBytes || !utf8.ValidString(f.SystemPrompt):
		return fmt.Errorf("--system-prompt: must be at most %d bytes of UTF-8 text", maxSystemPromptBytes)
	case len(f.Purpose) > maxPurposeBytes || !utf8.ValidString(f.Purpose):
		return fmt.Errorf("--purpose: must be at most %d bytes of UTF-8 text", maxPurposeBytes)
	case f.Endpoint == "" && (f.SystemPrompt != "" || f.Purpose != "" || f.ProbesPath != ""):
		return errors.New("--system-prompt, --purpose and --probes need --endpoint (a chat model)")
	}
	if f.ProbesPath != "" {
		ps, err := probe.LoadPacks(f.ProbesPath)
		if err != nil {
			return err
		}
		f.packs = ps
	}
	return nil
}

// printScanError writes err for the command line: a probe pack's issues one per
// line, each naming the file, the probe and the field.
func printScanError(w io.Writer, err error) {
	var pe *probe.PackError
	if errors.As(err, &pe) {
		fmt.Fprintf(w, "mirror scan: --probes: %d problem(s) in the probe packs:\n", len(pe.Issues))
		for _, is := range pe.Issues {
			fmt.Fprintf(w, "  %s\n", is)
		}
		return
	}
	fmt.Fprintf(w, "mirror scan: %v\n", err)
}

func containsType(ts []scan.Type, t scan.Type) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

func needs(t scan.Type) string {
	if t == scan.EmbeddingReidentification {
		return "--embeddings-endpoint"
	}
	return "--endpoint"
}

// sampling reports whether any strategy, sampling, attacker or budget flag is set.
func (f endpointFlags) sampling() bool {
	return len(f.Strategies) > 0 || f.Samples != 0 || f.Temperature != 0 || f.AttackerEndpoint != "" || f.AttackerModel != "" ||
		f.AttackerAPIKeyEnv != "" || f.MaxRequests != 0 || f.MaxTokens != 0
}

// checkStrategies validates --strategies, --samples, --temperature and the attacker
// flags, naming the flag at fault.
func (f *endpointFlags) checkStrategies() error {
	for i, s := range f.Strategies {
		s = strings.TrimSpace(s)
		f.Strategies[i] = s
		switch {
		case !scan.KnownStrategy(s):
			return fmt.Errorf("--strategies: unknown strategy %q (want %s)", s, strings.Join(scan.StrategyNames, ", "))
		case slices.Contains(f.Strategies[:i], s):
			return fmt.Errorf("--strategies: %s named twice", s)
		case scan.NeedsAttacker(s) && f.AttackerEndpoint == "":
			return fmt.Errorf("--strategies: %s needs --attacker-endpoint and --attacker-model", s)
		}
	}
	switch {
	case (f.AttackerEndpoint == "") != (f.AttackerModel == ""):
		return errors.New("--attacker-endpoint and --attacker-model go together")
	case f.AttackerEndpoint != "" && f.Endpoint == "":
		return errors.New("--attacker-endpoint attacks chat models: it needs --endpoint")
	case f.Samples < 0 || f.Samples > scan.MaxSamples:
		return fmt.Errorf("--samples: want 1 to %d", scan.MaxSamples)
	case f.Temperature < 0 || f.Temperature > scan.MaxTemperature:
		return fmt.Errorf("--temperature: want 0 to %g", scan.MaxTemperature)
	}
	return nil
}
