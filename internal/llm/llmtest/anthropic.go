package llmtest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"mirror/internal/llm"
)

// NewAnthropicServer starts a fake of Anthropic's messages API: POST /v1/messages,
// JSON or server-sent events (message_start, content_block_start, ping,
// content_block_delta, content_block_stop, message_delta, message_stop),
// authenticated by x-api-key and requiring the anthropic-version header.
func NewAnthropicServer(tb testing.TB, h Handler, opts ...Option) *Server {
	s := newServer(tb, Anthropic, "sk-ant-api03-llmtest", h, opts, func(s *Server) http.Handler {
		mux := http.NewServeMux()
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			anthropicError(w, http.StatusNotFound, "not_found_error", "Not Found")
		})
		mux.HandleFunc("POST /v1/messages", s.anthropicMessages)
		return mux
	})
	s.BaseURL = s.URL()
	return s
}

type anthropicRequest struct {
	Model     string          `json:"model"`
	MaxTokens *int            `json:"max_tokens"`
	System    json.RawMessage `json:"system"`
	Messages  []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Temperature *float64 `json:"temperature"`
	Stream      bool     `json:"stream"`
}

// anthropicErrorTypes are the error types of Anthropic's documentation by status.
var anthropicErrorTypes = map[int]string{
	400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
	404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
	500: "api_error", 529: "overloaded_error",
}

func anthropicErrorBody(typ, message string) map[string]any {
	return map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": message},
		"request_id": "req_" + randomHex(12)}
}

func anthropicError(w http.ResponseWriter, status int, typ, message string) {
	w.Header().Set("request-id", "req_"+randomHex(12))
	writeJSON(w, status, anthropicErrorBody(typ, message))
}

// anthropicAuth checks x-api-key (quoting a wrong key whole, which the real API
// does not, so tests prove the adapter scrubs it) and anthropic-version.
func (s *Server) anthropicAuth(w http.ResponseWriter, r *http.Request) bool {
	if s.Key != "" {
		switch got := r.Header.Get("X-Api-Key"); {
		case got == "":
			anthropicError(w, http.StatusUnauthorized, "authentication_error", "x-api-key header is required")
			return false
		case got != s.Key:
			anthropicError(w, http.StatusUnauthorized, "authentication_error", "invalid x-api-key: "+got)
			return false
		}
	}
	if r.Header.Get("Anthropic-Version") == "" {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "anthropic-version: header is required")
		return false
	}
	return true
}

func (s *Server) anthropicMessages(w http.ResponseWriter, r *http.Request) {
	if !s.anthropicAuth(w, r) {
		return
	}
	var in anthropicRequest
	if err := decodeBody(w, r, &in); err != nil {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "There was an issue with your request body: "+err.Error())
		return
	}
	system, err := contentText(in.System)
	if err != nil {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "system: "+err.Error())
		return
	}
	req := ChatRequest{Protocol: Anthropic, Endpoint: EndpointChat, Model: in.Model, System: system,
		Temperature: in.Temperature, Stream: in.Stream, Header: r.Header.Clone()}
	for i, m := range in.Messages {
		text, err := contentText(m.Content)
		if err != nil {
			anthropicError(w, http.StatusBadRequest, "invalid_request_error", fmt.Sprintf("messages.%d.content: %v", i, err))
			return
		}
		if m.Role != "user" && m.Role != "assistant" {
			anthropicError(w, http.StatusBadRequest, "invalid_request_error", fmt.Sprintf("messages.%d.role: Input should be 'user' or 'assistant'", i))
			return
		}
		req.Messages = append(req.Messages, llm.Message{Role: m.Role, Content: text})
	}
	switch {
	case in.Model == "":
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "model: Field required")
		return
	case in.MaxTokens == nil || *in.MaxTokens < 1:
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "max_tokens: Field required")
		return
	case len(in.Messages) == 0:
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "messages: at least one message is required")
		return
	}
	req.MaxTokens = *in.MaxTokens
	rep := s.dispatch(req)
	if !s.hold(r, rep) {
		return
	}
	addHeaders(w, rep.Header)
	w.Header().Set("request-id", "req_"+randomHex(12))
	switch {
	case rep.Status >= 400:
		if rep.RetryAfter > 0 {
			w.Header().Set("retry-after", strconv.Itoa(int(math.Ceil(rep.RetryAfter.Seconds()))))
		}
		typ := cmp.Or(anthropicErrorTypes[rep.Status], "api_error")
		if rep.Status < 500 && anthropicErrorTypes[rep.Status] == "" {
			typ = "invalid_request_error"
		}
		anthropicError(w, rep.Status, typ, cmp.Or(rep.Message, strings.ReplaceAll(typ, "_", " ")))
	case in.Stream:
		s.anthropicStream(w, r, req, rep)
	case rep.Malformed:
		writeMalformed(w)
	default:
		writeJSON(w, http.StatusOK, anthropicMessage(req, rep, []any{map[string]any{"type": "text", "text": rep.text()}},
			cmp.Or(rep.FinishReason, "end_turn"), rep.usage(req)))
	}
}

func anthropicMessage(req ChatRequest, rep Reply, content []any, stopReason any, u llm.Usage) map[string]any {
	return map[string]any{
		"id": "msg_" + randomHex(12), "type": "message", "role": "assistant", "model": req.Model,
		"content": content, "stop_reason": stopReason, "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": u.InputTokens, "output_tokens": u.OutputTokens,
			"cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
	}
}

func (s *Server) anthropicStream(w http.ResponseWriter, r *http.Request, req ChatRequest, rep Reply) {
	u := rep.usage(req)
	out := s.startSSE(w, r, "\n")
	out.event("message_start", map[string]any{"type": "message_start",
		"message": anthropicMessage(req, rep, []any{}, nil, llm.Usage{InputTokens: u.InputTokens, OutputTokens: 1})})
	out.event("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
		"content_block": map[string]any{"type": "text", "text": ""}})
	out.event("ping", map[string]any{"type": "ping"})
	if rep.Malformed {
		out.event("content_block_delta", `{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "unterminated`)
		return
	}
	pieces, complete := rep.streamPlan()
	for _, p := range pieces {
		out.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
			"delta": map[string]any{"type": "text_delta", "text": p}})
	}
	if !complete {
		out.cut(rep, func() {
			out.event("error", anthropicErrorBody("overloaded_error", cmp.Or(rep.Message, "Overloaded")))
		})
		return
	}
	out.event("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0})
	out.event("message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": cmp.Or(rep.FinishReason, "end_turn"), "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": u.OutputTokens}})
	out.event("message_stop", map[string]any{"type": "message_stop"})
}
