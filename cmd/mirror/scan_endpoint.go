package main

import (
	"cmp"
	"context"
	"fmt"
	"strings"

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
	opts := probe.Options{Seed: f.Seed, Progress: f.Progress, MaxOutputTokens: f.MaxOutputTokens, Concurrency: f.Concurrency}
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
