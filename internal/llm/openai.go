package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/shared"
)

// OpenAIProvider speaks OpenAI's chat completions and embeddings protocol through
// the official SDK. With a base URL it serves every OpenAI-compatible provider:
// OpenRouter, Groq, Ollama, vLLM.
type OpenAIProvider struct {
	core
	chat       openai.ChatCompletionService
	embeddings openai.EmbeddingService
}

var (
	_ Provider = (*OpenAIProvider)(nil)
	_ Embedder = (*OpenAIProvider)(nil)
)

// NewOpenAI returns an adapter for o.Provider (default "openai"). It builds the SDK's
// services from explicit options only, so OPENAI_API_KEY, OPENAI_BASE_URL and their
// kin in the process environment are never picked up behind the caller's back: an
// Ollama server is never sent an OpenAI key. The SDK's retries are off; the adapter's
// own (Options.MaxRetries) apply.
func NewOpenAI(o Options) *OpenAIProvider {
	if o.Provider == "" {
		o.Provider = OpenAI
	}
	c := newCore(o)
	opts := []option.RequestOption{
		option.WithBaseURL(c.baseURL + "/"),
		option.WithAPIKey(o.APIKey),
		option.WithHTTPClient(c.client),
		option.WithMaxRetries(0),
	}
	return &OpenAIProvider{
		core:       c,
		chat:       openai.NewChatCompletionService(opts...),
		embeddings: openai.NewEmbeddingService(opts...),
	}
}

// params builds the chat completions body. OpenAI's own API takes
// max_completion_tokens (its reasoning models refuse max_tokens); the compatible
// servers (Ollama, vLLM, OpenRouter, Groq) all understand max_tokens.
func (p *OpenAIProvider) params(req Request) openai.ChatCompletionNewParams {
	params := openai.ChatCompletionNewParams{Model: req.Model}
	for _, m := range req.Messages {
		switch m.Role {
		case "system":
			params.Messages = append(params.Messages, openai.SystemMessage(m.Content))
		case "assistant":
			params.Messages = append(params.Messages, openAIAssistant(m))
		case "tool":
			params.Messages = append(params.Messages, openai.ToolMessage(m.Content, m.ToolCallID))
		default:
			params.Messages = append(params.Messages, openai.UserMessage(m.Content))
		}
	}
	for _, t := range req.Tools {
		params.Tools = append(params.Tools, openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name: t.Name, Description: param.NewOpt(t.Description), Parameters: shared.FunctionParameters(t.objectSchema()),
		}))
	}
	if len(req.Tools) > 0 && req.ToolChoice != "" {
		params.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: param.NewOpt(req.ToolChoice)}
	}
	if req.MaxOutputTokens > 0 {
		if p.provider == OpenAI {
			params.MaxCompletionTokens = param.NewOpt(int64(req.MaxOutputTokens))
		} else {
			params.MaxTokens = param.NewOpt(int64(req.MaxOutputTokens))
		}
	}
	if req.Temperature != nil {
		params.Temperature = param.NewOpt(*req.Temperature)
	}
	if req.Seed != 0 {
		params.Seed = param.NewOpt(req.Seed)
	}
	if req.Logprobs {
		params.Logprobs = param.NewOpt(true)
	}
	return params
}

func (p *OpenAIProvider) checkConfigured() *Error {
	if p.baseURL == "" {
		return &Error{Provider: p.provider, Kind: KindNotConfigured, Message: "no base URL configured"}
	}
	return nil
}

