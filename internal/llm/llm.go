// Package llm reaches language models. A Provider speaks one wire protocol (OpenAI
// chat completions, Anthropic messages, Gemini generateContent, or the offline demo);
// a Route in LiteLLM's "provider/model" form names which provider serves a model.
package llm

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Message is one turn of a conversation. Role is "system", "user", "assistant" or
// "tool" (the result of a call the previous assistant turn asked for; see Tool).
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
	// ToolCalls are the calls an assistant turn asked for.
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// ToolCallID and ToolName, on a "tool" turn, name the call whose result
	// Content is.
	ToolCallID string `json:"tool_call_id,omitempty"`
	ToolName   string `json:"tool_name,omitempty"`
}

// Request is one completion request. Model is the provider's own model name (the
// route without its provider prefix).
type Request struct {
	Model           string
	Messages        []Message
	MaxOutputTokens int      // 0: the provider's default
	Temperature     *float64 // nil: the provider's default
	// Logprobs asks for per-token log probabilities where the protocol offers them.
	Logprobs bool
	// Seed asks for deterministic sampling where the protocol offers it (0: unset).
	Seed int64
	// Tools are the functions the model may call; nil offers none. Complete only:
	// Stream refuses a request with tools (KindUnsupported) before sending it.
	Tools []Tool
	// ToolChoice says whether the model must call one of Tools: ToolChoiceAuto
	// (or "", the provider's default, sent as nothing) lets it answer in text,
	// ToolChoiceRequired makes it call one. Each adapter sends it in its protocol's
	// form (OpenAI tool_choice "required", Anthropic tool_choice {type: any},
	// Gemini toolConfig.functionCallingConfig.mode ANY); ignored without Tools.
	ToolChoice string
}

// Usage counts tokens as the provider reported them.
type Usage struct {
	InputTokens  int `json:"input_tokens"`
	OutputTokens int `json:"output_tokens"`
	// Estimated is set when a count is Mirror's estimate, not the provider's: an
	// answer broken off before the provider reported it (see EstimateTokens).
	Estimated bool `json:"estimated,omitempty"`
}

// EstimateTokens is a rough token count of text (a quarter of its bytes, at least
// one for non-empty text), used only where a provider reported none.
func EstimateTokens(text string) int {
	if text == "" {
		return 0
	}
	return max(1, (len(text)+3)/4)
}

// TokenLogprob is one generated token with its log probability.
type TokenLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
}

// Response is a finished completion.
type Response struct {
	Text         string
	Usage        Usage
	FinishReason string
	Logprobs     []TokenLogprob
	// ToolCalls are the calls the model asked for, in its order (Complete only).
	ToolCalls []ToolCall
}

// Provider completes chat requests over one wire protocol.
//
// Stream calls onDelta with each piece of text as it arrives and returns the whole
// response at the end. It streams text only: a request that offers tools is
// refused with KindUnsupported before anything is sent (no caller streams tool
// calls: the gateway takes no tools, the scanner calls Complete). If onDelta returns an error the stream stops with that error.
// A stream cut off before the provider said it was done returns an error, never a
// partial Response presented as complete.
type Provider interface {
	Complete(ctx context.Context, req Request) (Response, error)
	Stream(ctx context.Context, req Request, onDelta func(text string) error) (Response, error)
}

// Embedder turns texts into vectors (OpenAI embeddings protocol).
type Embedder interface {
	Embed(ctx context.Context, model string, inputs []string) ([][]float64, error)
}

// Provider names, as used in routes and in models.yaml.
const (
	OpenAI           = "openai"
	Anthropic        = "anthropic"
	OpenRouter       = "openrouter"
	Gemini           = "gemini"
	Groq             = "groq"
	Ollama           = "ollama"
	OpenAICompatible = "openai_compatible"
	Demo             = "demo"
)

// Providers lists every provider name Mirror knows.
var Providers = []string{OpenAI, Anthropic, OpenRouter, Gemini, Groq, Ollama, OpenAICompatible, Demo}

// KnownProvider reports whether name is one of Providers.
func KnownProvider(name string) bool {
	for _, p := range Providers {
		if p == name {
			return true
		}
	}
	return false
}

