package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/spf13/pflag"

	"mirror/internal/scan"
	"mirror/internal/scan/engine"
	"mirror/internal/scan/probe"
)

// endpointFlags are the flags of `mirror scan --endpoint URL --model NAME`: a
// behavioural scan of a live model (issue 6), the scancli.Extension of
// runScanCommand.
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
	ToolChoice         string      // --tool-choice: auto or required on tool probes' planting turns
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
	// typeNames are --types as given; fs is the flag set, for --seed's presence.
	typeNames []string
	fs        *pflag.FlagSet
	// Getenv reads APIKeyEnv; it is the process environment in main.
	Getenv func(string) string
	// Progress, when set, receives probes done of probes total.
	Progress scan.ProgressFunc
}

// scanEndpoint runs the behavioural scan the flags describe (engine.ScanEndpoints)
// and returns its report. The keys are read from the variables the flags name
// (default OPENAI_API_KEY) and may be empty, as for a local Ollama or vLLM.
func scanEndpoint(ctx context.Context, f endpointFlags) (scan.Report, error) {
	key := f.Getenv(cmp.Or(f.APIKeyEnv, "OPENAI_API_KEY"))
	s := engine.EndpointScan{Types: f.Types, MaxOutputTokens: f.MaxOutputTokens, Progress: f.Progress, Packs: f.packs,
		Options: scan.JobOptions{Seed: &f.Seed, Concurrency: f.Concurrency, Strategies: f.Strategies, Samples: f.Samples,
			Temperature: f.Temperature, ToolChoice: f.ToolChoice, MaxRequests: f.MaxRequests, MaxTokens: f.MaxTokens, SystemPrompt: f.SystemPrompt, Purpose: f.Purpose}}
	if f.Endpoint != "" {
		s.Chat = scan.Target{Kind: scan.TargetEndpoint, URL: f.Endpoint, Model: f.Model, Provider: f.Provider, APIKey: key}
	}
	if f.EmbeddingsEndpoint != "" {
		s.Embeddings = scan.Target{Kind: scan.TargetEmbeddings, URL: f.EmbeddingsEndpoint, Model: f.EmbeddingModel, APIKey: key}
	}
	if f.AttackerEndpoint != "" {
		s.Attacker = scan.Target{Kind: scan.TargetEndpoint, URL: f.AttackerEndpoint, Model: f.AttackerModel,
			APIKey: f.Getenv(cmp.Or(f.AttackerAPIKeyEnv, f.APIKeyEnv, "OPENAI_API_KEY"))}
	}
	if f.JudgeEndpoint != "" {
		s.Judge = scan.Target{Kind: scan.TargetEndpoint, URL: f.JudgeEndpoint, Model: f.JudgeModel,
			APIKey: f.Getenv(cmp.Or(f.JudgeAPIKeyEnv, f.APIKeyEnv, "OPENAI_API_KEY"))}
	}
	for _, t := range f.Types {
		if !slices.Contains(s.Applicable(), t) {
			return scan.Report{}, fmt.Errorf("scan type %s does not apply here (it needs %s)", t, needs(t))
		}
	}
	return engine.ScanEndpoints(ctx, s)
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
		if pe := (*probe.PackError)(nil); errors.As(err, &pe) {
			return packIssues{pe}
		}
		if err != nil {
			return err
		}
		f.packs = ps
	}
	return nil
}

// packIssues is a probe pack's *probe.PackError for the command line: its issues
// one per line, each naming the file, the probe and the field.
type packIssues struct{ *probe.PackError }

func (e packIssues) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "--probes: %d problem(s) in the probe packs:", len(e.Issues))
	for _, is := range e.Issues {
		fmt.Fprintf(&b, "\n  %s", is)
	}
	return b.String()
}

func (e packIssues) Unwrap() error { return e.PackError }

// needs names the flag that makes scan type t apply.
func needs(t scan.Type) string {
	if t == scan.EmbeddingReidentification {
		return "--embeddings-endpoint"
	}
	return "--endpoint"
}

// sampling reports whether any strategy, sampling, attacker or budget flag is set.
func (f endpointFlags) sampling() bool {
	return len(f.Strategies) > 0 || f.Samples != 0 || f.Temperature != 0 || f.ToolChoice != "" || f.AttackerEndpoint != "" || f.AttackerModel != "" ||
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
	case f.ToolChoice != "" && !slices.Contains(scan.ToolChoices, f.ToolChoice):
		return fmt.Errorf("--tool-choice: want %s", strings.Join(scan.ToolChoices, " or "))
	case f.Temperature < 0 || f.Temperature > scan.MaxTemperature:
		return fmt.Errorf("--temperature: want 0 to %g", scan.MaxTemperature)
	}
	return nil
}
