package llmtest

import (
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"mirror/internal/llm"
)

// NewOpenAIServer starts a fake of OpenAI's API under /v1: POST /v1/chat/completions
// (JSON, or server-sent events with stream_options.include_usage) and POST
// /v1/embeddings, authenticated by "Authorization: Bearer <Key>". The same fake
// stands in for OpenRouter, Groq, Ollama (with NoAuth) and vLLM.
func NewOpenAIServer(tb testing.TB, h Handler, opts ...Option) *Server {
	s := newServer(tb, OpenAI, "sk-proj-llmtest", h, opts, func(s *Server) http.Handler {
		mux := http.NewServeMux()
		mux.HandleFunc("/", s.openAINotFound)
		mux.HandleFunc("POST /v1/chat/completions", s.openAIChat)
		mux.HandleFunc("POST /v1/embeddings", s.openAIEmbeddings)
		return mux
	})
	s.BaseURL = s.URL() + "/v1"
	return s
}

type openAIRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role       string          `json:"role"`
		Content    json.RawMessage `json:"content"`
		ToolCallID string          `json:"tool_call_id"`
		ToolCalls  []struct {
			ID       string `json:"id"`
			Type     string `json:"type"`
			Function struct {
				Name      string `json:"name"`
				Arguments string `json:"arguments"`
			} `json:"function"`
		} `json:"tool_calls"`
	} `json:"messages"`
	Tools []struct {
		Type     string `json:"type"`
		Function struct {
			Name        string         `json:"name"`
			Description string         `json:"description"`
			Parameters  map[string]any `json:"parameters"`
		} `json:"function"`
	} `json:"tools"`
	ToolChoice          json.RawMessage `json:"tool_choice"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	Seed                *int64          `json:"seed"`
	Logprobs            bool            `json:"logprobs"`
	Stream              bool            `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// openAIError writes OpenAI's error body: {"error":{"message","type","param","code"}}.
func openAIError(w http.ResponseWriter, status int, message, typ string, code any) {
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"message": message, "type": typ, "param": nil, "code": code,
	}})
}

func (s *Server) openAINotFound(w http.ResponseWriter, r *http.Request) {
	openAIError(w, http.StatusNotFound, fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path), "invalid_request_error", nil)
}

