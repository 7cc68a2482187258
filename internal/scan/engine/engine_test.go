package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"mirror/internal/apperr"
	"mirror/internal/catalog"
	"mirror/internal/llm"
	"mirror/internal/scan"
	"mirror/internal/ssrf"
)

// catalogEngine is an Engine over the catalog in yaml, the real provider
// registry (no retries), an SSRF guard with no exceptions, and store (nil: none).
func catalogEngine(t *testing.T, yaml string, store Store) *Engine {
	t.Helper()
	cat, err := catalog.Parse([]byte(yaml), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	guard, err := ssrf.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := llm.NewRegistry(llm.Config{MaxRetries: -1})
	return New(catalog.NewService(cat, reg, contained{}, catalog.Options{}), reg, guard, store, nil)
}

// TestDialTimeGuard: an endpoint that passed the check when the scan was created
// but is at a private address when the scan runs (DNS rebinding, a changed record)
// is never connected to: the guard checks every connection, and the refusal stops
// the scan at once instead of being retried probe after probe.
func TestDialTimeGuard(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	guard, _ := ssrf.New(nil)
	e := &Engine{guard: guard, client: guard.Client()}
	j := scan.Job{Target: scan.Target{Kind: scan.TargetEndpoint, URL: srv.URL + "/v1", Model: "m", Provider: "openai"},
		Types: []scan.Type{scan.Jailbreak}}
	_, _, err := e.Run(context.Background(), j, "", func(int, int, string) {})
	if err == nil || !strings.Contains(err.Error(), "not allowed") {
		t.Fatalf("scan of a private address: %v", err)
	}
	if hits.Load() != 0 {
		t.Fatalf("the private address was reached %d times", hits.Load())
	}
}

// TestRedirectsAreNotFollowed: a public endpoint cannot bounce the scanner to
// another address with a redirect; the redirect's target is never requested.
func TestRedirectsAreNotFollowed(t *testing.T) {
	var inner, outerHits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { inner.Add(1) }))
	defer target.Close()
	outer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		outerHits.Add(1)
		http.Redirect(w, r, target.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer outer.Close()
	guard, _ := ssrf.New([]string{"127.0.0.1"})
	e := &Engine{guard: guard, client: guard.Client()}
	j := scan.Job{Target: scan.Target{Kind: scan.TargetEndpoint, URL: outer.URL + "/v1", Model: "m", Provider: "openai"},
		Types: []scan.Type{scan.Jailbreak}, Options: scan.JobOptions{MaxRequests: 5}}
	e.Run(context.Background(), j, "", func(int, int, string) {})
	if inner.Load() != 0 {
		t.Fatalf("the redirect target was requested %d times", inner.Load())
	}
	// A redirect is not a server error: asking again would be redirected again.
	if n := outerHits.Load(); n > 5 {
		t.Errorf("%d requests for a 5-request budget: redirects were retried", n)
	}
}

func TestCheckURLRefusesPrivateAddresses(t *testing.T) {
	guard, _ := ssrf.New(nil)
	e := &Engine{guard: guard, client: guard.Client()}
	for _, u := range []string{"http://127.0.0.1:8080/v1", "http://10.0.0.5/v1", "http://169.254.169.254/latest", "http://[::1]/v1", "ftp://example.com/", "http://user:pw@example.com/v1"} {
		err := e.CheckURL(context.Background(), u)
		if ae, ok := apperr.As(err); !ok || ae.Code != apperr.Invalid || ae.Fields[0].Field != "target.url" {
			t.Errorf("%s: %v, want a validation error on target.url", u, err)
		}
	}
}

type creds map[string]bool

func (c creds) ConfiguredAt(p, _ string) bool { return c[p] }

type contained []string

func (c contained) ContainedModels(context.Context) ([]string, error) { return c, nil }

// TestCheckModel: a scan may target a contained model (to check its fix), never an
// unknown one or one whose provider has no credentials; the unknown model is
// reported on the request's target.model_id.
func TestCheckModel(t *testing.T) {
	cat, err := catalog.Parse([]byte(`models:
  default: {default_model: a}
  catalog:
    a: {provider: openai, litellm_route: openai/a, available: true}
    b: {provider: anthropic, litellm_route: anthropic/b, available: true}
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{models: catalog.NewService(cat, creds{"openai": true}, contained{"a"}, catalog.Options{})}
	ctx := context.Background()
	if err := e.CheckModel(ctx, "a"); err != nil {
		t.Errorf("contained model refused for a scan: %v", err)
	}
	if err := e.CheckModel(ctx, "b"); apperr.CodeOf(err) != apperr.ProviderNotConfigured {
		t.Errorf("model without credentials: %v", err)
	}
	err = e.CheckModel(ctx, "nope")
	if ae, ok := apperr.As(err); !ok || ae.Code != apperr.UnknownModel || len(ae.Fields) != 1 || ae.Fields[0].Field != "target.model_id" {
		t.Errorf("unknown model: %#v", err)
	}
}
