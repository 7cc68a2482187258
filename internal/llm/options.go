package llm

import (
	"cmp"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Defaults of Options.
const (
	DefaultTimeout          = 60 * time.Second
	DefaultMaxRetries       = 2
	DefaultRetryBase        = 500 * time.Millisecond
	DefaultMaxRetryWait     = 30 * time.Second
	DefaultMaxResponseBytes = 32 << 20
)

// Default base URLs of the providers that speak the OpenAI protocol, plus Anthropic's
// and Gemini's. They are only defaults: every one is overridable per provider.
const (
	OpenAIBaseURL     = "https://api.openai.com/v1"
	OpenRouterBaseURL = "https://openrouter.ai/api/v1"
	GroqBaseURL       = "https://api.groq.com/openai/v1"
	OllamaBaseURL     = "http://127.0.0.1:11434/v1"
	AnthropicBaseURL  = "https://api.anthropic.com"
	GeminiBaseURL     = "https://generativelanguage.googleapis.com"
)

// DefaultBaseURL returns the public default base URL of provider, or "" when it has
// none (openai_compatible must be given one).
func DefaultBaseURL(provider string) string {
	switch provider {
	case OpenAI:
		return OpenAIBaseURL
	case OpenRouter:
		return OpenRouterBaseURL
	case Groq:
		return GroqBaseURL
	case Ollama:
		return OllamaBaseURL
	case Anthropic:
		return AnthropicBaseURL
	case Gemini:
		return GeminiBaseURL
	}
	return ""
}

// Options configure one provider adapter. The zero value of every field but Provider
// is a usable default.
type Options struct {
	// Provider is the name used in errors, logs and metrics: "openai", "openrouter",
	// "groq", "ollama", "openai_compatible", "anthropic" or "gemini".
	Provider string
	// APIKey may be empty for ollama and openai_compatible servers without auth.
	APIKey string
	// BaseURL "" means the provider's public default (DefaultBaseURL).
	BaseURL string
	// HTTPClient nil means a client with its own pooled transport. Its Timeout should
	// be zero: attempts are bounded by Timeout through the context instead.
	HTTPClient *http.Client
	// Timeout bounds each attempt; 0 means DefaultTimeout. For Stream it bounds the
	// wait for the answer to start and then every gap between two events, so that a
	// long answer that keeps flowing is never cut while a stalled one is.
	Timeout time.Duration
	// MaxRetries is the number of retries after the first attempt on 429, 5xx and
	// connection failures: 0 means DefaultMaxRetries, -1 none.
	MaxRetries int
	// RetryBase is the first backoff step, doubled each retry, jittered ±50% and
	// capped at 8s; 0 means DefaultRetryBase. An upstream Retry-After longer than
	// the backoff replaces it.
	RetryBase time.Duration
	// MaxRetryWait is the longest Retry-After honoured by waiting; a 429 asking for
	// longer is returned at once (with its RetryAfter) rather than holding the caller.
	// 0 means DefaultMaxRetryWait.
	MaxRetryWait time.Duration
	// MaxResponseBytes bounds every upstream response body, streams included; a
	// longer one fails as KindMalformed. 0 means DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// Logger receives one record per retry; nil discards them.
	Logger *slog.Logger
	// OnRetry, if set, is called before each backoff wait (for metrics and tests).
	OnRetry func(RetryEvent)
}

// RetryEvent describes one decision to try again.
type RetryEvent struct {
	Provider string
	// Attempt is the number of the attempt that failed, starting at 1.
	Attempt int
	// Err is that attempt's failure.
	Err *Error
	// Wait is how long the adapter sleeps before the next attempt.
	Wait time.Duration
}

// core holds what every adapter shares: identity, limits, the retry policy and the
// guarded HTTP client.
type core struct {
	provider string
	key      string
	baseURL  string
	timeout  time.Duration
	retry    retryPolicy
	client   *http.Client
}

func newCore(o Options) core {
	baseURL := cmp.Or(o.BaseURL, DefaultBaseURL(o.Provider))
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	maxRetries := o.MaxRetries
	switch {
	case maxRetries == 0:
		maxRetries = DefaultMaxRetries
	case maxRetries < 0:
		maxRetries = 0
	}
	return core{
		provider: o.Provider,
		key:      o.APIKey,
		baseURL:  strings.TrimRight(baseURL, "/"),
		timeout:  cmp.Or(o.Timeout, DefaultTimeout),
		retry: retryPolicy{
			provider: o.Provider,
			retries:  maxRetries,
			base:     cmp.Or(o.RetryBase, DefaultRetryBase),
			maxWait:  cmp.Or(o.MaxRetryWait, DefaultMaxRetryWait),
			log:      log,
			onRetry:  o.OnRetry,
		},
		client: guardedClient(o.HTTPClient, cmp.Or(o.MaxResponseBytes, DefaultMaxResponseBytes)),
	}
}

// sharedTransport is the default transport of adapters built without an HTTPClient:
// one pool for all of them, sized for a gateway that keeps many upstream calls open.
var sharedTransport = sync.OnceValue(func() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	t.ResponseHeaderTimeout = 0 // attempts are bounded by the context
	return t
})

