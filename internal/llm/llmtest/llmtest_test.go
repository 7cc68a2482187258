package llmtest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"mirror/internal/llm/llmtest"
)

// These tests speak raw HTTP to the fakes, so that the fakes' wire formats are
// checked independently of the SDKs the adapters use.

type wireCase struct {
	name       string
	method     string
	path       string
	header     map[string]string
	body       string
	wantStatus int
	// wantJSON lists dotted paths (numbers index arrays) and their values.
	wantJSON map[string]any
	// wantBody lists substrings of the raw body, in order.
	wantBody []string
	// wantHeader lists response headers.
	wantHeader map[string]string
}

func runWire(t *testing.T, srv *llmtest.Server, cases []wireCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(cmpOr(tc.method, http.MethodPost), srv.URL()+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tc.wantStatus, raw)
			}
			for k, v := range tc.wantHeader {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			rest := string(raw)
			for _, s := range tc.wantBody {
				i := strings.Index(rest, s)
				if i < 0 {
					t.Fatalf("body lacks %q (in order); body:\n%s", s, raw)
				}
				rest = rest[i+len(s):]
			}
			if tc.wantJSON == nil {
				return
			}
			var doc any
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatalf("body is not JSON: %v\n%s", err, raw)
			}
			for path, want := range tc.wantJSON {
				if got := dig(doc, path); got != want {
					t.Errorf("%s = %#v, want %#v", path, got, want)
				}
			}
		})
	}
}