// Complete sends one chat completion and returns its first choice.
func (p *OpenAIProvider) Complete(ctx context.Context, req Request) (Response, error) {
	if e := p.checkConfigured(); e != nil {
		return Response{}, e
	}
	params := p.params(req)
	return doRetry(ctx, p.retry, defaultRetryable, func(ctx context.Context) (Response, error) {
		actx, cancel, meta := p.attempt(ctx)
		defer cancel()
		var out chatCompletion
		if _, err := p.chat.New(actx, params, option.WithResponseBodyInto(&out)); err != nil {
			return Response{}, p.failure(ctx, actx, meta, err, openAIFailure(err), false)
		}
		if len(out.Choices) == 0 {
			return Response{}, &Error{Provider: p.provider, Kind: KindMalformed, Message: "the answer has no choices"}
		}
		ch := out.Choices[0]
		return Response{
			Text:         ch.Message.Content,
			FinishReason: ch.FinishReason,
			Usage:        Usage{InputTokens: int(out.Usage.PromptTokens), OutputTokens: int(out.Usage.CompletionTokens)},
			Logprobs:     ch.logprobs(),
			ToolCalls:    ch.toolCalls(),
		}, nil
	})
}

// chatCompletion is the part of a chat completion that Mirror reads. The SDK still
// sends the request, authenticates, maps error statuses to *openai.Error and reads
// the body; WithResponseBodyInto only swaps its decoding target. Its own
// openai.ChatCompletion keeps the raw JSON of every field beside its value, which
// cost about a fifth of the gateway's own CPU per request (docs/BENCHMARKS.md).
// Like the SDK's decoder, it is lenient with what it does not need: token counts
// may be written as floats, and unreadable logprobs are dropped, not fatal.
type chatCompletion struct {
	Choices []chatChoice `json:"choices"`
	Usage   struct {
		PromptTokens     float64 `json:"prompt_tokens"`
		CompletionTokens float64 `json:"completion_tokens"`
	} `json:"usage"`
}

type chatChoice struct {
	Message struct {
		Content   string `json:"content"`
		ToolCalls []struct {
			ID       string `json:"id"`
			Type     string `json:"type"`
			Function struct {
				Name      string `json:"name"`
				Arguments string `json:"arguments"`
			} `json:"function"`
		} `json:"tool_calls"`
	} `json:"message"`
	FinishReason string          `json:"finish_reason"`
	Logprobs     json.RawMessage `json:"logprobs"`
}

