package llm

import (
	"context"
	"errors"
	"strings"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
	"github.com/anthropics/anthropic-sdk-go/packages/param"
)

// DefaultAnthropicMaxTokens is sent when a Request sets no MaxOutputTokens: the
// messages API requires max_tokens.
const DefaultAnthropicMaxTokens = 4096

// AnthropicProvider speaks Anthropic's messages API through the official SDK.
type AnthropicProvider struct {
	core
	messages anthropic.MessageService
}

var _ Provider = (*AnthropicProvider)(nil)

// NewAnthropic returns an adapter for the messages API. Like NewOpenAI it passes
// every SDK option explicitly, so ANTHROPIC_* variables and profile files on the
// machine are never consulted, and it turns the SDK's retries off.
func NewAnthropic(o Options) *AnthropicProvider {
	if o.Provider == "" {
		o.Provider = Anthropic
	}
	c := newCore(o)
	return &AnthropicProvider{
		core: c,
		messages: anthropic.NewMessageService(
			option.WithBaseURL(c.baseURL+"/"),
			option.WithAPIKey(o.APIKey),
			option.WithHTTPClient(c.client),
			option.WithMaxRetries(0),
		),
	}
}

// params builds the messages body: system messages go to the top-level system
// field, the others stay in order. The protocol has no seed and no logprobs.
func (p *AnthropicProvider) params(req Request) anthropic.MessageNewParams {
	params := anthropic.MessageNewParams{Model: anthropic.Model(req.Model), MaxTokens: DefaultAnthropicMaxTokens}
	if req.MaxOutputTokens > 0 {
		params.MaxTokens = int64(req.MaxOutputTokens)
	}
	for _, m := range req.Messages {
		switch m.Role {
		case "system":
			params.System = append(params.System, anthropic.TextBlockParam{Text: m.Content})
		case "assistant":
			var blocks []anthropic.ContentBlockParamUnion
			if m.Content != "" || len(m.ToolCalls) == 0 {
				blocks = append(blocks, anthropic.NewTextBlock(m.Content))
			}
			for _, tc := range m.ToolCalls {
				blocks = append(blocks, anthropic.NewToolUseBlock(tc.ID, argsObject(tc.Arguments), tc.Name))
			}
			params.Messages = append(params.Messages, anthropic.NewAssistantMessage(blocks...))
		case "tool":
			// Results go back in a user turn; consecutive results share one, as the
			// API requires every tool_use to be answered in the next message.
			block := anthropic.NewToolResultBlock(m.ToolCallID, m.Content, false)
			if n := len(params.Messages); n > 0 && params.Messages[n-1].Role == anthropic.MessageParamRoleUser && isToolResults(params.Messages[n-1]) {
				params.Messages[n-1].Content = append(params.Messages[n-1].Content, block)
			} else {
				params.Messages = append(params.Messages, anthropic.NewUserMessage(block))
			}
		default:
			params.Messages = append(params.Messages, anthropic.NewUserMessage(anthropic.NewTextBlock(m.Content)))
		}
	}
	for _, t := range req.Tools {
		schema := t.objectSchema()
		in := anthropic.ToolInputSchemaParam{Properties: schema["properties"], ExtraFields: map[string]any{}}
		for k, v := range schema {
			switch k {
			case "type", "properties":
			case "required":
				in.Required = stringList(v)
			default:
				in.ExtraFields[k] = v
			}
		}
		tp := anthropic.ToolParam{Name: t.Name, Description: param.NewOpt(t.Description), InputSchema: in}
		params.Tools = append(params.Tools, anthropic.ToolUnionParam{OfTool: &tp})
	}
	if len(req.Tools) > 0 {
		switch req.ToolChoice {
		case ToolChoiceRequired:
			params.ToolChoice = anthropic.ToolChoiceUnionParam{OfAny: &anthropic.ToolChoiceAnyParam{}}
		case ToolChoiceAuto:
			params.ToolChoice = anthropic.ToolChoiceUnionParam{OfAuto: &anthropic.ToolChoiceAutoParam{}}
		}
	}
	if req.Temperature != nil {
		params.Temperature = param.NewOpt(*req.Temperature)
	}
	return params
}

// Complete sends one message request and joins the answer's text blocks.
func (p *AnthropicProvider) Complete(ctx context.Context, req Request) (Response, error) {
	params := p.params(req)
	return doRetry(ctx, p.retry, defaultRetryable, func(ctx context.Context) (Response, error) {
		actx, cancel, meta := p.attempt(ctx)
		defer cancel()
		msg, err := p.messages.New(actx, params)
		if err != nil {
			return Response{}, p.failure(ctx, actx, meta, err, anthropicFailure(err), false)
		}
		var text strings.Builder
		var calls []ToolCall
		for _, block := range msg.Content {
			switch block.Type {
			case "text":
				text.WriteString(block.Text)
			case "tool_use":
				calls = append(calls, ToolCall{ID: block.ID, Name: block.Name, Arguments: string(block.Input)})
			}
		}
		return Response{
			Text:         text.String(),
			ToolCalls:    calls,
			FinishReason: string(msg.StopReason),
			Usage:        Usage{InputTokens: int(msg.Usage.InputTokens), OutputTokens: int(msg.Usage.OutputTokens)},
		}, nil
	})
}