// openAIAuth checks the bearer key. Unlike the real API, which masks all but the
// key's last four characters, the rejection quotes the presented key whole, so
// that tests prove the adapter scrubs it.
func (s *Server) openAIAuth(w http.ResponseWriter, r *http.Request) bool {
	if s.Key == "" {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || got == "" {
		openAIError(w, http.StatusUnauthorized, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).", "invalid_request_error", nil)
		return false
	}
	if got != s.Key {
		openAIError(w, http.StatusUnauthorized, "Incorrect API key provided: "+got+". You can find your API key at https://platform.openai.com/account/api-keys.", "invalid_request_error", "invalid_api_key")
		return false
	}
	return true
}

// openAIDecode authenticates r and decodes its body into v, answering the error
// itself when either fails.
func (s *Server) openAIDecode(w http.ResponseWriter, r *http.Request, v any) bool {
	if !s.openAIAuth(w, r) {
		return false
	}
	if err := decodeBody(w, r, v); err != nil {
		openAIError(w, http.StatusBadRequest, "We could not parse the JSON body of your request. ("+err.Error()+")", "invalid_request_error", nil)
		return false
	}
	return true
}

// openAIFailure writes rep's error status the way OpenAI does.
func openAIFailure(w http.ResponseWriter, rep Reply) {
	if rep.RetryAfter > 0 {
		w.Header().Set("retry-after-ms", strconv.FormatInt(rep.RetryAfter.Milliseconds(), 10))
		w.Header().Set("retry-after", strconv.Itoa(int(math.Ceil(rep.RetryAfter.Seconds()))))
	}
	msg, typ, code := rep.Message, "invalid_request_error", any(nil)
	switch {
	case rep.Status == http.StatusUnauthorized:
		typ, code = "invalid_request_error", "invalid_api_key"
		msg = cmp.Or(msg, "Incorrect API key provided.")
	case rep.Status == http.StatusTooManyRequests:
		typ, code = "requests", "rate_limit_exceeded"
		msg = cmp.Or(msg, "Rate limit reached for requests. Please try again later.")
	case rep.Status >= 500:
		typ = "server_error"
		msg = cmp.Or(msg, "The server had an error while processing your request. Sorry about that!")
	default:
		msg = cmp.Or(msg, "Invalid request.")
	}
	openAIError(w, rep.Status, msg, typ, code)
}

func (s *Server) openAIChat(w http.ResponseWriter, r *http.Request) {
	var in openAIRequest
	if !s.openAIDecode(w, r, &in) {
		return
	}
	req := ChatRequest{Protocol: OpenAI, Endpoint: EndpointChat, Model: in.Model, Temperature: in.Temperature,
		Seed: in.Seed, Logprobs: in.Logprobs, Stream: in.Stream, Header: r.Header.Clone()}
	switch {
	case in.MaxCompletionTokens != nil:
		req.MaxTokens = *in.MaxCompletionTokens
	case in.MaxTokens != nil:
		req.MaxTokens = *in.MaxTokens
	}
	var system []string
	for i, m := range in.Messages {
		text, err := contentText(m.Content)
		if err != nil {
			openAIError(w, http.StatusBadRequest, fmt.Sprintf("Invalid 'messages[%d].content': %v.", i, err), "invalid_request_error", nil)
			return
		}
		switch m.Role {
		case "system", "developer":
			system = append(system, text)
		case "user":
			req.Messages = append(req.Messages, llm.Message{Role: m.Role, Content: text})
		case "assistant":
			msg := llm.Message{Role: m.Role, Content: text}
			for j, tc := range m.ToolCalls {
				if tc.ID == "" || tc.Type != "function" || tc.Function.Name == "" {
					openAIError(w, http.StatusBadRequest, fmt.Sprintf("Invalid 'messages[%d].tool_calls[%d]': id, type \"function\" and function.name are required.", i, j), "invalid_request_error", nil)
					return
				}
				msg.ToolCalls = append(msg.ToolCalls, llm.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
			}
			req.Messages = append(req.Messages, msg)
		case "tool":
			req.Messages = append(req.Messages, llm.Message{Role: m.Role, Content: text, ToolCallID: m.ToolCallID})
		default:
			openAIError(w, http.StatusBadRequest, fmt.Sprintf("Invalid value for 'messages[%d].role': %q.", i, m.Role), "invalid_request_error", nil)
			return
		}
	}
	req.System = strings.Join(system, "\n")
	for i, t := range in.Tools {
		if err := checkSchema(t.Function.Name, t.Function.Parameters); err != nil || t.Type != "function" {
			openAIError(w, http.StatusBadRequest, fmt.Sprintf("Invalid 'tools[%d]': type must be \"function\" with a name and an object schema.", i), "invalid_request_error", nil)
			return
		}
		req.Tools = append(req.Tools, llm.Tool{Name: t.Function.Name, Description: t.Function.Description, Parameters: t.Function.Parameters})
	}
	if len(in.ToolChoice) > 0 {
		// A string ("none", "auto", "required") or a named function object.
		var choice string
		if json.Unmarshal(in.ToolChoice, &choice) != nil || !slices.Contains([]string{"none", "auto", "required"}, choice) {
			openAIError(w, http.StatusBadRequest, "Invalid value for 'tool_choice': expected one of none, auto or required.", "invalid_request_error", nil)
			return
		}
		if len(in.Tools) == 0 {
			openAIError(w, http.StatusBadRequest, "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", "invalid_request_error", nil)
			return
		}
		req.ToolChoice = choice
	}
	if err := toolResultPaired(req.Messages); err != nil {
		openAIError(w, http.StatusBadRequest, "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'. ("+err.Error()+")", "invalid_request_error", nil)
		return
	}
	if in.Model == "" {
		openAIError(w, http.StatusBadRequest, "you must provide a model parameter", "invalid_request_error", nil)
		return
	}
	if len(in.Messages) == 0 {
		openAIError(w, http.StatusBadRequest, "[] is too short - 'messages'", "invalid_request_error", nil)
		return
	}
	rep := s.dispatch(req)
	if !s.hold(r, rep) {
		return
	}
	addHeaders(w, rep.Header)
	w.Header().Set("x-request-id", "req_"+randomHex(8))
	switch {
	case rep.Status >= 400:
		openAIFailure(w, rep)
	case in.Stream:
		includeUsage := in.StreamOptions != nil && in.StreamOptions.IncludeUsage
		s.openAIStream(w, r, req, rep, includeUsage)
	case rep.Malformed:
		writeMalformed(w)
	default:
		writeJSON(w, http.StatusOK, openAICompletion(req, rep))
	}
}

func openAIUsage(u llm.Usage) map[string]any {
	return map[string]any{"prompt_tokens": u.InputTokens, "completion_tokens": u.OutputTokens, "total_tokens": u.InputTokens + u.OutputTokens}
}

func openAILogprobs(lp []llm.TokenLogprob) map[string]any {
	content := make([]map[string]any, len(lp))
	for i, t := range lp {
		content[i] = map[string]any{"token": t.Token, "logprob": t.Logprob, "bytes": []byte(t.Token), "top_logprobs": []any{}}
	}
	return map[string]any{"content": content, "refusal": nil}
}

func openAICompletion(req ChatRequest, rep Reply) map[string]any {
	var logprobs any
	if req.Logprobs {
		logprobs = openAILogprobs(rep.logprobs(rep.deltas()))
	}
	message := map[string]any{"role": "assistant", "content": rep.text(), "refusal": nil}
	finish := cmp.Or(rep.FinishReason, "stop")
	if len(rep.ToolCalls) > 0 {
		calls := make([]any, len(rep.ToolCalls))
		for i, c := range rep.ToolCalls {
			callArgs(c)
			calls[i] = map[string]any{"id": cmp.Or(c.ID, "call_"+randomHex(12)), "type": "function",
				"function": map[string]any{"name": c.Name, "arguments": c.Arguments}}
		}
		message["tool_calls"] = calls
		if rep.text() == "" {
			message["content"] = nil
		}
		finish = cmp.Or(rep.FinishReason, "tool_calls")
	}
	return map[string]any{
		"id":      "chatcmpl-" + randomHex(12),
		"object":  "chat.completion",
		"created": time.Now().Unix(),
		"model":   req.Model,
		"choices": []any{map[string]any{
			"index":         0,
			"message":       message,
			"logprobs":      logprobs,
			"finish_reason": finish,
		}},
		"usage":              openAIUsage(rep.usage(req)),
		"system_fingerprint": "fp_llmtest",
	}
}

// openAIStream sends chat.completion.chunk events: a role chunk, one chunk per
// delta, a finish chunk, the usage chunk when asked for, then [DONE].
func (s *Server) openAIStream(w http.ResponseWriter, r *http.Request, req ChatRequest, rep Reply, includeUsage bool) {
	id, created := "chatcmpl-"+randomHex(12), time.Now().Unix()
	chunk := func(choice map[string]any) map[string]any {
		c := map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model,
			"system_fingerprint": "fp_llmtest", "choices": []any{choice}}
		if includeUsage {
			c["usage"] = nil
		}
		return c
	}
	out := s.startSSE(w, r, "\n")
	out.event("", chunk(map[string]any{"index": 0, "delta": map[string]any{"role": "assistant", "content": ""}, "logprobs": nil, "finish_reason": nil}))
	if rep.Malformed {
		out.event("", `{"id": "`+id+`", "choices": [{"delta": {"content": "unterminated`)
		return
	}
	pieces, complete := rep.streamPlan()
	lps := rep.logprobs(rep.deltas())
	for i, p := range pieces {
		var logprobs any
		if req.Logprobs && i < len(lps) {
			logprobs = openAILogprobs(lps[i : i+1])
		}
		out.event("", chunk(map[string]any{"index": 0, "delta": map[string]any{"content": p}, "logprobs": logprobs, "finish_reason": nil}))
	}
	if !complete {
		out.cut(rep, func() {
			out.event("", map[string]any{"error": map[string]any{"message": cmp.Or(rep.Message, "The server had an error while processing your request."), "type": "server_error", "param": nil, "code": nil}})
		})
		return
	}
	out.event("", chunk(map[string]any{"index": 0, "delta": map[string]any{}, "logprobs": nil, "finish_reason": cmp.Or(rep.FinishReason, "stop")}))
	if includeUsage {
		out.event("", map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model,
			"choices": []any{}, "usage": openAIUsage(rep.usage(req))})
	}
	out.event("", "[DONE]")
}

type openAIEmbeddingRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat string          `json:"encoding_format"`
}

func (s *Server) openAIEmbeddings(w http.ResponseWriter, r *http.Request) {
	var in openAIEmbeddingRequest
	if !s.openAIDecode(w, r, &in) {
		return
	}
	var inputs []string
	if err := json.Unmarshal(in.Input, &inputs); err != nil {
		var one string
		if err := json.Unmarshal(in.Input, &one); err != nil {
			openAIError(w, http.StatusBadRequest, "'input' must be a string or an array of strings", "invalid_request_error", nil)
			return
		}
		inputs = []string{one}
	}
	if in.Model == "" || len(inputs) == 0 {
		openAIError(w, http.StatusBadRequest, "'model' and a non-empty 'input' are required", "invalid_request_error", nil)
		return
	}
	req := ChatRequest{Protocol: OpenAI, Endpoint: EndpointEmbeddings, Model: in.Model, Inputs: inputs, Header: r.Header.Clone()}
	rep := s.dispatch(req)
	if !s.hold(r, rep) {
		return
	}
	addHeaders(w, rep.Header)
	switch {
	case rep.Status >= 400:
		openAIFailure(w, rep)
		return
	case rep.Malformed:
		writeMalformed(w)
		return
	}
	data := make([]any, len(inputs))
	for i, text := range inputs {
		vec := s.embed(text)
		if i < len(rep.Embeddings) {
			vec = rep.Embeddings[i]
		}
		var embedding any = vec
		if in.EncodingFormat == "base64" {
			buf := make([]byte, 4*len(vec))
			for j, f := range vec {
				binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(float32(f)))
			}
			embedding = base64.StdEncoding.EncodeToString(buf)
		}
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": embedding}
	}
	u := rep.usage(req)
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data, "model": in.Model,
		"usage": map[string]any{"prompt_tokens": u.InputTokens, "total_tokens": u.InputTokens}})
}

// EmbedDims is the length of Embed's vectors.
const EmbedDims = 16

// Embed is the default embedding function: a normalised bag of hashed, lower-cased
// words, so texts sharing words are close in cosine distance and the same text
// always maps to the same vector.
func Embed(text string) []float64 {
	vec := make([]float64, EmbedDims)
	for _, w := range strings.Fields(strings.ToLower(text)) {
		h := fnv.New32a()
		_, _ = h.Write([]byte(w))
		sum := h.Sum32()
		sign := 1.0
		if sum&(1<<31) != 0 {
			sign = -1
		}
		vec[sum%EmbedDims] += sign
	}
	var norm float64
	for _, v := range vec {
		norm += v * v
	}
	if norm == 0 {
		vec[0] = 1
		return vec
	}
	norm = math.Sqrt(norm)
	for i := range vec {
		vec[i] /= norm
	}
	return vec
}
