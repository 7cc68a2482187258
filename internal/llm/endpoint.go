package llm

import (
	"fmt"
	"strings"
)

// ForEndpoint returns the provider that speaks protocol ("openai", "anthropic" or
// "gemini"; empty is "openai") to the API whose base URL a user gave, as the API's
// endpoint targets and `mirror scan --endpoint` take it. Users copy the base URL
// with its version ("https://api.anthropic.com/v1", "…/v1beta"), while the
// Anthropic and Gemini SDKs add the version themselves, so it is trimmed here, in
// one place for every caller. Any other protocol is an error.
//
// o carries the key, HTTP client and logger; its BaseURL and Provider are set here.
func ForEndpoint(protocol, baseURL string, o Options) (Provider, error) {
	url := strings.TrimRight(baseURL, "/")
	o.BaseURL = url
	switch protocol {
	case Anthropic:
		o.Provider = Anthropic
		o.BaseURL = strings.TrimSuffix(url, "/v1")
		return NewAnthropic(o), nil
	case Gemini:
		o.Provider = Gemini
		o.BaseURL = strings.TrimSuffix(strings.TrimSuffix(url, "/v1beta"), "/v1")
		p, err := NewGemini(o)
		if err != nil {
			return nil, fmt.Errorf("gemini endpoint: %w", err)
		}
		return p, nil
	case "", OpenAI, OpenAICompatible:
		o.Provider = OpenAICompatible
		return NewOpenAI(o), nil
	}
	return nil, fmt.Errorf("unknown endpoint protocol %q (want openai, anthropic or gemini)", protocol)
}
