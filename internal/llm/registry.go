package llm

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Config is what the Registry needs to build adapters: keys and base URL
// overrides by provider name, and what every adapter shares.
type Config struct {
	Keys       map[string]string // provider → API key
	BaseURLs   map[string]string // provider → base URL override
	HTTPClient *http.Client      // nil: a shared pooled client
	Timeout    time.Duration     // per attempt; 0: DefaultTimeout
	MaxRetries int               // 0: DefaultMaxRetries; -1: none
	RetryBase  time.Duration     // first backoff step; 0: DefaultRetryBase
	Logger     *slog.Logger      // retries are logged here; nil discards
	// OnRetry, if set, is given to every adapter (metrics).
	OnRetry func(RetryEvent)
}

// envNames lists, per provider, the variables ConfigFromEnv reads for its key and
// its base URL ("" when there is none).
var envNames = map[string]struct{ key, baseURL string }{
	OpenAI:           {"OPENAI_API_KEY", "OPENAI_BASE_URL"},
	Anthropic:        {"ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"},
	OpenRouter:       {"OPENROUTER_API_KEY", "OPENROUTER_BASE_URL"},
	Gemini:           {"GOOGLE_AI_STUDIO_KEY", "GEMINI_BASE_URL"},
	Groq:             {"GROQ_API_KEY", "GROQ_BASE_URL"},
	Ollama:           {"OLLAMA_API_KEY", "OLLAMA_BASE_URL"},
	OpenAICompatible: {"OPENAI_COMPATIBLE_API_KEY", "OPENAI_COMPATIBLE_BASE_URL"},
}

// ConfigFromEnv reads the provider keys and base URLs of the variables:
// OPENAI_API_KEY, ANTHROPIC_API_KEY, OPENROUTER_API_KEY, GOOGLE_AI_STUDIO_KEY,
// GROQ_API_KEY, and OPENAI_BASE_URL, ANTHROPIC_BASE_URL, OPENROUTER_BASE_URL,
// GEMINI_BASE_URL, GROQ_BASE_URL, OLLAMA_BASE_URL; plus OLLAMA_API_KEY,
// OPENAI_COMPATIBLE_API_KEY and OPENAI_COMPATIBLE_BASE_URL for servers that want
// them. Empty values count as unset. The caller fills in the other fields.
func ConfigFromEnv(getenv func(string) string) Config {
	cfg := Config{Keys: map[string]string{}, BaseURLs: map[string]string{}}
	for provider, names := range envNames {
		if v := strings.TrimSpace(getenv(names.key)); v != "" {
			cfg.Keys[provider] = v
		}
		if v := strings.TrimSpace(getenv(names.baseURL)); v != "" {
			cfg.BaseURLs[provider] = v
		}
	}
	return cfg
}

// KeyEnv returns the variable ConfigFromEnv reads provider's key from ("" for
// demo), for messages that tell an operator what to set.
func KeyEnv(provider string) string { return envNames[provider].key }

// Registry builds provider adapters from a Config and caches them, one per
// provider and base URL. It is safe for concurrent use.
type Registry struct {
	cfg   Config
	mu    sync.Mutex
	cache map[string]Provider
}

// NewRegistry returns a Registry over cfg.
func NewRegistry(cfg Config) *Registry {
	return &Registry{cfg: cfg, cache: map[string]Provider{}}
}

// Configured reports whether provider can be called: demo always; ollama always
// (it has a default base URL and needs no key); openai_compatible when a base URL
// is configured; the others when they have a key. For a model that names its own
// base URL, use ConfiguredAt.
func (r *Registry) Configured(provider string) bool { return r.ConfiguredAt(provider, "") }

// ConfiguredAt is Configured for a model with its own base URL ("" for none).
func (r *Registry) ConfiguredAt(provider, baseURL string) bool {
	_, _, err := r.settings(provider, baseURL)
	return err == nil
}

// settings resolves the key and base URL of provider, or a KindNotConfigured
// *Error naming what is missing.
func (r *Registry) settings(provider, baseURL string) (key, url string, err error) {
	if !KnownProvider(provider) {
		return "", "", fmt.Errorf("llm: unknown provider %q", provider)
	}
	key = r.cfg.Keys[provider]
	url = baseURL
	if url == "" {
		url = r.cfg.BaseURLs[provider]
	}
	if url == "" {
		url = DefaultBaseURL(provider)
	}
	switch provider {
	case Demo, Ollama:
		return key, url, nil
	case OpenAICompatible:
		if url == "" {
			return "", "", &Error{Provider: provider, Kind: KindNotConfigured,
				Message: "no base URL configured (set OPENAI_COMPATIBLE_BASE_URL or the model's base_url)"}
		}
		return key, url, nil
	}
	if key == "" {
		return "", "", &Error{Provider: provider, Kind: KindNotConfigured,
			Message: fmt.Sprintf("no API key configured (set %s)", KeyEnv(provider))}
	}
	return key, url, nil
}

// Provider returns the adapter for provider at baseURL ("" for the configured or
// default one). It fails with a KindNotConfigured *Error when the provider lacks
// its key (or, for openai_compatible, its base URL), and with a plain error for an
// unknown provider name.
func (r *Registry) Provider(provider, baseURL string) (Provider, error) {
	key, url, err := r.settings(provider, baseURL)
	if err != nil {
		return nil, err
	}
	if provider == Demo {
		return DemoProvider{}, nil
	}
	cacheKey := provider + "\x00" + url
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.cache[cacheKey]; ok {
		return p, nil
	}
	o := Options{
		Provider:   provider,
		APIKey:     key,
		BaseURL:    url,
		HTTPClient: r.cfg.HTTPClient,
		Timeout:    r.cfg.Timeout,
		MaxRetries: r.cfg.MaxRetries,
		RetryBase:  r.cfg.RetryBase,
		Logger:     r.cfg.Logger,
		OnRetry:    r.cfg.OnRetry,
	}
	var p Provider
	switch provider {
	case Anthropic:
		p = NewAnthropic(o)
	case Gemini:
		g, err := NewGemini(o)
		if err != nil {
			return nil, err
		}
		p = g
	default:
		p = NewOpenAI(o)
	}
	r.cache[cacheKey] = p
	return p, nil
}
