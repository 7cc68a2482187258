package catalog

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"

	"mirror/config"
	"mirror/internal/apperr"
)

func TestShippedCatalogIsValid(t *testing.T) {
	c, err := Parse(config.DefaultModels, "config/models.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.DefaultID != "gpt-5-nano" {
		t.Errorf("default %q, want the spec's gpt-5-nano", c.DefaultID)
	}
	m, _ := c.Get("gpt-5-nano")
	if m.Route.String() != "openai/gpt-5-nano" {
		t.Errorf("route %q", m.Route)
	}
	have := map[string]bool{}
	for _, m := range c.Models {
		have[m.Provider] = true
	}
	for _, p := range []string{"openai", "anthropic", "openrouter", "gemini", "groq", "demo"} {
		if !have[p] {
			t.Errorf("shipped catalog has no %s model", p)
		}
	}
	if d, ok := c.Get("offline-demo"); !ok || !strings.Contains(strings.ToLower(d.DisplayName), "offline demo") {
		t.Errorf("offline-demo must say it is an offline demo: %+v", d)
	}
}

func TestParseErrorsNameFileAndKey(t *testing.T) {
	const head = "models:\n  default:\n    default_model: a\n  catalog:\n"
	tests := []struct{ name, yaml, want string }{
		{"unknown key", head + "    a: {provider: openai, litellm_route: openai/a, available: true, colour: red}\n", "models.catalog.a"},
		{"duplicate id", head + "    a: {litellm_route: openai/a, available: true}\n    a: {litellm_route: openai/b, available: true}\n", "duplicate"},
		{"missing default", "models:\n  default:\n    default_model: zz\n  catalog:\n    a: {litellm_route: openai/a, available: true}\n", "models.default.default_model"},
		{"unavailable default", head + "    a: {litellm_route: openai/a, available: false}\n", "not available"},
		{"bad route", head + "    a: {litellm_route: gpt4, available: true}\n", "litellm_route"},
		{"unknown provider", head + "    a: {litellm_route: acme/x, available: true}\n", "unknown provider"},
		{"provider mismatch", head + "    a: {provider: anthropic, litellm_route: openai/a, available: true}\n", "models.catalog.a.provider"},
		{"unknown fallback", head + "    a: {litellm_route: openai/a, available: true, fallbacks: [b]}\n", "fallbacks"},
		{"missing available", head + "    a: {litellm_route: openai/a}\n", "available"},
		{"unknown top key", "models:\n  default: {default_model: a}\n  catalog:\n    a: {litellm_route: openai/a, available: true}\nextra: 1\n", "extra"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "test.yaml")
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "test.yaml") {
				t.Fatalf("error %v, want file name and %q", err, tt.want)
			}
		})
	}
}

type creds map[string]bool

func (c creds) ConfiguredAt(p, _ string) bool { return c[p] }

type contained []string

func (c contained) ContainedModels(context.Context) ([]string, error) { return c, nil }

type failing struct{}

func (failing) ContainedModels(context.Context) ([]string, error) { return nil, errors.New("db down") }

