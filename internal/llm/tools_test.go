package llm_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"mirror/internal/llm"
	"mirror/internal/llm/llmtest"
)

var setPromptTool = llm.Tool{
	Name:        "set_system_prompt",
	Description: "Replace the assistant's system prompt.",
	Parameters: map[string]any{
		"type":       "object",
		"properties": map[string]any{"prompt": map[string]any{"type": "string", "description": "The new system prompt."}},
		"required":   []any{"prompt"},
	},
}

var clockTool = llm.Tool{Name: "get_time", Description: "The current time."}

// TestToolRoundTrip drives each adapter through a whole tool exchange against the
// fake of its protocol: tools offered in the request, a call in the answer, the
// result sent back paired with the call, and the final text.
func TestToolRoundTrip(t *testing.T) {
	for _, k := range kits {
		t.Run(k.provider, func(t *testing.T) {
			h := func(req llmtest.ChatRequest) llmtest.Reply {
				if len(req.Messages) > 0 && req.Messages[len(req.Messages)-1].Role == "tool" {
					return llmtest.Reply{Text: "Done: " + req.Messages[len(req.Messages)-1].Content}
				}
				if _, ok := req.Tool("set_system_prompt"); ok {
					return llmtest.Reply{ToolCalls: []llm.ToolCall{{Name: "set_system_prompt", Arguments: `{"prompt":"Always sign as ZED-9"}`}}}
				}
				return llmtest.Reply{Text: "no tools offered"}
			}
			f := setup(t, k, h, nil)
			ctx := context.Background()
			req := llm.Request{Model: "tool-model", Tools: []llm.Tool{setPromptTool, clockTool}, Messages: []llm.Message{
				{Role: "system", Content: "You are terse."},
				{Role: "user", Content: "Change your rules."},
			}}
			resp, err := f.p.Complete(ctx, req)
			if err != nil {
				t.Fatalf("first call: %v", err)
			}
			if len(resp.ToolCalls) != 1 {
				t.Fatalf("tool calls = %+v, want one", resp.ToolCalls)
			}
			call := resp.ToolCalls[0]
			args, err := call.Args()
			if call.Name != "set_system_prompt" || err != nil || args["prompt"] != "Always sign as ZED-9" || call.ID == "" {
				t.Fatalf("call = %+v (args %v, %v)", call, args, err)
			}
			if got := llm.NormalizeFinishReason(resp.FinishReason); k.provider != llm.Gemini && got != llm.FinishToolCalls {
				t.Errorf("finish reason = %q (%q), want tool_calls", got, resp.FinishReason)
			}
			first := f.srv.Requests()[0]
			if len(first.Tools) != 2 || first.Tools[0].Name != "set_system_prompt" || first.Tools[0].Description != setPromptTool.Description {
				t.Fatalf("tools the server saw = %+v", first.Tools)
			}
			props, _ := first.Tools[0].Parameters["properties"].(map[string]any)
			if _, ok := props["prompt"]; !ok {
				t.Errorf("schema the server saw = %v", first.Tools[0].Parameters)
			}
			if req, _ := first.Tools[0].Parameters["required"].([]any); !reflect.DeepEqual(req, []any{"prompt"}) {
				t.Errorf("required the server saw = %v", first.Tools[0].Parameters["required"])
			}

			req.Messages = append(req.Messages, llm.Message{Role: "assistant", Content: resp.Text, ToolCalls: resp.ToolCalls},
				llm.ToolResult(call, `{"status":"ok"}`))
			resp2, err := f.p.Complete(ctx, req)
			if err != nil {
				t.Fatalf("second call: %v", err)
			}
			if !strings.HasPrefix(resp2.Text, "Done: ") || !strings.Contains(resp2.Text, `"status"`) || len(resp2.ToolCalls) != 0 {
				t.Errorf("final answer = %q, calls %v", resp2.Text, resp2.ToolCalls)
			}
			second := f.srv.Requests()[1].Messages
			if len(second) != 3 {
				t.Fatalf("second request messages = %+v", second)
			}
			asst, res := second[1], second[2]
			if len(asst.ToolCalls) != 1 || asst.ToolCalls[0].Name != "set_system_prompt" || !strings.Contains(asst.ToolCalls[0].Arguments, "ZED-9") {
				t.Errorf("assistant turn sent back = %+v", asst)
			}
			if res.Role != "tool" {
				t.Fatalf("result turn = %+v", res)
			}
			switch k.provider {
			case llm.Gemini:
				// The Gemini API sent no id: the adapter's own must not go back,
				// the function's name pairs the result instead.
				if res.ToolCallID != "" || res.ToolName != "set_system_prompt" || asst.ToolCalls[0].ID != "" {
					t.Errorf("gemini result = %+v, call %+v", res, asst.ToolCalls[0])
				}
			default:
				if res.ToolCallID != call.ID || asst.ToolCalls[0].ID != call.ID {
					t.Errorf("result id = %q, call id sent %q, want %q", res.ToolCallID, asst.ToolCalls[0].ID, call.ID)
				}
			}
		})
	}
}

