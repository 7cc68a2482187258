package catalog

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"mirror/internal/apperr"
	"mirror/internal/llm"
)

// Credentials tells whether a provider can be called at a model's own base URL ("" for
// the provider's configured or default one): an openai_compatible model that names
// its server needs no key and no OPENAI_COMPATIBLE_BASE_URL (llm.Registry satisfies
// it).
type Credentials interface {
	ConfiguredAt(provider, baseURL string) bool
}

// Containment lists the catalog models MirrorScan has contained. Containment lives in
// the database, so every instance sees it.
type Containment interface {
	ContainedModels(ctx context.Context) ([]string, error)
}

// Service answers which models can be served now.
//
// Contained models are read through a cache refreshed at most every RefreshEvery
// (default one second), so a containment made on any instance takes effect on every
// instance within that time, without a database query on each request. Invalidate
// makes a containment made here take effect at once.
type Service struct {
	cat          *Catalog
	creds        Credentials
	containment  Containment
	allowDemo    bool
	RefreshEvery time.Duration
	now          func() time.Time

	mu        sync.Mutex
	defaultID string
	contained map[string]bool
	loadedAt  time.Time
}

// Options configures a Service.
type Options struct {
	// AllowDemo serves the offline demo provider (local and test, never prod).
	AllowDemo bool
}

// NewService returns a Service over cat.
func NewService(cat *Catalog, creds Credentials, containment Containment, opts Options) *Service {
	return &Service{cat: cat, creds: creds, containment: containment, allowDemo: opts.AllowDemo,
		RefreshEvery: time.Second, now: time.Now, defaultID: cat.DefaultID}
}

// DemoAllowed reports whether the offline demo provider is served (local and test).
func (s *Service) DemoAllowed() bool { return s.allowDemo }

// Catalog returns the parsed catalog.
func (s *Service) Catalog() *Catalog { return s.cat }

// configured reports whether m could be called, ignoring containment.
func (s *Service) configured(m Model) bool {
	if !m.Available {
		return false
	}
	if m.Provider == llm.Demo {
		return s.allowDemo
	}
	return s.creds.ConfiguredAt(m.Provider, m.BaseURL)
}

// ChooseDefault settles the default model at start-up. If the configured default
// cannot be served (its provider has no credentials), strict (production) returns an
// error; otherwise the first servable model becomes the default and the reason is logged.
func (s *Service) ChooseDefault(ctx context.Context, strict bool, log *slog.Logger) error {
	def, _ := s.cat.Get(s.cat.DefaultID)
	if s.configured(def) {
		return nil
	}
	if strict {
		return fmt.Errorf("default model %q cannot be served: provider %q has no credentials (set its API key, or change models.default.default_model)", def.ID, def.Provider)
	}
	for _, m := range s.cat.Models {
		if s.configured(m) {
			s.mu.Lock()
			s.defaultID = m.ID
			s.mu.Unlock()
			log.WarnContext(ctx, "default model cannot be served; using another", "configured_default", def.ID,
				"provider", def.Provider, "reason", "no credentials", "default_model", m.ID)
			return nil
		}
	}
	return fmt.Errorf("no model of the catalog can be served: set a provider API key or enable offline-demo")
}

func (s *Service) containedSet(ctx context.Context) (map[string]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.contained != nil && s.now().Sub(s.loadedAt) < s.RefreshEvery {
		return s.contained, nil
	}
	ids, err := s.containment.ContainedModels(ctx)
	if err != nil {
		return nil, apperr.Wrap(fmt.Errorf("read contained models: %w", err), apperr.Unavailable, "Model availability cannot be checked right now.")
	}
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	s.contained, s.loadedAt = set, s.now()
	return set, nil
}

// Invalidate drops the cached containment set.
func (s *Service) Invalidate() {
	s.mu.Lock()
	s.contained = nil
	s.mu.Unlock()
}

// List returns the models that can be served now, in catalog order, and the default id.
func (s *Service) List(ctx context.Context) ([]Model, string, error) {
	contained, err := s.containedSet(ctx)
	if err != nil {
		return nil, "", err
	}
	var out []Model
	for _, m := range s.cat.Models {
		if s.configured(m) && !contained[m.ID] {
			out = append(out, m)
		}
	}
	s.mu.Lock()
	def := s.defaultID
	s.mu.Unlock()
	if contained[def] {
		// Never offer a contained model as the default: the next servable one, or
		// none when nothing can be served.
		def = ""
		if len(out) > 0 {
			def = out[0].ID
		}
	}
	return out, def, nil
}

// ResolveOption changes what Resolve accepts.
type ResolveOption func(*resolveOptions)

type resolveOptions struct{ includeContained bool }

// IncludeContained makes Resolve return a contained model too, without reading the
// containment set: a scan of a contained model checks its fix. Serving never uses it.
func IncludeContained() ResolveOption {
	return func(o *resolveOptions) { o.includeContained = true }
}

// Resolve returns the model id names if it can be served (or, with IncludeContained,
// scanned), or an *apperr.Error: unknown_model (unknown or unavailable),
// model_contained, provider_not_configured. The error names no request field: the
// caller knows which field held id and attaches it (apperr.WithField).
func (s *Service) Resolve(ctx context.Context, id string, opts ...ResolveOption) (Model, error) {
	var o resolveOptions
	for _, opt := range opts {
		opt(&o)
	}
	m, ok := s.cat.Get(id)
	if !ok || !m.Available || (m.Provider == llm.Demo && !s.allowDemo) {
		return Model{}, apperr.Errorf(apperr.UnknownModel, "Model %q is not in the catalog of available models.", id)
	}
	if !o.includeContained {
		contained, err := s.containedSet(ctx)
		if err != nil {
			return Model{}, err
		}
		if contained[id] {
			return Model{}, apperr.Errorf(apperr.ModelContained, "Model %q is contained by MirrorScan and cannot be used until it is released.", id)
		}
	}
	if !s.creds.ConfiguredAt(m.Provider, m.BaseURL) && m.Provider != llm.Demo {
		return Model{}, apperr.Errorf(apperr.ProviderNotConfigured, "Model %q needs provider %q, which has no credentials configured.", id, m.Provider)
	}
	return m, nil
}

// Servable reports whether id can be served now; fallbacks and judges use it, so a
// contained model is never used behind the user's back.
func (s *Service) Servable(ctx context.Context, id string) bool {
	_, err := s.Resolve(ctx, id)
	return err == nil
}
