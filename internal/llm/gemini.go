package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/genai"
)

// GeminiProvider speaks the Gemini API (Google AI Studio) generateContent and
// streamGenerateContent protocol through the official google.golang.org/genai SDK.
type GeminiProvider struct {
	core
	models *genai.Models
}

var _ Provider = (*GeminiProvider)(nil)

// NewGemini returns an adapter for the Gemini API backend with an API key (sent as
// x-goog-api-key). It fails when the key is empty or the SDK rejects the
// configuration; the error never quotes the key.
func NewGemini(o Options) (*GeminiProvider, error) {
	if o.Provider == "" {
		o.Provider = Gemini
	}
	if o.APIKey == "" {
		return nil, &Error{Provider: o.Provider, Kind: KindNotConfigured, Message: "no API key configured"}
	}
	c := newCore(o)
	client, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		APIKey:     o.APIKey,
		Backend:    genai.BackendGeminiAPI,
		HTTPClient: c.client,
		HTTPOptions: genai.HTTPOptions{
			BaseURL:    c.baseURL + "/",
			APIVersion: "v1beta",
		},
	})
	if err != nil {
		// genai's configuration errors print the whole ClientConfig, key included.
		return nil, fmt.Errorf("gemini client: %s", cleanMessage(err.Error(), o.APIKey))
	}
	return &GeminiProvider{core: c, models: client.Models}, nil
}

// request splits a Request into the SDK's contents and config: system messages
// become the SystemInstruction, assistant turns the "model" role.
func (p *GeminiProvider) request(req Request) ([]*genai.Content, *genai.GenerateContentConfig) {
	cfg := &genai.GenerateContentConfig{}
	var contents []*genai.Content
	var system []*genai.Part
	for _, m := range req.Messages {
		switch m.Role {
		case "system":
			system = append(system, genai.NewPartFromText(m.Content))
		case "assistant":
			if len(m.ToolCalls) == 0 {
				contents = append(contents, genai.NewContentFromText(m.Content, genai.RoleModel))
				break
			}
			var parts []*genai.Part
			if m.Content != "" {
				parts = append(parts, genai.NewPartFromText(m.Content))
			}
			for _, tc := range m.ToolCalls {
				part := genai.NewPartFromFunctionCall(tc.Name, argsObject(tc.Arguments))
				part.FunctionCall.ID = geminiCallID(tc.ID)
				parts = append(parts, part)
			}
			contents = append(contents, genai.NewContentFromParts(parts, genai.RoleModel))
		case "tool":
			// The result is an object; text that is not one goes under "output", the
			// key Google's documentation uses.
			var resp map[string]any
			if json.Unmarshal([]byte(m.Content), &resp) != nil || resp == nil {
				resp = map[string]any{"output": m.Content}
			}
			part := genai.NewPartFromFunctionResponse(m.ToolName, resp)
			part.FunctionResponse.ID = geminiCallID(m.ToolCallID)
			if n := len(contents); n > 0 && contents[n-1].Role == genai.RoleUser && isFunctionResponses(contents[n-1]) {
				contents[n-1].Parts = append(contents[n-1].Parts, part)
			} else {
				contents = append(contents, genai.NewContentFromParts([]*genai.Part{part}, genai.RoleUser))
			}
		default:
			contents = append(contents, genai.NewContentFromText(m.Content, genai.RoleUser))
		}
	}
	if len(system) > 0 {
		cfg.SystemInstruction = &genai.Content{Parts: system}
	}
	if req.MaxOutputTokens > 0 {
		cfg.MaxOutputTokens = int32(min(req.MaxOutputTokens, 1<<31-1))
	}
	if req.Temperature != nil {
		t := float32(*req.Temperature)
		cfg.Temperature = &t
	}
	if req.Seed != 0 {
		s := int32(req.Seed) // the API's seed is an int32; truncation keeps it deterministic
		cfg.Seed = &s
	}
	if req.Logprobs {
		cfg.ResponseLogprobs = true
	}
	if len(req.Tools) > 0 {
		decls := make([]*genai.FunctionDeclaration, len(req.Tools))
		for i, t := range req.Tools {
			decls[i] = &genai.FunctionDeclaration{Name: t.Name, Description: t.Description, ParametersJsonSchema: t.objectSchema()}
		}
		cfg.Tools = []*genai.Tool{{FunctionDeclarations: decls}}
		switch req.ToolChoice {
		case ToolChoiceRequired:
			cfg.ToolConfig = &genai.ToolConfig{FunctionCallingConfig: &genai.FunctionCallingConfig{Mode: genai.FunctionCallingConfigModeAny}}
		case ToolChoiceAuto:
			cfg.ToolConfig = &genai.ToolConfig{FunctionCallingConfig: &genai.FunctionCallingConfig{Mode: genai.FunctionCallingConfigModeAuto}}
		}
	}
	return contents, cfg
}

// geminiSyntheticID prefixes the ids Mirror gives function calls that came
// without one; they are not sent back to the API.
const geminiSyntheticID = "mirror-call-"

func geminiCallID(id string) string {
	if strings.HasPrefix(id, geminiSyntheticID) {
		return ""
	}
	return id
}

func isFunctionResponses(c *genai.Content) bool {
	for _, p := range c.Parts {
		if p == nil || p.FunctionResponse == nil {
			return false
		}
	}
	return len(c.Parts) > 0
}

