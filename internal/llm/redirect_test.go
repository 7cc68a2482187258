package llm_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mirror/internal/apperr"
	"mirror/internal/llm"
	"mirror/internal/llm/llmtest"
)

// TestNoProviderFollowsARedirectToAnotherOrigin: the provider's server answers
// 307 to a server on another origin (another port of 127.0.0.1) that speaks the
// same protocol and accepts the user's key. Through each real SDK, no request
// reaches it (so neither does the key in Authorization, X-Api-Key or
// X-Goog-Api-Key), the failure is a clear upstream error, and it is not retried.
func TestNoProviderFollowsARedirectToAnotherOrigin(t *testing.T) {
	for _, k := range kits {
		t.Run(k.provider, func(t *testing.T) {
			// The other origin accepts the user's key (it is its own key).
			other := k.newServer(t, llmtest.Text("stolen"), k.serverOpts...)
			key := other.Key
			if key == "" { // Ollama's fake takes any key
				key = "sk-user-secret-key-0123456789abcdef"
			}
			var hits atomic.Int32
			front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				http.Redirect(w, r, other.URL()+r.URL.RequestURI(), http.StatusTemporaryRedirect)
			}))
			t.Cleanup(front.Close)
			base := front.URL + strings.TrimPrefix(other.BaseURL, other.URL())
			p := k.newProvider(t, llm.Options{Provider: k.provider, APIKey: key, BaseURL: base, Timeout: 10 * time.Second, RetryBase: time.Millisecond})

			calls := map[string]func() error{
				"complete": func() error { _, err := p.Complete(context.Background(), baseRequest()); return err },
				"stream": func() error {
					_, err := p.Stream(context.Background(), baseRequest(), func(string) error { return nil })
					return err
				},
			}
			if e, ok := p.(llm.Embedder); ok {
				calls["embed"] = func() error { _, err := e.Embed(context.Background(), "embed", []string{"a"}); return err }
			}
			for name, call := range calls {
				hits.Store(0)
				err := call()
				if err == nil {
					t.Fatalf("%s: a redirect to another origin was followed and answered", name)
				}
				if n := other.Count(); n != 0 {
					t.Fatalf("%s: the other origin received %d requests, with the user's key", name, n)
				}
				if n := hits.Load(); n != 1 {
					t.Errorf("%s: the redirecting server was asked %d times; a redirect is not worth retrying", name, n)
				}
				ae := llm.AppError(err)
				if ae == nil || ae.Code != apperr.UpstreamError || !strings.Contains(ae.Message, "redirect") {
					t.Errorf("%s: error %v, app error %+v", name, err, ae)
				}
				assertNoKey(t, err, key)
			}
		})
	}
}

// TestSameOriginRedirectsPolicy: a redirect within the origin is followed (up to
// the policy below it), one to another scheme, host or port is not.
func TestSameOriginRedirectsPolicy(t *testing.T) {
	check := llm.SameOriginRedirects(nil)
	req := func(u string) *http.Request { r, _ := http.NewRequest("GET", u, nil); return r }
	first := []*http.Request{req("https://api.example.com/v1/chat")}
	for u, ok := range map[string]bool{
		"https://api.example.com/v2/chat":     true,
		"https://API.example.com:443/v1/x":    true,
		"http://api.example.com/v1/chat":      false,
		"https://api.example.com:8443/v1":     false,
		"https://evil.example.com/v1/chat":    false,
		"https://api.example.com.evil.io/v1/": false,
	} {
		if err := check(req(u), first); (err == nil) != ok {
			t.Errorf("redirect to %s: %v", u, err)
		}
	}
	many := make([]*http.Request, 10)
	for i := range many {
		many[i] = first[0]
	}
	if check(req("https://api.example.com/v1/chat"), many) == nil {
		t.Error("the eleventh redirect was followed")
	}
}
