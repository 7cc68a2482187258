package llmtest

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"mirror/internal/llm"
)

// NewGeminiServer starts a fake of the Gemini API (Google AI Studio):
// POST /v1beta/models/{model}:generateContent and
// POST /v1beta/models/{model}:streamGenerateContent?alt=sse, authenticated by the
// x-goog-api-key header (or the key query parameter). Errors are google.rpc.Status
// bodies; a wrong key is 400 INVALID_ARGUMENT with ErrorInfo reason
// API_KEY_INVALID, as the real API answers.
func NewGeminiServer(tb testing.TB, h Handler, opts ...Option) *Server {
	s := newServer(tb, Gemini, "AIzaSyLLMTEST", h, opts, func(s *Server) http.Handler {
		return http.HandlerFunc(s.geminiRoute)
	})
	s.BaseURL = s.URL()
	return s
}

type geminiContent struct {
	Role  string `json:"role"`
	Parts []struct {
		Text         string `json:"text"`
		Thought      bool   `json:"thought"`
		FunctionCall *struct {
			ID   string         `json:"id"`
			Name string         `json:"name"`
			Args map[string]any `json:"args"`
		} `json:"functionCall"`
		FunctionResponse *struct {
			ID       string         `json:"id"`
			Name     string         `json:"name"`
			Response map[string]any `json:"response"`
		} `json:"functionResponse"`
	} `json:"parts"`
}

// messages splits a content into turns: its text (and function calls, for the
// model), and one "tool" turn per functionResponse part.
func (c *geminiContent) messages(role string) ([]llm.Message, error) {
	msg := llm.Message{Role: role, Content: c.text()}
	var out []llm.Message
	for _, p := range c.Parts {
		if fc := p.FunctionCall; fc != nil {
			if role != "assistant" || fc.Name == "" {
				return nil, errors.New("functionCall parts belong to the model role and need a name")
			}
			msg.ToolCalls = append(msg.ToolCalls, llm.ToolCall{ID: fc.ID, Name: fc.Name, Arguments: rawJSON(orEmpty(fc.Args))})
		}
		if fr := p.FunctionResponse; fr != nil {
			if fr.Name == "" || fr.Response == nil {
				return nil, errors.New("functionResponse parts need a name and a response object")
			}
			out = append(out, llm.Message{Role: "tool", Content: rawJSON(fr.Response), ToolCallID: fr.ID, ToolName: fr.Name})
		}
	}
	if msg.Content != "" || len(msg.ToolCalls) > 0 || len(out) == 0 {
		out = append([]llm.Message{msg}, out...)
	}
	return out, nil
}

func (c *geminiContent) text() string {
	if c == nil {
		return ""
	}
	var b strings.Builder
	for _, p := range c.Parts {
		b.WriteString(p.Text)
	}
	return b.String()
}

type geminiRequest struct {
	Contents          []geminiContent `json:"contents"`
	SystemInstruction *geminiContent  `json:"systemInstruction"`
	Tools             []struct {
		FunctionDeclarations []struct {
			Name                 string         `json:"name"`
			Description          string         `json:"description"`
			Parameters           map[string]any `json:"parameters"`
			ParametersJSONSchema map[string]any `json:"parametersJsonSchema"`
		} `json:"functionDeclarations"`
	} `json:"tools"`
	ToolConfig *struct {
		FunctionCallingConfig *struct {
			Mode string `json:"mode"`
		} `json:"functionCallingConfig"`
	} `json:"toolConfig"`
	GenerationConfig *struct {
		MaxOutputTokens  int      `json:"maxOutputTokens"`
		Temperature      *float64 `json:"temperature"`
		Seed             *int64   `json:"seed"`
		ResponseLogprobs bool     `json:"responseLogprobs"`
	} `json:"generationConfig"`
}

// geminiStatuses are the google.rpc.Code names of the HTTP statuses.
var geminiStatuses = map[int]string{
	400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
	409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL", 501: "NOT_IMPLEMENTED",
	503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}

func geminiStatus(code int) string {
	if s, ok := geminiStatuses[code]; ok {
		return s
	}
	if code >= 500 {
		return "INTERNAL"
	}
	return "FAILED_PRECONDITION"
}

