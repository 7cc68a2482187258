package generate

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"mirror/internal/apperr"
	"mirror/internal/catalog"
	"mirror/internal/llm"
)

type memStore struct{ gens []Generation }

func (m *memStore) CreateGeneration(_ context.Context, g Generation) error {
	m.gens = append(m.gens, g)
	return nil
}
func (m *memStore) GetGeneration(context.Context, string) (Generation, error) {
	return Generation{}, apperr.Errorf(apperr.NotFound, "no")
}

// scripted fails every call to the providers named in failing, else echoes.
type scripted struct {
	failing map[string]llm.ErrorKind
	calls   []string
}

func (s *scripted) ConfiguredAt(string, string) bool { return true }
func (s *scripted) Provider(p, _ string) (llm.Provider, error) {
	return providerFunc(func(req llm.Request) (llm.Response, error) {
		s.calls = append(s.calls, p+"/"+req.Model)
		if k, ok := s.failing[p]; ok {
			return llm.Response{}, &llm.Error{Provider: p, Kind: k}
		}
		return llm.Response{Text: "ok from " + p, Usage: llm.Usage{InputTokens: 1000, OutputTokens: 2000}}, nil
	}), nil
}

type providerFunc func(llm.Request) (llm.Response, error)

func (f providerFunc) Complete(_ context.Context, r llm.Request) (llm.Response, error) { return f(r) }
func (f providerFunc) Stream(_ context.Context, r llm.Request, on func(string) error) (llm.Response, error) {
	resp, err := f(r)
	if err == nil {
		err = on(resp.Text)
	}
	return resp, err
}

type contained []string

func (c contained) ContainedModels(context.Context) ([]string, error) { return c, nil }

const cat = `models:
  default: {default_model: a}
  catalog:
    a: {provider: openai, litellm_route: openai/a, available: true, fallbacks: [b, c], input_price_per_million: 1, output_price_per_million: 2}
    b: {provider: anthropic, litellm_route: anthropic/b, available: true}
    c: {provider: gemini, litellm_route: gemini/c, available: true}
`

func setup(t *testing.T, failing map[string]llm.ErrorKind, containedIDs ...string) (*Service, *scripted, *memStore) {
	c, err := catalog.Parse([]byte(cat), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := &scripted{failing: failing}
	models := catalog.NewService(c, p, contained(containedIDs), catalog.Options{})
	store := &memStore{}
	return NewService(models, p, store, true, slog.New(slog.DiscardHandler)), p, store
}

func TestFallbacks(t *testing.T) {
	ctx := context.Background()
	in := Input{ModelID: "a", Text: "hi"}
	tests := []struct {
		name      string
		failing   map[string]llm.ErrorKind
		contained []string
		wantModel string
		wantCalls string
		wantErr   llm.ErrorKind
	}{
		{"primary answers", nil, nil, "a", "openai/a", ""},
		{"retryable failure falls back", map[string]llm.ErrorKind{"openai": llm.KindServer}, nil, "b", "openai/a anthropic/b", ""},
		{"contained fallback is skipped", map[string]llm.ErrorKind{"openai": llm.KindServer}, []string{"b"}, "c", "openai/a gemini/c", ""},
		{"non-retryable failure does not fall back", map[string]llm.ErrorKind{"openai": llm.KindAuth}, nil, "", "openai/a", llm.KindAuth},
		{"all fail", map[string]llm.ErrorKind{"openai": llm.KindServer, "anthropic": llm.KindTimeout, "gemini": llm.KindRateLimited}, nil, "", "openai/a anthropic/b gemini/c", llm.KindRateLimited},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, p, store := setup(t, tt.failing, tt.contained...)
			g, err := s.Generate(ctx, in)
			if got := strings.Join(p.calls, " "); got != tt.wantCalls {
				t.Errorf("calls %q, want %q", got, tt.wantCalls)
			}
			if tt.wantErr != "" {
				if _, kind, ok := FailureOf(err); !ok || kind != string(tt.wantErr) {
					t.Fatalf("error %v, want kind %s", err, tt.wantErr)
				}
				// The error leaves the domain as the API's error, not the provider's.
				wantCode := map[llm.ErrorKind]apperr.Code{llm.KindAuth: apperr.UpstreamError, llm.KindRateLimited: apperr.UpstreamRateLimited}[tt.wantErr]
				if ae, ok := err.(*apperr.Error); !ok || ae.Code != wantCode {
					t.Fatalf("error %#v, want an *apperr.Error with code %s", err, wantCode)
				}
				if len(store.gens) != 0 {
					t.Error("a failed generation was stored as a success")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g.ModelID != tt.wantModel || g.RequestedModelID != "a" || g.FallbackUsed() != (tt.wantModel != "a") {
				t.Errorf("generation %+v", g)
			}
			if len(store.gens) != 1 || store.gens[0].ID != g.ID {
				t.Error("generation not stored before it was returned")
			}
		})
	}
}

func TestCostFromCatalogPrices(t *testing.T) {
	s, _, _ := setup(t, nil)
	g, err := s.Generate(context.Background(), Input{ModelID: "a", Text: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	// 1000 input tokens at $1/M + 2000 output at $2/M.
	if want := 0.005; g.CostUSD < want-1e-12 || g.CostUSD > want+1e-12 {
		t.Errorf("cost %v, want %v", g.CostUSD, want)
	}
}

func TestContainedPrimaryRefused(t *testing.T) {
	s, p, _ := setup(t, nil, "a")
	_, err := s.Generate(context.Background(), Input{ModelID: "a", Text: "hi"})
	if apperr.CodeOf(err) != apperr.ModelContained || len(p.calls) != 0 {
		t.Fatalf("err %v, calls %v", err, p.calls)
	}
}

func TestValidate(t *testing.T) {
	temp := 3.0
	tests := []struct {
		in    Input
		field string
	}{
		{Input{Text: "x"}, "submission.model_id"},
		{Input{ModelID: "a", Text: "   "}, "submission.text"},
		{Input{ModelID: "a", Text: strings.Repeat("é", MaxTextRunes+1)}, "submission.text"},
		{Input{ModelID: "a", Text: "x", Temperature: &temp}, "submission.temperature"},
		{Input{ModelID: "a", Text: "x", MaxOutputTokens: -1}, "submission.max_output_tokens"},
		{Input{ModelID: "a", Text: "x", SessionID: strings.Repeat("s", 129)}, "submission.session_id"},
	}
	for _, tt := range tests {
		err := tt.in.Validate()
		e, ok := apperr.As(err)
		if !ok || e.Code != apperr.Invalid || len(e.Fields) == 0 || e.Fields[0].Field != tt.field {
			t.Errorf("%+v: %v, want a validation error on %s", tt.in, err, tt.field)
		}
	}
	if err := (Input{ModelID: "a", Text: strings.Repeat("é", MaxTextRunes)}).Validate(); err != nil {
		t.Errorf("text at the limit refused: %v", err)
	}
}

// TestUnknownModelNamesTheField: the catalog names no request field; generate,
// which knows the model came from submission.model_id, does.
func TestUnknownModelNamesTheField(t *testing.T) {
	s, p, _ := setup(t, nil)
	_, err := s.Generate(context.Background(), Input{ModelID: "nope", Text: "hi"})
	e, ok := apperr.As(err)
	if !ok || e.Code != apperr.UnknownModel || len(e.Fields) != 1 || e.Fields[0].Field != "submission.model_id" || len(p.calls) != 0 {
		t.Fatalf("err %#v, calls %v", err, p.calls)
	}
}