// Complete calls generateContent and reads the first candidate.
func (p *GeminiProvider) Complete(ctx context.Context, req Request) (Response, error) {
	contents, cfg := p.request(req)
	return doRetry(ctx, p.retry, defaultRetryable, func(ctx context.Context) (Response, error) {
		actx, cancel, meta := p.attempt(ctx)
		defer cancel()
		out, err := p.models.GenerateContent(actx, req.Model, contents, cfg)
		if err != nil {
			return Response{}, p.failure(ctx, actx, meta, err, geminiFailure(err), false)
		}
		var resp Response
		if !geminiAccumulate(&resp, out, nil) {
			return Response{}, &Error{Provider: p.provider, Kind: KindMalformed, Message: "the answer has no candidates"}
		}
		return resp, nil
	})
}

// Stream calls streamGenerateContent?alt=sse. The answer is finished once a
// candidate carried a finishReason; a stream that ends before is KindIncomplete.
func (p *GeminiProvider) Stream(ctx context.Context, req Request, onDelta func(string) error) (Response, error) {
	if e := refuseStreamTools(p.provider, req); e != nil {
		return Response{}, e
	}
	contents, cfg := p.request(req)
	return p.retryStream(ctx, onDelta, func(ctx, actx context.Context, idle *idleTimer, emit func(string) error) (Response, error) {
		var (
			resp     Response
			text     strings.Builder
			deltaErr error
		)
		for chunk, err := range p.models.GenerateContentStream(actx, req.Model, contents, cfg) {
			if err != nil {
				return Response{}, withUsage(p.failure(ctx, actx, idle.meta, err, geminiFailure(err), idle.started()), resp.Usage)
			}
			idle.reset()
			geminiAccumulate(&resp, chunk, func(d string) {
				if deltaErr != nil {
					return
				}
				text.WriteString(d)
				deltaErr = emit(d)
			})
			if deltaErr != nil {
				return Response{}, deltaErr
			}
		}
		if resp.FinishReason == "" {
			return Response{}, withUsage(&Error{Provider: p.provider, Kind: KindIncomplete,
				Message: "the stream ended before a finishReason"}, resp.Usage)
		}
		resp.Text = text.String()
		return resp, nil
	})
}

// geminiAccumulate folds one generateContent answer (or stream chunk) into resp:
// text of the first candidate's non-thought parts (given to onText when set,
// appended to resp.Text otherwise), finish reason, usage and logprobs. It
// reports whether the answer had a candidate.
func geminiAccumulate(resp *Response, out *genai.GenerateContentResponse, onText func(string)) bool {
	if u := out.UsageMetadata; u != nil {
		// Thinking tokens are billed as output.
		resp.Usage = Usage{InputTokens: int(u.PromptTokenCount), OutputTokens: int(u.CandidatesTokenCount + u.ThoughtsTokenCount)}
	}
	if len(out.Candidates) == 0 || out.Candidates[0] == nil {
		return false
	}
	c := out.Candidates[0]
	if c.Content != nil {
		for _, part := range c.Content.Parts {
			if part != nil && part.FunctionCall != nil {
				fc := part.FunctionCall
				args, err := json.Marshal(fc.Args)
				if err != nil || fc.Args == nil {
					args = []byte("{}")
				}
				id := fc.ID
				if id == "" {
					id = fmt.Sprintf("%s%d", geminiSyntheticID, len(resp.ToolCalls)+1)
				}
				resp.ToolCalls = append(resp.ToolCalls, ToolCall{ID: id, Name: fc.Name, Arguments: string(args)})
				continue
			}
			if part == nil || part.Thought || part.Text == "" {
				continue
			}
			if onText != nil {
				onText(part.Text)
			} else {
				resp.Text += part.Text
			}
		}
	}
	if c.FinishReason != "" {
		resp.FinishReason = string(c.FinishReason)
	}
	if lp := c.LogprobsResult; lp != nil {
		for _, t := range lp.ChosenCandidates {
			if t != nil {
				resp.Logprobs = append(resp.Logprobs, TokenLogprob{Token: t.Token, Logprob: float64(t.LogProbability)})
			}
		}
	}
	return true
}

// geminiFailure reads genai's APIError: the Gemini API's google.rpc.Status body.
// An invalid key comes back as 400 INVALID_ARGUMENT with ErrorInfo reason
// API_KEY_INVALID, which is an auth failure; a 429 says how long to wait in
// RetryInfo.retryDelay rather than in a header.
func geminiFailure(err error) *apiFailure {
	var apiErr genai.APIError
	if !errors.As(err, &apiErr) {
		var p *genai.APIError
		if !errors.As(err, &p) || p == nil {
			return nil
		}
		apiErr = *p
	}
	f := &apiFailure{status: apiErr.Code, message: apiErr.Message}
	for _, d := range apiErr.Details {
		typ, _ := d["@type"].(string)
		switch {
		case strings.HasSuffix(typ, "google.rpc.ErrorInfo"):
			if reason, _ := d["reason"].(string); reason == "API_KEY_INVALID" {
				f.kind = KindAuth
			}
		case strings.HasSuffix(typ, "google.rpc.RetryInfo"):
			if delay, ok := d["retryDelay"].(string); ok {
				f.retryAfter = parseGoogleDuration(delay)
			}
		}
	}
	if f.status == 0 && f.kind == "" {
		f.kind = KindServer // an error object inside a 200 stream
	}
	return f
}
