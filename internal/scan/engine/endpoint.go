package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"mirror/internal/llm"
	"mirror/internal/scan"
	"mirror/internal/scan/probe"
)

// EndpointScan is a behavioural scan of live endpoints the user names themselves,
// as `mirror scan --endpoint` runs it. Unlike a scan.Job it reaches no catalog and
// passes no SSRF guard: the user chose the addresses, often on their own machine (a
// local Ollama or vLLM). Each target carries its own APIKey, which may be empty.
type EndpointScan struct {
	Chat       scan.Target // a scan.TargetEndpoint; the zero Target: none
	Embeddings scan.Target // a scan.TargetEmbeddings; the zero Target: none
	// Judge is an OpenAI-compatible endpoint (URL, Model, APIKey) that confirms or
	// dismisses each compliance and personal-data hit; the zero Target: the
	// detectors decide alone.
	Judge scan.Target
	// Attacker is an OpenAI-compatible endpoint for the strategies that need one.
	Attacker scan.Target
	// Types are the scan types to run; empty: every type the targets allow.
	Types []scan.Type
	// Options are the job's options; the ids in them (JudgeModelID,
	// AttackerModelID, ProbePackIDs) are not used: Judge, Attacker and Packs stand
	// for them.
	Options scan.JobOptions
	// Packs are probes run beside the built-in ones (probe.LoadPacks).
	Packs           []probe.Probe
	MaxOutputTokens int // each answer of the scanned model (0: the probes' default)
	Progress        scan.ProgressFunc
}

// Applicable returns the scan types the targets of s allow.
func (s EndpointScan) Applicable() []scan.Type {
	var out []scan.Type
	for _, t := range []scan.Target{s.Chat, s.Embeddings} {
		if t.Kind != "" {
			out = append(out, scan.ApplicableTypes(t.Kind)...)
		}
	}
	return out
}

// ScanEndpoints runs s and returns its report. A type the targets do not allow is
// an error, and so is a target the probes cannot reach (an unknown protocol).
func ScanEndpoints(ctx context.Context, s EndpointScan) (scan.Report, error) {
	allowed := s.Applicable()
	types := s.Types
	if len(types) == 0 {
		types = allowed
	}
	for _, t := range types {
		if !slices.Contains(allowed, t) {
			return scan.Report{}, fmt.Errorf("scan type %s does not apply to the targets given", t)
		}
	}
	var target probe.Target
	var names []string
	for _, t := range []scan.Target{s.Chat, s.Embeddings} {
		if t.Kind == "" {
			continue
		}
		if err := reach(&target, t, llm.Options{APIKey: t.APIKey}); err != nil {
			return scan.Report{}, err
		}
		names = append(names, t.URL+" ("+t.Model+")")
	}
	target.Name = strings.Join(names, " + ")
	o := s.Options
	opts := probe.Options{Progress: s.Progress, MaxOutputTokens: s.MaxOutputTokens, Concurrency: o.Concurrency, RatePerSecond: o.RatePerSecond,
		Strategies: o.Strategies, Samples: o.Samples, Temperature: o.Temperature, ToolChoice: o.ToolChoice, MaxRequests: o.MaxRequests, MaxTokens: o.MaxTokens,
		Deployment: probe.Deployment{SystemPrompt: o.SystemPrompt, Purpose: o.Purpose}}
	if len(s.Packs) > 0 {
		opts.Probes = probe.WithPacks(s.Packs)
	}
	if o.Seed != nil {
		opts.Seed = *o.Seed
	}
	if s.Attacker.URL != "" {
		opts.Attacker, opts.AttackerModel = openAICompatible(s.Attacker), s.Attacker.Model
	}
	if s.Judge.URL != "" {
		opts.Judge, opts.JudgeModel = openAICompatible(s.Judge), s.Judge.Model
	}
	findings, err := probe.Run(ctx, target, types, opts)
	if err != nil {
		return scan.Report{}, err
	}
	return scan.NewReport(target.Name, types, findings, nil), nil
}

// reach sets on pt the provider or embedder that reaches t, an endpoint or
// embeddings target, with o (its key, the HTTP client).
func reach(pt *probe.Target, t scan.Target, o llm.Options) error {
	switch t.Kind {
	case scan.TargetEndpoint:
		p, err := llm.ForEndpoint(t.Provider, t.URL, o)
		if err != nil {
			return err
		}
		pt.Provider, pt.Model = p, t.Model
	case scan.TargetEmbeddings:
		// The analysis retries through the scan's budget itself.
		o.Provider, o.BaseURL, o.MaxRetries = llm.OpenAICompatible, t.URL, -1
		pt.Embedder, pt.EmbeddingModel = llm.NewOpenAI(o), t.Model
	default:
		return fmt.Errorf("unknown target kind %q", t.Kind)
	}
	return nil
}

// openAICompatible reaches the chat model of t on the OpenAI protocol.
func openAICompatible(t scan.Target) llm.Provider {
	return llm.NewOpenAI(llm.Options{Provider: llm.OpenAICompatible, APIKey: t.APIKey, BaseURL: t.URL})
}