func geminiErrorBody(code int, message string, details ...any) map[string]any {
	e := map[string]any{"code": code, "message": message, "status": geminiStatus(code)}
	if len(details) > 0 {
		e["details"] = details
	}
	return map[string]any{"error": e}
}

func geminiError(w http.ResponseWriter, code int, message string, details ...any) {
	writeJSON(w, code, geminiErrorBody(code, message, details...))
}

// geminiAuth checks the key (quoting a wrong one whole, which the real API does
// not, so tests prove the adapter scrubs it).
func (s *Server) geminiAuth(w http.ResponseWriter, r *http.Request) bool {
	if s.Key == "" {
		return true
	}
	got := cmp.Or(r.Header.Get("X-Goog-Api-Key"), r.URL.Query().Get("key"))
	switch {
	case got == "":
		geminiError(w, http.StatusForbidden, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.")
		return false
	case got != s.Key:
		geminiError(w, http.StatusBadRequest, "API key not valid ("+got+"). Please pass a valid API key.",
			map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
				"domain": "googleapis.com", "metadata": map[string]any{"service": "generativelanguage.googleapis.com"}})
		return false
	}
	return true
}

func (s *Server) geminiRoute(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1beta/models/")
	model, method, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || model == "" || r.Method != http.MethodPost ||
		(method != "generateContent" && method != "streamGenerateContent") {
		geminiError(w, http.StatusNotFound, fmt.Sprintf("Method not found: %s %s", r.Method, r.URL.Path))
		return
	}
	if !s.geminiAuth(w, r) {
		return
	}
	stream := method == "streamGenerateContent"
	if stream && r.URL.Query().Get("alt") != "sse" {
		geminiError(w, http.StatusBadRequest, "llmtest serves streamGenerateContent only with alt=sse")
		return
	}
	var in geminiRequest
	if err := decodeBody(w, r, &in); err != nil {
		geminiError(w, http.StatusBadRequest, "Invalid JSON payload received. "+err.Error())
		return
	}
	if len(in.Contents) == 0 {
		geminiError(w, http.StatusBadRequest, "* GenerateContentRequest.contents: contents is not specified")
		return
	}
	req := ChatRequest{Protocol: Gemini, Endpoint: EndpointChat, Model: model, Stream: stream,
		System: in.SystemInstruction.text(), Header: r.Header.Clone()}
	for i, c := range in.Contents {
		role := "user"
		switch c.Role {
		case "", "user":
		case "model":
			role = "assistant"
		default:
			geminiError(w, http.StatusBadRequest, fmt.Sprintf("* GenerateContentRequest.contents[%d].role: Please use a valid role: user, model.", i))
			return
		}
		msgs, err := c.messages(role)
		if err != nil {
			geminiError(w, http.StatusBadRequest, fmt.Sprintf("* GenerateContentRequest.contents[%d].parts: %v", i, err))
			return
		}
		req.Messages = append(req.Messages, msgs...)
	}
	for i, t := range in.Tools {
		for j, d := range t.FunctionDeclarations {
			schema := d.ParametersJSONSchema
			if schema == nil {
				schema = d.Parameters
			}
			if d.Parameters != nil && d.ParametersJSONSchema != nil {
				geminiError(w, http.StatusBadRequest, fmt.Sprintf("* GenerateContentRequest.tools[%d].function_declarations[%d]: parameters and parameters_json_schema are mutually exclusive", i, j))
				return
			}
			if err := checkSchema(d.Name, schema); err != nil {
				geminiError(w, http.StatusBadRequest, fmt.Sprintf("* GenerateContentRequest.tools[%d].function_declarations[%d]: %v", i, j, err))
				return
			}
			req.Tools = append(req.Tools, llm.Tool{Name: d.Name, Description: d.Description, Parameters: schema})
		}
	}
	if in.ToolConfig != nil && in.ToolConfig.FunctionCallingConfig != nil {
		mode := in.ToolConfig.FunctionCallingConfig.Mode
		if !slices.Contains([]string{"MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"}, mode) {
			geminiError(w, http.StatusBadRequest, fmt.Sprintf("Invalid value at 'tool_config.function_calling_config.mode' (%s)", mode))
			return
		}
		req.ToolChoice = mode
	}
	if err := toolResultPaired(req.Messages); err != nil {
		geminiError(w, http.StatusBadRequest, "* GenerateContentRequest.contents: "+err.Error())
		return
	}
	if g := in.GenerationConfig; g != nil {
		req.MaxTokens, req.Temperature, req.Seed, req.Logprobs = g.MaxOutputTokens, g.Temperature, g.Seed, g.ResponseLogprobs
	}
	rep := s.dispatch(req)
	if !s.hold(r, rep) {
		return
	}
	addHeaders(w, rep.Header)
	switch {
	case rep.Status >= 400:
		var details []any
		if rep.RetryAfter > 0 {
			details = append(details, map[string]any{"@type": "type.googleapis.com/google.rpc.RetryInfo",
				"retryDelay": strconv.FormatFloat(rep.RetryAfter.Seconds(), 'f', -1, 64) + "s"})
		}
		msg := cmp.Or(rep.Message, strings.ToLower(http.StatusText(rep.Status)))
		geminiError(w, rep.Status, msg, details...)
	case stream:
		s.geminiStream(w, r, req, rep)
	case rep.Malformed:
		writeMalformed(w)
	default:
		writeJSON(w, http.StatusOK, geminiResponse(req, rep, rep.text(), rep.logprobs(rep.deltas()), cmp.Or(rep.FinishReason, "STOP"), true))
	}
}