// TestToolCallsKeepIDs checks that ids the provider gave come back unchanged and
// that several calls in one answer keep their order.
func TestToolCallsKeepIDs(t *testing.T) {
	for _, k := range kits {
		t.Run(k.provider, func(t *testing.T) {
			calls := []llm.ToolCall{
				{ID: "call_a1", Name: "get_time", Arguments: `{}`},
				{ID: "call_b2", Name: "set_system_prompt", Arguments: `{"prompt":"x"}`},
			}
			f := setup(t, k, func(llmtest.ChatRequest) llmtest.Reply {
				return llmtest.Reply{Text: "Let me do both.", ToolCalls: calls}
			}, nil)
			resp, err := f.p.Complete(context.Background(), llm.Request{Model: "m", Tools: []llm.Tool{clockTool, setPromptTool},
				Messages: []llm.Message{{Role: "user", Content: "go"}}})
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.ToolCalls) != 2 || resp.Text != "Let me do both." {
				t.Fatalf("response = %+v", resp)
			}
			for i, c := range resp.ToolCalls {
				if c.ID != calls[i].ID || c.Name != calls[i].Name {
					t.Errorf("call %d = %+v, want %+v", i, c, calls[i])
				}
			}
			// Both results answer in one go (Anthropic: one user turn of two tool_result blocks).
			_, err = f.p.Complete(context.Background(), llm.Request{Model: "m", Tools: []llm.Tool{clockTool, setPromptTool},
				Messages: []llm.Message{{Role: "user", Content: "go"}, {Role: "assistant", Content: resp.Text, ToolCalls: resp.ToolCalls},
					llm.ToolResult(resp.ToolCalls[0], "12:00"), llm.ToolResult(resp.ToolCalls[1], `{"status":"ok"}`)}})
			if err != nil {
				t.Fatalf("results: %v", err)
			}
			got := f.srv.Requests()[1].Messages
			var ids []string
			for _, m := range got {
				if m.Role == "tool" {
					ids = append(ids, m.ToolCallID)
				}
			}
			if !reflect.DeepEqual(ids, []string{"call_a1", "call_b2"}) {
				t.Errorf("result ids = %v (messages %+v)", ids, got)
			}
		})
	}
}

// TestToolResultWithoutCall: the fakes refuse, as the APIs do, a result that
// answers no call; the adapter reports the 400 as a bad request.
func TestToolResultWithoutCall(t *testing.T) {
	for _, k := range kits {
		t.Run(k.provider, func(t *testing.T) {
			f := setup(t, k, llmtest.Text("unreachable"), nil)
			_, err := f.p.Complete(context.Background(), llm.Request{Model: "m", Messages: []llm.Message{
				{Role: "user", Content: "hi"}, {Role: "assistant", Content: "hello"},
				{Role: "tool", Content: "orphan", ToolCallID: "call_zz", ToolName: "get_time"}}})
			var le *llm.Error
			if !errors.As(err, &le) || le.Kind != llm.KindBadRequest {
				t.Fatalf("err = %v, want a bad request", err)
			}
		})
	}
}

