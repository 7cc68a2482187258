// Package engine is the adapter behind scan.Engine and scan.Checker: it runs a scan
// job's target through the scanners (a catalog model or an outside endpoint through
// the behavioural probes, an embeddings endpoint through the re-identification
// analysis, an uploaded file through the model-file scanner) over the catalog, the
// llm providers and the SSRF guard, and it checks targets when a scan is created.
// Outside endpoints of the API's scans are reached only through the SSRF guard, on
// every connection and redirect. ScanEndpoints is the same run for what the user
// names on the command line (mirror scan --endpoint), without catalog or guard:
// cmd/mirror only parses flags and prints. (Files named on the command line are
// artifact.ScanPaths.)
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"mirror/internal/apperr"
	"mirror/internal/catalog"
	"mirror/internal/llm"
	"mirror/internal/scan"
	"mirror/internal/scan/artifact"
	"mirror/internal/scan/probe"
	"mirror/internal/ssrf"
)

// Store is the part of the scan store the engine reads: the uploaded file's path,
// and the probe packs a scan names.
type Store interface {
	Artifact(ctx context.Context, id string) (scan.Artifact, error)
	ProbePack(ctx context.Context, id string) (scan.ProbePack, error)
}

// Engine implements scan.Engine and scan.Checker.
type Engine struct {
	models    *catalog.Service
	providers *llm.Registry
	guard     *ssrf.Guard
	client    *http.Client
	store     Store
	log       *slog.Logger
}

var (
	_ scan.Engine     = (*Engine)(nil)
	_ scan.Checker    = (*Engine)(nil)
	_ scan.PackParser = (*Engine)(nil)
)

// New returns an Engine.
func New(models *catalog.Service, providers *llm.Registry, guard *ssrf.Guard, store Store, log *slog.Logger) *Engine {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{models: models, providers: providers, guard: guard, client: guard.Client(), store: store, log: log}
}

// scannable returns the catalog model id if it exists, is available and its
// provider can be called. A contained model can still be scanned (to check a fix).
func (e *Engine) scannable(ctx context.Context, id string) (catalog.Model, error) {
	m, err := e.models.Resolve(ctx, id, catalog.IncludeContained())
	return m, apperr.WithField(err, apperr.UnknownModel, apperr.FieldError{Field: "target.model_id", Message: "is not an available model"})
}

// CheckModel implements scan.Checker.
func (e *Engine) CheckModel(ctx context.Context, id string) error {
	_, err := e.scannable(ctx, id)
	return err
}

// CheckJudge implements scan.Checker: a judge must be servable now, so never a
// contained model.
func (e *Engine) CheckJudge(ctx context.Context, id string) error {
	if !e.models.Servable(ctx, id) {
		return apperr.Validation(apperr.FieldError{Field: "options.judge_model_id", Message: "must be a servable, uncontained catalog model"})
	}
	return nil
}

// CheckURL implements scan.Checker with the SSRF guard.
func (e *Engine) CheckURL(ctx context.Context, raw string) error {
	if _, err := e.guard.CheckURL(ctx, raw); err != nil {
		msg := err.Error()
		if errors.Is(err, ssrf.ErrBlocked) {
			msg = "resolves to a private, loopback or link-local address; scans may not reach it unless SCAN_TARGET_ALLOWLIST lists it"
		}
		return apperr.Validation(apperr.FieldError{Field: "target.url", Message: msg})
	}
	return nil
}

// Run implements scan.Engine.
func (e *Engine) Run(ctx context.Context, j scan.Job, apiKey string, progress scan.ProgressFunc) ([]scan.Finding, []scan.NotScanned, error) {
	t := j.Target
	if t.Kind == scan.TargetArtifact {
		art, err := e.store.Artifact(ctx, t.ArtifactID)
		if err != nil {
			return nil, nil, fmt.Errorf("artifact: %w", err)
		}
		return artifact.ScanFile(ctx, art.StoragePath, art.Filename, artifact.Options{Progress: progress, Logger: e.log})
	}
	target := probe.Target{Name: j.TargetKey}
	opts := probe.Options{MaxRequests: j.Options.MaxRequests, MaxTokens: j.Options.MaxTokens,
		Concurrency: j.Options.Concurrency, RatePerSecond: j.Options.RatePerSecond, Progress: progress, Logger: e.log,
		Deployment: probe.Deployment{SystemPrompt: j.Options.SystemPrompt, Purpose: j.Options.Purpose}, Secrets: []string{apiKey}}
	if j.Options.SystemPrompt != "" {
		opts.SystemPromptSource = "options"
	}
	if len(j.Options.ProbePackIDs) > 0 {
		packs, err := e.packs(ctx, j)
		if err != nil {
			return nil, nil, err
		}
		opts.Probes = probe.WithPacks(packs)
	}
	if j.Options.Seed != nil {
		opts.Seed = *j.Options.Seed
	}
	if id := j.Options.JudgeModelID; id != "" {
		m, err := e.models.Resolve(ctx, id) // refuses a contained judge
		if err != nil {
			return nil, nil, fmt.Errorf("judge: %w", err)
		}
		p, err := e.providers.Provider(m.Provider, m.BaseURL)
		if err != nil {
			return nil, nil, fmt.Errorf("judge: %w", err)
		}
		opts.Judge, opts.JudgeModel = p, m.Route.Model
	}
	opts.Strategies, opts.Samples, opts.Temperature = j.Options.Strategies, j.Options.Samples, j.Options.Temperature
	opts.ToolChoice = j.Options.ToolChoice
	if id := j.Options.AttackerModelID; id != "" {
		m, err := e.models.Resolve(ctx, id) // refuses a contained attacker
		if err != nil {
			return nil, nil, fmt.Errorf("attacker: %w", err)
		}
		p, err := e.providers.Provider(m.Provider, m.BaseURL)
		if err != nil {
			return nil, nil, fmt.Errorf("attacker: %w", err)
		}
		opts.Attacker, opts.AttackerModel = p, m.Route.Model
	}
	if t.Kind == scan.TargetCatalogModel {
		m, err := e.scannable(ctx, t.ModelID)
		if err != nil {
			return nil, nil, err
		}
		p, err := e.providers.Provider(m.Provider, m.BaseURL)
		if err != nil {
			return nil, nil, err
		}
		target.Provider, target.Model = p, m.Route.Model
		if opts.Deployment.SystemPrompt == "" && m.SystemPrompt != "" {
			// The catalog model is deployed with its own instructions: test those.
			opts.Deployment.SystemPrompt, opts.SystemPromptSource = m.SystemPrompt, "catalog"
		}
	} else if err := reach(&target, t, llm.Options{APIKey: apiKey, HTTPClient: e.client, Logger: e.log}); err != nil {
		return nil, nil, err
	}
	findings, err := probe.Run(ctx, target, j.Types, opts)
	return findings, nil, err
}
