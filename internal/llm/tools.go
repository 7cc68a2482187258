package llm

import (
	"encoding/json"
	"fmt"
)

// Tool is a function a model may call. Each adapter sends it in its protocol's
// form: OpenAI tools[].function, Anthropic tools[] with input_schema, Gemini
// tools[].functionDeclarations[].
type Tool struct {
	Name        string
	Description string
	// Parameters is the JSON Schema of the arguments, an object schema
	// ({"type":"object","properties":{…},"required":[…]}); nil takes no arguments.
	Parameters map[string]any
}

// The values of Request.ToolChoice.
const (
	ToolChoiceAuto     = "auto"     // the model may call a tool or answer in text
	ToolChoiceRequired = "required" // the model must call one of the tools offered
)

// ToolChoices are the values Request.ToolChoice takes, in order ("" is auto).
var ToolChoices = []string{ToolChoiceAuto, ToolChoiceRequired}

// ToolCall is one call a model asked for. Arguments is a JSON object as the model
// wrote it: OpenAI sends it as a string (not always valid JSON), Anthropic and
// Gemini as an object, which the adapters re-encode.
type ToolCall struct {
	// ID pairs the call with its result; Gemini's API sends none, and the adapter
	// then makes one up ("call_1", …) that it maps back to the function's name.
	ID        string `json:"id,omitempty"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// Args decodes the arguments as a JSON object. Arguments that are not an object
// (a model may write anything there) are an error.
func (c ToolCall) Args() (map[string]any, error) {
	if c.Arguments == "" {
		return map[string]any{}, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(c.Arguments), &m); err != nil {
		return nil, fmt.Errorf("tool call %s: arguments are not a JSON object: %w", c.Name, err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// ToolResult returns the "tool" turn that answers call with content.
func ToolResult(call ToolCall, content string) Message {
	return Message{Role: "tool", Content: content, ToolCallID: call.ID, ToolName: call.Name}
}

// objectSchema returns t's parameters, or the empty object schema.
func (t Tool) objectSchema() map[string]any {
	if t.Parameters != nil {
		return t.Parameters
	}
	return map[string]any{"type": "object", "properties": map[string]any{}}
}

// argsObject decodes arguments for protocols that send them as an object: invalid
// JSON is kept as a string under "_raw", so a result can still be sent back.
func argsObject(arguments string) map[string]any {
	var m map[string]any
	if arguments == "" || json.Unmarshal([]byte(arguments), &m) != nil || m == nil {
		if arguments == "" {
			return map[string]any{}
		}
		return map[string]any{"_raw": arguments}
	}
	return m
}

// refuseStreamTools refuses a streaming request that offers tools: Stream reads
// text deltas only, and silently dropping the tools would answer a different
// request than the one asked. Nothing is sent.
func refuseStreamTools(provider string, req Request) *Error {
	if len(req.Tools) == 0 {
		return nil
	}
	return &Error{Provider: provider, Kind: KindUnsupported,
		Message: "streaming does not carry tool calls; send a request that offers tools without streaming"}
}