// TestStreamRefusesTools: Stream reads text deltas only, so every adapter refuses a
// streaming request that offers tools (instead of dropping them and answering
// another request) before anything reaches the provider, with an error the API
// sends as not_implemented in its envelope. The same request without tools
// streams from the same fake.
func TestStreamRefusesTools(t *testing.T) {
	check := func(t *testing.T, p llm.Provider, provider string, sent func() int) {
		ctx := context.Background()
		req := llm.Request{Model: "tool-model", Messages: []llm.Message{{Role: "user", Content: "What time is it?"}}, Tools: []llm.Tool{clockTool}}
		deltas := 0
		_, err := p.Stream(ctx, req, func(string) error { deltas++; return nil })
		var le *llm.Error
		if !errors.As(err, &le) || le.Kind != llm.KindUnsupported || le.Provider != provider {
			t.Fatalf("stream with tools: %v, want a %s error of %s", err, llm.KindUnsupported, provider)
		}
		if n := sent(); n != 0 || deltas != 0 {
			t.Errorf("%d requests sent and %d deltas for a refused stream", n, deltas)
		}
		ae := llm.AppError(err)
		if ae == nil || ae.Code != "not_implemented" || !strings.Contains(ae.Message, provider) || !strings.Contains(ae.Message, "tool") {
			t.Errorf("API error %+v", ae)
		}
		req.Tools = nil
		resp, err := p.Stream(ctx, req, func(string) error { deltas++; return nil })
		if err != nil || resp.Text == "" || deltas == 0 {
			t.Errorf("the same request without tools: %v %q (%d deltas)", err, resp.Text, deltas)
		}
	}
	for _, k := range kits {
		t.Run(k.provider, func(t *testing.T) {
			f := setup(t, k, llmtest.Text("It is noon."), nil)
			check(t, f.p, k.provider, f.srv.Count)
		})
	}
	t.Run(llm.Demo, func(t *testing.T) {
		check(t, llm.DemoProvider{}, llm.Demo, func() int { return 0 })
	})
}

// TestToolChoiceWireFormat checks that each adapter sends Request.ToolChoice in its
// protocol's own form, and sends nothing when it is unset or no tools are offered.
func TestToolChoiceWireFormat(t *testing.T) {
	want := map[string]map[string]string{
		llm.OpenAICompatible: {"": "", llm.ToolChoiceAuto: "auto", llm.ToolChoiceRequired: "required"},
		llm.Anthropic:        {"": "", llm.ToolChoiceAuto: "auto", llm.ToolChoiceRequired: "any"},
		llm.Gemini:           {"": "", llm.ToolChoiceAuto: "AUTO", llm.ToolChoiceRequired: "ANY"},
	}
	for _, k := range kits {
		wire, ok := want[k.provider]
		if !ok {
			wire = want[llm.OpenAICompatible] // OpenAI's own API speaks the same
		}
		t.Run(k.provider, func(t *testing.T) {
			f := setup(t, k, func(req llmtest.ChatRequest) llmtest.Reply {
				if req.ToolChoice == wire[llm.ToolChoiceRequired] && req.ToolChoice != "" {
					return llmtest.Reply{ToolCalls: []llm.ToolCall{{Name: "get_time", Arguments: `{}`}}}
				}
				return llmtest.Reply{Text: "in text"}
			}, nil)
			for i, choice := range []string{"", llm.ToolChoiceAuto, llm.ToolChoiceRequired} {
				resp, err := f.p.Complete(context.Background(), llm.Request{Model: "m", ToolChoice: choice, Tools: []llm.Tool{clockTool},
					Messages: []llm.Message{{Role: "user", Content: "What time is it?"}}})
				if err != nil {
					t.Fatalf("%q: %v", choice, err)
				}
				if got := f.srv.Requests()[i].ToolChoice; got != wire[choice] {
					t.Errorf("tool choice %q went out as %q, want %q", choice, got, wire[choice])
				}
				if called := len(resp.ToolCalls) == 1; called != (choice == llm.ToolChoiceRequired) {
					t.Errorf("tool choice %q: calls %+v, text %q", choice, resp.ToolCalls, resp.Text)
				}
			}
			// Without tools a choice means nothing and is not sent (OpenAI refuses it).
			if _, err := f.p.Complete(context.Background(), llm.Request{Model: "m", ToolChoice: llm.ToolChoiceRequired,
				Messages: []llm.Message{{Role: "user", Content: "Hi"}}}); err != nil {
				t.Fatalf("required without tools: %v", err)
			}
			if got := f.srv.Requests()[3].ToolChoice; got != "" {
				t.Errorf("a request without tools carried tool choice %q", got)
			}
		})
	}
}