// toolCalls returns the function calls of the message (other tool types, such as
// custom tools, are not offered by Mirror and are skipped).
func (c chatChoice) toolCalls() []ToolCall {
	var out []ToolCall
	for _, tc := range c.Message.ToolCalls {
		if tc.Type != "" && tc.Type != "function" {
			continue
		}
		out = append(out, ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
	}
	return out
}

// openAIAssistant is an assistant turn, with its tool calls when it made some
// (content may then be empty, which the protocol sends as no content at all).
func openAIAssistant(m Message) openai.ChatCompletionMessageParamUnion {
	if len(m.ToolCalls) == 0 {
		return openai.AssistantMessage(m.Content)
	}
	a := openai.ChatCompletionAssistantMessageParam{}
	if m.Content != "" {
		a.Content.OfString = param.NewOpt(m.Content)
	}
	for _, tc := range m.ToolCalls {
		a.ToolCalls = append(a.ToolCalls, openai.ChatCompletionMessageToolCallUnionParam{
			OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{
				ID:       tc.ID,
				Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{Name: tc.Name, Arguments: tc.Arguments},
			},
		})
	}
	return openai.ChatCompletionMessageParamUnion{OfAssistant: &a}
}

func (c chatChoice) logprobs() []TokenLogprob {
	var lp struct {
		Content []TokenLogprob `json:"content"`
	}
	if len(c.Logprobs) == 0 || json.Unmarshal(c.Logprobs, &lp) != nil {
		return nil
	}
	return lp.Content
}

// Stream sends a streaming chat completion (with stream_options.include_usage).
// The answer counts as finished once a choice carried a finish_reason; a stream
// that ends before that, cleanly or not, is KindIncomplete.
func (p *OpenAIProvider) Stream(ctx context.Context, req Request, onDelta func(string) error) (Response, error) {
	if e := p.checkConfigured(); e != nil {
		return Response{}, e
	}
	if e := refuseStreamTools(p.provider, req); e != nil {
		return Response{}, e
	}
	params := p.params(req)
	params.StreamOptions.IncludeUsage = param.NewOpt(true)
	return p.retryStream(ctx, onDelta, func(ctx, actx context.Context, idle *idleTimer, emit func(string) error) (Response, error) {
		stream := p.chat.NewStreaming(actx, params)
		defer stream.Close()
		var (
			text strings.Builder
			resp Response
		)
		for stream.Next() {
			idle.reset()
			chunk := stream.Current()
			if u := chunk.Usage; u.PromptTokens != 0 || u.CompletionTokens != 0 {
				resp.Usage = Usage{InputTokens: int(u.PromptTokens), OutputTokens: int(u.CompletionTokens)}
			}
			for _, ch := range chunk.Choices {
				if ch.Index != 0 {
					continue
				}
				resp.Logprobs = append(resp.Logprobs, openAILogprobs(ch.Logprobs.Content)...)
				if ch.FinishReason != "" {
					resp.FinishReason = ch.FinishReason
				}
				if d := ch.Delta.Content; d != "" {
					text.WriteString(d)
					if err := emit(d); err != nil {
						return Response{}, err
					}
				}
			}
		}
		if err := stream.Err(); err != nil {
			return Response{}, withUsage(p.failure(ctx, actx, idle.meta, err, openAIFailure(err), idle.started()), resp.Usage)
		}
		if resp.FinishReason == "" {
			return Response{}, withUsage(&Error{Provider: p.provider, Kind: KindIncomplete,
				Message: "the stream ended before the provider finished the answer"}, resp.Usage)
		}
		resp.Text = text.String()
		return resp, nil
	})
}

// Embed returns one vector per input, in input order.
func (p *OpenAIProvider) Embed(ctx context.Context, model string, inputs []string) ([][]float64, error) {
	if e := p.checkConfigured(); e != nil {
		return nil, e
	}
	params := openai.EmbeddingNewParams{
		Model:          model,
		Input:          openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: inputs},
		EncodingFormat: openai.EmbeddingNewParamsEncodingFormatFloat,
	}
	return doRetry(ctx, p.retry, defaultRetryable, func(ctx context.Context) ([][]float64, error) {
		actx, cancel, meta := p.attempt(ctx)
		defer cancel()
		out, err := p.embeddings.New(actx, params)
		if err != nil {
			return nil, p.failure(ctx, actx, meta, err, openAIFailure(err), false)
		}
		vecs := make([][]float64, len(inputs))
		for _, d := range out.Data {
			if d.Index < 0 || int(d.Index) >= len(vecs) || vecs[d.Index] != nil {
				return nil, &Error{Provider: p.provider, Kind: KindMalformed, Message: fmt.Sprintf("embedding index %d out of range or repeated", d.Index)}
			}
			vecs[d.Index] = d.Embedding
		}
		for i, v := range vecs {
			if v == nil {
				return nil, &Error{Provider: p.provider, Kind: KindMalformed, Message: fmt.Sprintf("no embedding for input %d", i)}
			}
		}
		return vecs, nil
	})
}

// openAIFailure reads the SDK's API error: an error status, or an error object
// sent inside a stream.
func openAIFailure(err error) *apiFailure {
	var apiErr *openai.Error
	if errors.As(err, &apiErr) {
		return &apiFailure{status: apiErr.StatusCode, message: apiErr.Message}
	}
	var streamErr *ssestream.StreamError
	if errors.As(err, &streamErr) {
		return &apiFailure{message: streamErrorMessage(streamErr.Event.Data), kind: KindServer}
	}
	return nil
}

// streamErrorMessage pulls error.message out of an in-stream error event.
func streamErrorMessage(data []byte) string {
	var body struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if decodeBounded(data, &body) == nil && body.Error.Message != "" {
		return body.Error.Message
	}
	return "error event in the stream"
}

func openAILogprobs(in []openai.ChatCompletionTokenLogprob) []TokenLogprob {
	if len(in) == 0 {
		return nil
	}
	out := make([]TokenLogprob, len(in))
	for i, t := range in {
		out[i] = TokenLogprob{Token: t.Token, Logprob: t.Logprob}
	}
	return out
}