// guardedClient returns a copy of c whose transport bounds response bodies and records
// each response's status and Retry-After for the attempt that made it, and which
// follows no redirect to another origin (SameOriginRedirects over c's own policy).
// Every adapter's client is made here, so every provider behaves alike.
func guardedClient(c *http.Client, limit int64) *http.Client {
	var out http.Client
	if c != nil {
		out = *c
	}
	base := out.Transport
	if base == nil {
		base = sharedTransport()
	}
	out.Transport = guardTransport{base: base, limit: limit}
	out.CheckRedirect = SameOriginRedirects(out.CheckRedirect)
	return &out
}

// ErrCrossOriginRedirect is the error of a provider call whose server redirected
// it to another origin.
var ErrCrossOriginRedirect = errors.New("upstream redirected to another origin; not followed, so the API key stays with the host it was given for")

// SameOriginRedirects returns a CheckRedirect policy that runs next (nil: Go's
// default of at most 10 redirects) and then refuses any redirect whose scheme,
// host or port differs from the original request's. Providers authenticate with
// headers (OpenAI's Authorization, Anthropic's X-Api-Key, Gemini's
// X-Goog-Api-Key); Go's client strips only Authorization and cookies on a
// cross-domain redirect and copies every other header, so following one would hand
// the key to a host the user never named. Refusing (rather than stripping) keeps
// the rule the same for every header and every SDK, and a provider has no reason
// to send its API clients elsewhere.
func SameOriginRedirects(next func(req *http.Request, via []*http.Request) error) func(req *http.Request, via []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if next != nil {
			if err := next(req, via); err != nil {
				return err
			}
		} else if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		if len(via) > 0 && origin(req.URL) != origin(via[0].URL) {
			return ErrCrossOriginRedirect
		}
		return nil
	}
}

// origin is a URL's scheme, host and port, with the scheme's default port made
// explicit.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Hostname()) + ":" + port
}

// errResponseTooLarge fails a read past Options.MaxResponseBytes.
var errResponseTooLarge = errors.New("upstream response exceeds the size limit")

type guardTransport struct {
	base  http.RoundTripper
	limit int64
}

func (t guardTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	m := metaFrom(req.Context())
	if m != nil {
		m.record(resp)
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.limit, meta: m}
	return resp, nil
}