// Route is a parsed LiteLLM route: "openrouter/meta-llama/llama-3-8b" is provider
// "openrouter", model "meta-llama/llama-3-8b".
type Route struct {
	Provider string
	Model    string
}

func (r Route) String() string { return r.Provider + "/" + r.Model }

// ParseRoute splits a route at its first slash and checks the provider is known.
func ParseRoute(s string) (Route, error) {
	provider, model, ok := strings.Cut(s, "/")
	if !ok || provider == "" || model == "" {
		return Route{}, fmt.Errorf("route %q is not in provider/model form", s)
	}
	if !KnownProvider(provider) {
		return Route{}, fmt.Errorf("route %q names unknown provider %q (known: %s)", s, provider, strings.Join(Providers, ", "))
	}
	return Route{Provider: provider, Model: model}, nil
}

// ErrorKind classifies a provider failure for retries and for the HTTP mapping.
type ErrorKind string

// Kinds of provider failure.
const (
	KindNotConfigured ErrorKind = "not_configured" // no credentials for the provider
	KindAuth          ErrorKind = "auth"           // 401/403 upstream
	KindBadRequest    ErrorKind = "bad_request"    // other upstream 4xx
	KindRateLimited   ErrorKind = "rate_limited"   // upstream 429 (retryable)
	KindServer        ErrorKind = "server"         // upstream 5xx (retryable)
	KindConnection    ErrorKind = "connection"     // refused, reset, DNS (retryable)
	KindTimeout       ErrorKind = "timeout"        // deadline passed
	KindMalformed     ErrorKind = "malformed"      // unparseable upstream answer
	KindIncomplete    ErrorKind = "incomplete"     // stream cut off before its end
	KindCanceled      ErrorKind = "canceled"       // the caller went away
	KindBlocked       ErrorKind = "blocked"        // the address was refused by the HTTP client's network policy (the scans' SSRF guard)
	KindUnsupported   ErrorKind = "unsupported"    // a request Mirror does not send this way (tools in a stream); nothing was sent
)

// Error is a provider failure. Message is safe to show: it never holds an API key.
type Error struct {
	Provider   string
	Kind       ErrorKind
	Status     int           // upstream HTTP status, if any
	RetryAfter time.Duration // upstream Retry-After, if any
	Message    string
	Err        error
	// Usage is what the provider reported of a stream's usage before it broke off
	// (nil: nothing), so an incomplete answer is still accounted for.
	Usage *Usage
}

// withUsage returns e carrying u, if u counts anything.
func withUsage(e *Error, u Usage) *Error {
	if e != nil && (u.InputTokens != 0 || u.OutputTokens != 0) {
		e.Usage = &u
	}
	return e
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s: %s", e.Provider, e.Kind)
	if e.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether trying again (or a fallback) may succeed.
func (e *Error) Retryable() bool {
	switch e.Kind {
	case KindRateLimited, KindServer, KindConnection, KindTimeout, KindIncomplete, KindMalformed:
		return true
	}
	return false
}

// The finish reasons Mirror reports, whatever each provider calls them.
const (
	FinishStop          = "stop"           // the model ended its answer
	FinishLength        = "length"         // the output token cap cut it
	FinishContentFilter = "content_filter" // a safety system stopped it
	FinishToolCalls     = "tool_calls"     // it asked for a tool
)

// NormalizeFinishReason maps a provider's finish or stop reason (OpenAI
// finish_reason, Anthropic stop_reason, Gemini finishReason) to one of the Finish
// constants; an unknown reason is returned in lower case, and "" stays "".
func NormalizeFinishReason(raw string) string {
	switch r := strings.ToLower(raw); r {
	case "stop", "end_turn", "stop_sequence", "eos", "pause_turn":
		return FinishStop
	case "length", "max_tokens", "model_length", "model_context_window_exceeded":
		return FinishLength
	case "content_filter", "safety", "recitation", "blocklist", "prohibited_content", "spii", "refusal", "image_safety":
		return FinishContentFilter
	case "tool_calls", "function_call", "tool_use", "malformed_function_call", "unexpected_tool_call":
		return FinishToolCalls
	default:
		return r
	}
}