// geminiResponse is one GenerateContentResponse; the streamed chunks have the same
// shape, with usage and finishReason only on the last.
func geminiResponse(req ChatRequest, rep Reply, text string, lps []llm.TokenLogprob, finish string, last bool) map[string]any {
	parts := []any{map[string]any{"text": text}}
	if len(rep.ToolCalls) > 0 && !req.Stream {
		if text == "" {
			parts = nil
		}
		for _, c := range rep.ToolCalls {
			fc := map[string]any{"name": c.Name, "args": callArgs(c)}
			if c.ID != "" {
				fc["id"] = c.ID
			}
			parts = append(parts, map[string]any{"functionCall": fc})
		}
	}
	cand := map[string]any{"index": 0, "content": map[string]any{"role": "model", "parts": parts}}
	if finish != "" {
		cand["finishReason"] = finish
	}
	if req.Logprobs && len(lps) > 0 {
		chosen := make([]any, len(lps))
		var sum float64
		for i, t := range lps {
			chosen[i] = map[string]any{"token": t.Token, "logProbability": t.Logprob}
			sum += t.Logprob
		}
		cand["logprobsResult"] = map[string]any{"chosenCandidates": chosen, "topCandidates": []any{}}
		cand["avgLogprobs"] = sum / float64(len(lps))
	}
	out := map[string]any{"candidates": []any{cand}, "modelVersion": req.Model, "responseId": randomHex(8)}
	u := rep.usage(req)
	if last {
		out["usageMetadata"] = map[string]any{"promptTokenCount": u.InputTokens, "candidatesTokenCount": u.OutputTokens,
			"totalTokenCount": u.InputTokens + u.OutputTokens}
	} else {
		out["usageMetadata"] = map[string]any{"promptTokenCount": u.InputTokens, "totalTokenCount": u.InputTokens}
	}
	return out
}

func (s *Server) geminiStream(w http.ResponseWriter, r *http.Request, req ChatRequest, rep Reply) {
	out := s.startSSE(w, r, "\r\n")
	if rep.Malformed {
		out.event("", `{"candidates": [{"content": {"parts": [{"text": "unterminated`)
		return
	}
	pieces, complete := rep.streamPlan()
	lps := rep.logprobs(rep.deltas())
	for i, p := range pieces {
		finish, last := "", complete && i == len(pieces)-1
		if last {
			finish = cmp.Or(rep.FinishReason, "STOP")
		}
		var lp []llm.TokenLogprob
		if i < len(lps) {
			lp = lps[i : i+1]
		}
		out.event("", geminiResponse(req, rep, p, lp, finish, last))
	}
	if !complete {
		out.cut(rep, func() {
			out.event("", geminiErrorBody(http.StatusServiceUnavailable, cmp.Or(rep.Message, "The model is overloaded. Please try again later.")))
		})
		return
	}
	if len(pieces) == 0 {
		out.event("", geminiResponse(req, rep, "", nil, cmp.Or(rep.FinishReason, "STOP"), true))
	}
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