// limitedBody fails with errResponseTooLarge once more than its limit was read, so
// that no SDK decoder buffers an unbounded answer. It also notes read failures in
// the attempt's meta: an SDK that hits a cut-off body may report only the JSON
// fragment it was left with, and the adapter must still know the cause was the
// connection.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
	meta *attemptMeta
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, errResponseTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		err = errResponseTooLarge
	}
	if err != nil && err != io.EOF && b.meta != nil {
		b.meta.bodyFailed(err)
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// attemptMeta is what the transport saw of one attempt's HTTP response. The SDKs
// do not all expose response headers on errors (genai drops them), so Retry-After
// is read here, once, for every protocol.
type attemptMeta struct {
	mu         sync.Mutex
	status     int
	retryAfter time.Duration
	responded  bool
	bodyErr    error
}

type metaKey struct{}

func withMeta(ctx context.Context) (context.Context, *attemptMeta) {
	m := &attemptMeta{}
	return context.WithValue(ctx, metaKey{}, m), m
}

func metaFrom(ctx context.Context) *attemptMeta {
	m, _ := ctx.Value(metaKey{}).(*attemptMeta)
	return m
}

func (m *attemptMeta) record(resp *http.Response) {
	ra := parseRetryAfter(resp.Header, time.Now())
	m.mu.Lock()
	defer m.mu.Unlock()
	m.status = resp.StatusCode
	m.retryAfter = ra
	m.responded = true
}

func (m *attemptMeta) get() (status int, retryAfter time.Duration, responded bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.status, m.retryAfter, m.responded
}

// attempt returns the context of one non-streaming attempt: bounded by the
// timeout, and carrying the meta the transport fills in.
func (c *core) attempt(ctx context.Context) (context.Context, context.CancelFunc, *attemptMeta) {
	actx, cancel := context.WithTimeoutCause(ctx, c.timeout, errAttemptTimeout)
	actx, meta := withMeta(actx)
	return actx, cancel, meta
}

// idleTimer cancels a streaming attempt when the provider stays silent for the
// timeout: before the answer starts, or between two events.
type idleTimer struct {
	meta   *attemptMeta
	d      time.Duration
	timer  *time.Timer
	cancel context.CancelCauseFunc
}

func (c *core) streamAttempt(ctx context.Context) (context.Context, *idleTimer) {
	actx, cancel := context.WithCancelCause(ctx)
	actx, meta := withMeta(actx)
	t := &idleTimer{meta: meta, d: c.timeout, cancel: cancel}
	t.timer = time.AfterFunc(c.timeout, func() { cancel(errAttemptTimeout) })
	return actx, t
}

// reset restarts the silence allowance after an event.
func (t *idleTimer) reset() { t.timer.Reset(t.d) }

// stop releases the attempt.
func (t *idleTimer) stop() {
	t.timer.Stop()
	t.cancel(context.Canceled)
}

// started reports whether the stream's 2xx head arrived.
func (t *idleTimer) started() bool {
	status, _, responded := t.meta.get()
	return responded && status >= 200 && status < 300
}

func (m *attemptMeta) bodyFailed(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.bodyErr == nil {
		m.bodyErr = err
	}
}

func (m *attemptMeta) bodyError() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bodyErr
}

// retryStream runs one streaming call under the retry policy. op gets the
// caller's ctx, the attempt's actx and idle timer, and emit, which forwards a
// delta to onDelta. A stream is retried (also when it broke off) only while no
// delta has reached the caller: text once shown cannot be taken back.
func (c *core) retryStream(ctx context.Context, onDelta func(string) error,
	op func(ctx, actx context.Context, idle *idleTimer, emit func(string) error) (Response, error)) (Response, error) {
	sent := 0
	emit := func(d string) error {
		sent++
		return onDelta(d)
	}
	retryable := func(e *Error) bool { return sent == 0 && (defaultRetryable(e) || e.Kind == KindIncomplete) }
	return doRetry(ctx, c.retry, retryable, func(ctx context.Context) (Response, error) {
		actx, idle := c.streamAttempt(ctx)
		defer idle.stop()
		return op(ctx, actx, idle, emit)
	})
}