// dig follows a dotted path through decoded JSON.
func dig(v any, path string) any {
	for _, part := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[part]
		case []any:
			i := 0
			for _, c := range part {
				i = i*10 + int(c-'0')
			}
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestOpenAIWire(t *testing.T) {
	srv := llmtest.NewOpenAIServer(t, func(req llmtest.ChatRequest) llmtest.Reply {
		if req.LastUser() == "limit me" {
			return llmtest.Reply{Status: 429, RetryAfter: 1500 * time.Millisecond}
		}
		return llmtest.Reply{Text: "hi there"}
	})
	auth := map[string]string{"Authorization": "Bearer " + srv.Key}
	chat := `{"model":"gpt-x","messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"hello"}]}]`
	runWire(t, srv, []wireCase{
		{name: "no key", path: "/v1/chat/completions", body: chat + "}", wantStatus: 401,
			wantJSON: map[string]any{"error.type": "invalid_request_error", "error.code": nil}},
		{name: "wrong key", path: "/v1/chat/completions", body: chat + "}", header: map[string]string{"Authorization": "Bearer sk-nope"},
			wantStatus: 401, wantJSON: map[string]any{"error.code": "invalid_api_key"}},
		{name: "unknown path", path: "/v1/completions", header: auth, body: "{}", wantStatus: 404,
			wantJSON: map[string]any{"error.type": "invalid_request_error"}},
		{name: "bad JSON", path: "/v1/chat/completions", header: auth, body: "{", wantStatus: 400},
		{name: "no messages", path: "/v1/chat/completions", header: auth, body: `{"model":"m","messages":[]}`, wantStatus: 400},
		{name: "completion", path: "/v1/chat/completions", header: auth, body: chat + "}", wantStatus: 200,
			wantJSON: map[string]any{"object": "chat.completion", "choices.0.message.content": "hi there",
				"choices.0.finish_reason": "stop", "usage.prompt_tokens": 3.0, "usage.completion_tokens": 2.0}},
		{name: "stream", path: "/v1/chat/completions", header: auth, body: chat + `,"stream":true,"stream_options":{"include_usage":true}}`, wantStatus: 200,
			wantHeader: map[string]string{"Content-Type": "text/event-stream"},
			wantBody: []string{`data: {`, `"role":"assistant"`, `"content":"hi "`, `"content":"there"`, `"finish_reason":"stop"`,
				`"choices":[]`, `"usage":{"completion_tokens":2`, "data: [DONE]\n\n"}},
		{name: "rate limited", path: "/v1/chat/completions", header: auth,
			body: `{"model":"m","messages":[{"role":"user","content":"limit me"}]}`, wantStatus: 429,
			wantHeader: map[string]string{"Retry-After": "2", "Retry-After-Ms": "1500"},
			wantJSON:   map[string]any{"error.code": "rate_limit_exceeded"}},
		{name: "embeddings", path: "/v1/embeddings", header: auth, body: `{"model":"e","input":["a b","c"]}`, wantStatus: 200,
			wantJSON: map[string]any{"object": "list", "data.1.index": 1.0, "data.0.object": "embedding"}},
		{name: "embeddings base64", path: "/v1/embeddings", header: auth, body: `{"model":"e","input":"a b","encoding_format":"base64"}`, wantStatus: 200,
			wantBody: []string{`"embedding":"`}},
	})
	reqs := srv.Requests()
	if len(reqs) == 0 || reqs[0].System != "be brief" || reqs[0].LastUser() != "hello" {
		t.Errorf("recorded %+v", reqs)
	}
}

func TestAnthropicWire(t *testing.T) {
	srv := llmtest.NewAnthropicServer(t, llmtest.Sequence(llmtest.Reply{Text: "hi there"}, llmtest.Reply{Text: "hi there"},
		llmtest.Reply{Status: 529}))
	h := map[string]string{"X-Api-Key": srv.Key, "Anthropic-Version": "2023-06-01"}
	body := `{"model":"claude-x","max_tokens":10,"system":"be brief","messages":[{"role":"user","content":"hello"}]`
	runWire(t, srv, []wireCase{
		{name: "no key", path: "/v1/messages", body: body + "}", header: map[string]string{"Anthropic-Version": "2023-06-01"},
			wantStatus: 401, wantJSON: map[string]any{"type": "error", "error.type": "authentication_error"}},
		{name: "no version", path: "/v1/messages", body: body + "}", header: map[string]string{"X-Api-Key": srv.Key},
			wantStatus: 400, wantJSON: map[string]any{"error.type": "invalid_request_error"}},
		{name: "no max_tokens", path: "/v1/messages", header: h, body: `{"model":"m","messages":[{"role":"user","content":"x"}]}`,
			wantStatus: 400, wantJSON: map[string]any{"error.message": "max_tokens: Field required"}},
		{name: "message", path: "/v1/messages", header: h, body: body + "}", wantStatus: 200,
			wantJSON: map[string]any{"type": "message", "content.0.text": "hi there", "stop_reason": "end_turn", "usage.input_tokens": 3.0}},
		{name: "stream", path: "/v1/messages", header: h, body: body + `,"stream":true}`, wantStatus: 200,
			wantBody: []string{"event: message_start\n", "event: content_block_start\n", "event: ping\n",
				"event: content_block_delta\n", `"text":"hi ","type":"text_delta"`, "event: content_block_stop\n",
				"event: message_delta\n", `"stop_reason":"end_turn"`, "event: message_stop\n"}},
		{name: "overloaded", path: "/v1/messages", header: h, body: body + "}", wantStatus: 529,
			wantJSON: map[string]any{"error.type": "overloaded_error"}},
	})
}

func TestGeminiWire(t *testing.T) {
	srv := llmtest.NewGeminiServer(t, llmtest.Sequence(llmtest.Reply{Text: "hi there"}, llmtest.Reply{Text: "hi there"},
		llmtest.Reply{Status: 429, RetryAfter: 7 * time.Second}))
	h := map[string]string{"X-Goog-Api-Key": srv.Key}
	body := `{"contents":[{"role":"user","parts":[{"text":"hello"}]}],"systemInstruction":{"parts":[{"text":"be brief"}]}}`
	runWire(t, srv, []wireCase{
		{name: "no key", path: "/v1beta/models/gemini-x:generateContent", body: body, wantStatus: 403,
			wantJSON: map[string]any{"error.status": "PERMISSION_DENIED"}},
		{name: "wrong key", path: "/v1beta/models/gemini-x:generateContent", body: body, header: map[string]string{"X-Goog-Api-Key": "AIzaWrong"},
			wantStatus: 400, wantJSON: map[string]any{"error.status": "INVALID_ARGUMENT", "error.details.0.reason": "API_KEY_INVALID"}},
		{name: "unknown method", path: "/v1beta/models/gemini-x:countTokens", header: h, body: body, wantStatus: 404},
		{name: "stream without sse", path: "/v1beta/models/gemini-x:streamGenerateContent", header: h, body: body, wantStatus: 400},
		{name: "generate", path: "/v1beta/models/gemini-x:generateContent?key=" + srv.Key, body: body, wantStatus: 200,
			wantJSON: map[string]any{"candidates.0.content.parts.0.text": "hi there", "candidates.0.finishReason": "STOP",
				"usageMetadata.candidatesTokenCount": 2.0, "modelVersion": "gemini-x"}},
		{name: "stream", path: "/v1beta/models/gemini-x:streamGenerateContent?alt=sse", header: h, body: body, wantStatus: 200,
			wantBody: []string{`data: {"candidates":[{"content":{"parts":[{"text":"hi "}]`, "\r\n\r\n", `"text":"there"`, `"finishReason":"STOP"`, "\r\n\r\n"}},
		{name: "rate limited", path: "/v1beta/models/gemini-x:generateContent", header: h, body: body, wantStatus: 429,
			wantJSON: map[string]any{"error.status": "RESOURCE_EXHAUSTED", "error.details.0.retryDelay": "7s"}},
	})
}

func TestSequence(t *testing.T) {
	h := llmtest.Sequence(llmtest.Reply{Status: 500}, llmtest.Reply{Text: "ok"})
	got := []int{h(llmtest.ChatRequest{}).Status, h(llmtest.ChatRequest{}).Status, h(llmtest.ChatRequest{}).Status}
	if got[0] != 500 || got[1] != 0 || got[2] != 0 {
		t.Errorf("statuses = %v, want [500 0 0]", got)
	}
}

func TestEmbed(t *testing.T) {
	cos := func(a, b []float64) float64 {
		var s float64
		for i := range a {
			s += a[i] * b[i]
		}
		return s
	}
	a, b, c := llmtest.Embed("the cat sat on the mat"), llmtest.Embed("The cat sat on a mat"), llmtest.Embed("quantum chromodynamics lecture")
	if len(a) != llmtest.EmbedDims || math.Abs(cos(a, a)-1) > 1e-9 {
		t.Fatalf("Embed is not a unit vector of %d dims: %v", llmtest.EmbedDims, a)
	}
	if cos(a, b) <= cos(a, c) {
		t.Errorf("similar texts are not closer: cos(a,b)=%v cos(a,c)=%v", cos(a, b), cos(a, c))
	}
	if e := llmtest.Embed(""); len(e) != llmtest.EmbedDims || e[0] != 1 {
		t.Errorf("Embed(\"\") = %v", e)
	}
}

// TestHangReleasedByClose checks a hanging reply does not hold Close, and that a
// client going away is reported.
func TestHangReleasedByClose(t *testing.T) {
	arrived := make(chan struct{}, 2)
	srv := llmtest.NewOpenAIServer(t, func(llmtest.ChatRequest) llmtest.Reply {
		arrived <- struct{}{}
		return llmtest.Reply{Hang: true}
	}, llmtest.NoAuth())
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.BaseURL+"/chat/completions",
		strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"x"}]}`))
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	<-arrived
	cancel()
	<-done
	<-srv.Disconnects
	// A second hanging request is released by Close.
	go func() {
		resp, err := http.Post(srv.BaseURL+"/chat/completions", "application/json",
			strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"x"}]}`))
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	<-arrived
	srv.Close()
	if err := <-done; err == nil {
		t.Error("the hanging request got an answer")
	}
}

// TestCutDropIsUnexpectedEOF checks CutDrop breaks the body mid-stream.
func TestCutDropIsUnexpectedEOF(t *testing.T) {
	srv := llmtest.NewOpenAIServer(t, func(llmtest.ChatRequest) llmtest.Reply {
		return llmtest.Reply{Text: "a b c d", Cut: llmtest.CutDrop, CutAfter: 2}
	}, llmtest.NoAuth())
	resp, err := http.Post(srv.BaseURL+"/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	events := 0
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data: ") {
			events++
		}
	}
	if sc.Err() != io.ErrUnexpectedEOF {
		t.Errorf("read error = %v, want unexpected EOF", sc.Err())
	}
	if events != 3 { // the role chunk and two deltas
		t.Errorf("events = %d, want 3", events)
	}
}
