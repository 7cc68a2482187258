package llmtest

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
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
	Tools       []struct {
		Name        string         `json:"name"`
		Description string         `json:"description"`
		InputSchema map[string]any `json:"input_schema"`
	} `json:"tools"`
	ToolChoice *struct {
		Type string `json:"type"`
	} `json:"tool_choice"`
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
		if m.Role != "user" && m.Role != "assistant" {
			anthropicError(w, http.StatusBadRequest, "invalid_request_error", fmt.Sprintf("messages.%d.role: Input should be 'user' or 'assistant'", i))
			return
		}
		msgs, err := anthropicContent(m.Role, m.Content)
		if err != nil {
			anthropicError(w, http.StatusBadRequest, "invalid_request_error", fmt.Sprintf("messages.%d.content: %v", i, err))
			return
		}
		if i > 0 && in.Messages[i-1].Role == "assistant" {
			// Every tool_use must be answered by a tool_result in the very next message.
			prev := req.Messages[len(req.Messages)-1]
			for _, c := range prev.ToolCalls {
				if !slices.ContainsFunc(msgs, func(r llm.Message) bool { return r.Role == "tool" && r.ToolCallID == c.ID }) {
					anthropicError(w, http.StatusBadRequest, "invalid_request_error", fmt.Sprintf("messages.%d: `tool_use` ids were found without `tool_result` blocks immediately after: %s. Each `tool_use` block must have a corresponding `tool_result` block in the next message.", i, c.ID))
					return
				}
			}
		}
		req.Messages = append(req.Messages, msgs...)
	}
	for i, t := range in.Tools {
		if err := checkSchema(t.Name, t.InputSchema); err != nil || t.InputSchema == nil {
			anthropicError(w, http.StatusBadRequest, "invalid_request_error", fmt.Sprintf("tools.%d.input_schema: Field required, and must be a JSON Schema of type object", i))
			return
		}
		req.Tools = append(req.Tools, llm.Tool{Name: t.Name, Description: t.Description, Parameters: t.InputSchema})
	}
	if in.ToolChoice != nil {
		if !slices.Contains([]string{"auto", "any", "tool", "none"}, in.ToolChoice.Type) {
			anthropicError(w, http.StatusBadRequest, "invalid_request_error", "tool_choice.type: Input tag '"+in.ToolChoice.Type+"' found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'")
			return
		}
		req.ToolChoice = in.ToolChoice.Type
	}
	if err := toolResultPaired(req.Messages); err != nil {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "unexpected `tool_use_id` found in `tool_result` blocks: "+err.Error())
		return
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
		content := []any{}
		if rep.text() != "" || len(rep.ToolCalls) == 0 {
			content = append(content, map[string]any{"type": "text", "text": rep.text()})
		}
		stop := cmp.Or(rep.FinishReason, "end_turn")
		for _, c := range rep.ToolCalls {
			content = append(content, map[string]any{"type": "tool_use", "id": cmp.Or(c.ID, "toolu_"+randomHex(12)),
				"name": c.Name, "input": callArgs(c)})
			stop = cmp.Or(rep.FinishReason, "tool_use")
		}
		writeJSON(w, http.StatusOK, anthropicMessage(req, rep, content, stop, rep.usage(req)))
	}
}

// anthropicContent reads one message's content, a string or an array of blocks:
// text, tool_use (assistant) and tool_result (user, each becoming a "tool" turn,
// its content a string or text blocks).
func anthropicContent(role string, raw json.RawMessage) ([]llm.Message, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return []llm.Message{{Role: role, Content: s}}, nil
	}
	var blocks []struct {
		Type      string          `json:"type"`
		Text      string          `json:"text"`
		ID        string          `json:"id"`
		Name      string          `json:"name"`
		Input     json.RawMessage `json:"input"`
		ToolUseID string          `json:"tool_use_id"`
		Content   json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return nil, errors.New("content must be a string or an array of content blocks")
	}
	var out []llm.Message
	var text strings.Builder
	msg := llm.Message{Role: role}
	for j, b := range blocks {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
		case "tool_use":
			var input map[string]any
			if role != "assistant" || b.ID == "" || b.Name == "" || json.Unmarshal(b.Input, &input) != nil || input == nil {
				return nil, fmt.Errorf("%d: a tool_use block (assistant only) needs id, name and an input object", j)
			}
			msg.ToolCalls = append(msg.ToolCalls, llm.ToolCall{ID: b.ID, Name: b.Name, Arguments: rawJSON(input)})
		case "tool_result":
			result, err := contentText(b.Content)
			if role != "user" || b.ToolUseID == "" || err != nil {
				return nil, fmt.Errorf("%d: a tool_result block (user only) needs tool_use_id and text content", j)
			}
			out = append(out, llm.Message{Role: "tool", Content: result, ToolCallID: b.ToolUseID})
		default:
			return nil, fmt.Errorf("%d.type: llmtest does not serve %q blocks", j, b.Type)
		}
	}
	msg.Content = text.String()
	if msg.Content != "" || len(msg.ToolCalls) > 0 || len(out) == 0 {
		out = append(out, msg)
	}
	return out, nil
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
