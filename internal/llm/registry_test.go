package llm_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"mirror/internal/apperr"
	"mirror/internal/llm"
	"mirror/internal/llm/llmtest"
)

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{
		"OPENAI_API_KEY":             "sk-openai",
		"ANTHROPIC_API_KEY":          "sk-ant",
		"OPENROUTER_API_KEY":         "sk-or",
		"GOOGLE_AI_STUDIO_KEY":       "AIza-g",
		"GROQ_API_KEY":               " gsk-groq ",
		"OPENAI_BASE_URL":            "http://127.0.0.1:1/v1",
		"ANTHROPIC_BASE_URL":         "http://127.0.0.1:2",
		"OPENROUTER_BASE_URL":        "http://127.0.0.1:3/api/v1",
		"GEMINI_BASE_URL":            "http://127.0.0.1:4",
		"GROQ_BASE_URL":              "http://127.0.0.1:5/openai/v1",
		"OLLAMA_BASE_URL":            "http://127.0.0.1:6/v1",
		"GEMINI_API_KEY":             "ignored: Mirror reads GOOGLE_AI_STUDIO_KEY",
		"OPENAI_COMPATIBLE_BASE_URL": "",
	}
	got := llm.ConfigFromEnv(func(k string) string { return env[k] })
	want := llm.Config{
		Keys: map[string]string{"openai": "sk-openai", "anthropic": "sk-ant", "openrouter": "sk-or", "gemini": "AIza-g", "groq": "gsk-groq"},
		BaseURLs: map[string]string{
			"openai": "http://127.0.0.1:1/v1", "anthropic": "http://127.0.0.1:2", "openrouter": "http://127.0.0.1:3/api/v1",
			"gemini": "http://127.0.0.1:4", "groq": "http://127.0.0.1:5/openai/v1", "ollama": "http://127.0.0.1:6/v1",
		},
	}
	if diff := cmp.Diff(want.Keys, got.Keys); diff != "" {
		t.Errorf("Keys (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want.BaseURLs, got.BaseURLs); diff != "" {
		t.Errorf("BaseURLs (-want +got):\n%s", diff)
	}
}

func TestRegistryConfigured(t *testing.T) {
	r := llm.NewRegistry(llm.Config{
		Keys:     map[string]string{llm.OpenAI: "sk-a", llm.Gemini: "AIza-b"},
		BaseURLs: map[string]string{llm.Anthropic: "http://127.0.0.1:9"},
	})
	for provider, want := range map[string]bool{
		llm.Demo: true, llm.OpenAI: true, llm.Gemini: true, llm.Ollama: true,
		llm.Anthropic:  false, // a base URL is not a key
		llm.OpenRouter: false, llm.Groq: false, llm.OpenAICompatible: false, "nope": false,
	} {
		if got := r.Configured(provider); got != want {
			t.Errorf("Configured(%q) = %v, want %v", provider, got, want)
		}
	}
	if !r.ConfiguredAt(llm.OpenAICompatible, "http://127.0.0.1:8000/v1") {
		t.Error("openai_compatible with a model base URL is not configured")
	}
}

func TestRegistryProviderErrors(t *testing.T) {
	r := llm.NewRegistry(llm.Config{})
	_, err := r.Provider(llm.Anthropic, "")
	var e *llm.Error
	if !errors.As(err, &e) || e.Kind != llm.KindNotConfigured || !strings.Contains(e.Message, "ANTHROPIC_API_KEY") {
		t.Fatalf("Provider(anthropic) error = %v, want not_configured naming ANTHROPIC_API_KEY", err)
	}
	if ae := llm.AppError(err); ae == nil || ae.Code != apperr.ProviderNotConfigured {
		t.Errorf("AppError = %v, want provider_not_configured", ae)
	}
	_, err = r.Provider(llm.OpenAICompatible, "")
	if !errors.As(err, &e) || e.Kind != llm.KindNotConfigured {
		t.Errorf("Provider(openai_compatible) error = %v, want not_configured", err)
	}
	_, err = r.Provider("bogus", "")
	if err == nil || errors.As(err, &e) {
		t.Errorf("Provider(bogus) error = %v, want a plain error", err)
	}
	if p, err := r.Provider(llm.Demo, ""); err != nil || p == nil {
		t.Errorf("Provider(demo) = %v, %v", p, err)
	}
}

// TestRegistryReachesEveryProtocol builds each provider from a Config whose base
// URLs point at the fakes, and checks instances are cached per base URL.
func TestRegistryReachesEveryProtocol(t *testing.T) {
	oa := llmtest.NewOpenAIServer(t, llmtest.Echo)
	an := llmtest.NewAnthropicServer(t, llmtest.Echo)
	ge := llmtest.NewGeminiServer(t, llmtest.Echo)
	ol := llmtest.NewOpenAIServer(t, llmtest.Echo, llmtest.NoAuth())
	cfg := llm.Config{
		Keys: map[string]string{llm.OpenAI: oa.Key, llm.OpenRouter: oa.Key, llm.Groq: oa.Key,
			llm.Anthropic: an.Key, llm.Gemini: ge.Key},
		BaseURLs: map[string]string{llm.OpenAI: oa.BaseURL, llm.OpenRouter: oa.BaseURL, llm.Groq: oa.BaseURL,
			llm.Anthropic: an.BaseURL, llm.Gemini: ge.BaseURL, llm.Ollama: ol.BaseURL, llm.OpenAICompatible: ol.BaseURL},
		Timeout: 10 * time.Second,
	}
	r := llm.NewRegistry(cfg)
	for _, provider := range []string{llm.OpenAI, llm.OpenRouter, llm.Groq, llm.Anthropic, llm.Gemini, llm.Ollama, llm.OpenAICompatible} {
		p, err := r.Provider(provider, "")
		if err != nil {
			t.Fatalf("Provider(%s): %v", provider, err)
		}
		resp, err := p.Complete(context.Background(), llm.Request{Model: "m", Messages: []llm.Message{{Role: "user", Content: "ping " + provider}}})
		if err != nil || resp.Text != "echo: ping "+provider {
			t.Errorf("%s: Complete = %q, %v", provider, resp.Text, err)
		}
		again, _ := r.Provider(provider, "")
		if again != p {
			t.Errorf("%s: the registry built a second instance", provider)
		}
	}
	other, err := r.Provider(llm.OpenAICompatible, oa.BaseURL)
	if err != nil {
		t.Fatal(err)
	}
	same, _ := r.Provider(llm.OpenAICompatible, "")
	if other == same {
		t.Error("two base URLs share one instance")
	}
}