func shipped(t *testing.T) *Catalog {
	t.Helper()
	c, err := Parse(config.DefaultModels, "models.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestResolveCodes(t *testing.T) {
	ctx := context.Background()
	s := NewService(shipped(t), creds{"anthropic": true}, contained{"claude-haiku-4-5-x", "gemini-2.5-flash"}, Options{AllowDemo: true})
	tests := []struct {
		id   string
		want apperr.Code
	}{
		{"offline-demo", ""},
		{"claude-haiku-4-5", ""},
		{"nope", apperr.UnknownModel},
		{"ollama-llama3.2", apperr.UnknownModel}, // available: false
		{"gpt-5-nano", apperr.ProviderNotConfigured},
		{"gemini-2.5-flash", apperr.ModelContained},
	}
	for _, tt := range tests {
		_, err := s.Resolve(ctx, tt.id)
		if got := apperr.Code(""); err != nil {
			got = apperr.CodeOf(err)
			if got != tt.want {
				t.Errorf("%s: code %q, want %q", tt.id, got, tt.want)
			}
		} else if tt.want != "" {
			t.Errorf("%s: resolved, want %q", tt.id, tt.want)
		}
	}
	noDemo := NewService(shipped(t), creds{}, contained{}, Options{AllowDemo: false})
	if _, err := noDemo.Resolve(ctx, "offline-demo"); apperr.CodeOf(err) != apperr.UnknownModel {
		t.Errorf("demo must not be served in prod: %v", err)
	}
	down := NewService(shipped(t), creds{}, failing{}, Options{AllowDemo: true})
	if _, err := down.Resolve(ctx, "offline-demo"); apperr.CodeOf(err) != apperr.Unavailable {
		t.Errorf("unknown containment must fail closed: %v", err)
	}
}

func TestListAndDefaultFallback(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	s := NewService(shipped(t), creds{}, contained{}, Options{AllowDemo: true})
	if err := s.ChooseDefault(ctx, true, log); err == nil {
		t.Fatal("strict (prod) must refuse a default without credentials")
	}
	if err := s.ChooseDefault(ctx, false, log); err != nil {
		t.Fatal(err)
	}
	models, def, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if def != "offline-demo" || len(models) != 1 || models[0].ID != "offline-demo" {
		t.Fatalf("no keys: default %q, models %+v; want only offline-demo", def, models)
	}
	s2 := NewService(shipped(t), creds{"openai": true}, contained{"gpt-5-nano"}, Options{AllowDemo: true})
	models, def, _ = s2.List(ctx)
	for _, m := range models {
		if m.ID == "gpt-5-nano" {
			t.Error("a contained model must not be listed")
		}
	}
	if def == "gpt-5-nano" {
		t.Error("a contained default must not be offered")
	}
	// Nothing servable at all (the only configured model contained, no demo): no
	// default rather than a contained one.
	s3 := NewService(shipped(t), creds{"openai": true}, contained{"gpt-5-nano", "gpt-5-mini"}, Options{AllowDemo: false})
	models, def, _ = s3.List(ctx)
	if len(models) != 0 || def != "" {
		t.Errorf("everything contained: models %+v, default %q; want none and no default", models, def)
	}
}

// TestResolveIncludeContained: the one lookup, with the option scans use, returns a
// contained model without reading containment, and still refuses unknown models and
// missing credentials. Its errors name no request field: the caller does.
func TestResolveIncludeContained(t *testing.T) {
	ctx := context.Background()
	s := NewService(shipped(t), creds{"anthropic": true}, contained{"claude-haiku-4-5"}, Options{AllowDemo: true})
	if _, err := s.Resolve(ctx, "claude-haiku-4-5"); apperr.CodeOf(err) != apperr.ModelContained {
		t.Fatalf("served a contained model: %v", err)
	}
	if m, err := s.Resolve(ctx, "claude-haiku-4-5", IncludeContained()); err != nil || m.ID != "claude-haiku-4-5" {
		t.Fatalf("contained model not found for a scan: %v", err)
	}
	down := NewService(shipped(t), creds{}, failing{}, Options{AllowDemo: true})
	if _, err := down.Resolve(ctx, "offline-demo", IncludeContained()); err != nil {
		t.Errorf("a scan lookup read containment: %v", err)
	}
	for id, want := range map[string]apperr.Code{"nope": apperr.UnknownModel, "gpt-5-nano": apperr.ProviderNotConfigured} {
		_, err := s.Resolve(ctx, id, IncludeContained())
		e, ok := apperr.As(err)
		if !ok || e.Code != want {
			t.Errorf("%s: %v, want %s", id, err, want)
			continue
		}
		if len(e.Fields) != 0 {
			t.Errorf("%s: catalog named request fields %v", id, e.Fields)
		}
	}
}