// isToolResults reports whether m holds only tool_result blocks.
func isToolResults(m anthropic.MessageParam) bool {
	for _, b := range m.Content {
		if b.OfToolResult == nil {
			return false
		}
	}
	return len(m.Content) > 0
}

// stringList reads a JSON Schema "required" list.
func stringList(v any) []string {
	switch l := v.(type) {
	case []string:
		return l
	case []any:
		out := make([]string, 0, len(l))
		for _, x := range l {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// Stream reads the messages event stream: message_start (input usage),
// content_block_delta (text), message_delta (stop reason, output usage) and
// message_stop. Only message_stop ends the answer; anything short of it is
// KindIncomplete.
func (p *AnthropicProvider) Stream(ctx context.Context, req Request, onDelta func(string) error) (Response, error) {
	if e := refuseStreamTools(p.provider, req); e != nil {
		return Response{}, e
	}
	params := p.params(req)
	return p.retryStream(ctx, onDelta, func(ctx, actx context.Context, idle *idleTimer, emit func(string) error) (Response, error) {
		stream := p.messages.NewStreaming(actx, params)
		defer stream.Close()
		var (
			text    strings.Builder
			resp    Response
			stopped bool
			// reported is the usage as of the last message_delta: message_start's
			// output count is a placeholder, not what a broken stream had sent.
			reported Usage
		)
		for stream.Next() {
			idle.reset()
			ev := stream.Current()
			switch ev.Type {
			case "message_start":
				resp.Usage.InputTokens = int(ev.Message.Usage.InputTokens)
				resp.Usage.OutputTokens = int(ev.Message.Usage.OutputTokens)
				reported.InputTokens = resp.Usage.InputTokens
			case "content_block_delta":
				if ev.Delta.Type == "text_delta" && ev.Delta.Text != "" {
					text.WriteString(ev.Delta.Text)
					if err := emit(ev.Delta.Text); err != nil {
						return Response{}, err
					}
				}
			case "message_delta":
				resp.FinishReason = string(ev.Delta.StopReason)
				if ev.Usage.OutputTokens != 0 {
					resp.Usage.OutputTokens = int(ev.Usage.OutputTokens)
				}
				if ev.Usage.InputTokens != 0 {
					resp.Usage.InputTokens = int(ev.Usage.InputTokens)
				}
				reported = resp.Usage
			case "message_stop":
				stopped = true
			}
		}
		if err := stream.Err(); err != nil {
			return Response{}, withUsage(p.failure(ctx, actx, idle.meta, err, anthropicFailure(err), idle.started()), reported)
		}
		if !stopped {
			return Response{}, withUsage(&Error{Provider: p.provider, Kind: KindIncomplete,
				Message: "the stream ended before message_stop"}, reported)
		}
		resp.Text = text.String()
		return resp, nil
	})
}

// anthropicErrorBody is the messages API error shape, also sent as an "error"
// event inside a stream.
type anthropicErrorBody struct {
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

// streamErrorPrefix is how the SDK reports an error event it could not enrich.
const streamErrorPrefix = "received error while streaming: "

// anthropicFailure reads the SDK's API error, or an error event from a stream.
func anthropicFailure(err error) *apiFailure {
	var raw string
	var apiErr *anthropic.Error
	status := 0
	switch {
	case errors.As(err, &apiErr):
		raw, status = apiErr.RawJSON(), apiErr.StatusCode
	case strings.HasPrefix(err.Error(), streamErrorPrefix):
		raw = strings.TrimPrefix(err.Error(), streamErrorPrefix)
	default:
		return nil
	}
	var body anthropicErrorBody
	_ = decodeBounded([]byte(raw), &body) // a non-JSON body leaves the message empty
	f := &apiFailure{status: status, message: body.Error.Message}
	if status == 0 || (status >= 200 && status < 300) {
		// An error event inside a 200 stream: its type is all there is to go by.
		f.status = 0
		f.kind = anthropicKind(body.Error.Type)
	}
	return f
}

// anthropicKind maps the error types of Anthropic's documentation.
func anthropicKind(errorType string) ErrorKind {
	switch errorType {
	case "authentication_error", "permission_error":
		return KindAuth
	case "rate_limit_error":
		return KindRateLimited
	case "invalid_request_error", "not_found_error", "request_too_large":
		return KindBadRequest
	}
	return KindServer // api_error, overloaded_error, timeout_error and the unknown
}
