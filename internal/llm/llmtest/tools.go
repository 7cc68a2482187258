package llmtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"mirror/internal/llm"
)

// callArgs decodes a scripted call's arguments as the object the protocols
// carry; it panics on a script error (arguments that are not an object).
func callArgs(c llm.ToolCall) map[string]any {
	m, err := c.Args()
	if err != nil {
		panic("llmtest: scripted " + err.Error())
	}
	return m
}

// checkSchema is what the real APIs insist on for a tool's parameters: a JSON
// Schema object of type "object".
func checkSchema(name string, schema map[string]any) error {
	if name == "" {
		return errors.New("tool name is required")
	}
	if schema == nil {
		return nil
	}
	if t, _ := schema["type"].(string); !strings.EqualFold(t, "object") {
		return fmt.Errorf("tool %s: parameters must be a JSON Schema of type object", name)
	}
	return nil
}

// toolResultPaired checks that every tool turn answers a call of an earlier
// assistant turn: by id, or by function name when the result carries no id (as
// Gemini's API sends them).
func toolResultPaired(msgs []llm.Message) error {
	ids, names := map[string]bool{}, map[string]bool{}
	for i, m := range msgs {
		switch m.Role {
		case "assistant":
			for _, c := range m.ToolCalls {
				if c.ID != "" {
					ids[c.ID] = true
				}
				names[c.Name] = true
			}
		case "tool":
			if (m.ToolCallID != "" && !ids[m.ToolCallID]) || (m.ToolCallID == "" && !names[m.ToolName]) {
				return fmt.Errorf("messages.%d: a tool result must answer a tool call of a preceding assistant message (id %q)", i, m.ToolCallID)
			}
		}
	}
	return nil
}

// rawJSON renders v compactly for a tool result's content.
func rawJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}
