package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"mirror/internal/catalog"
	"mirror/internal/feedback"
	"mirror/internal/generate"
	"mirror/internal/llm"
	"mirror/internal/llm/llmtest"
	"mirror/internal/storetest"
)

// gatewayCatalog has one model per protocol family, and a primary that falls back.
const gatewayCatalog = `models:
  default:
    default_model: oai
  catalog:
    oai:
      provider: openai
      litellm_route: openai/gpt-test
      available: true
      timeout_seconds: 2
      input_price_per_million: 1
      output_price_per_million: 2
    claude:
      provider: anthropic
      litellm_route: anthropic/claude-test
      available: true
      timeout_seconds: 4 # Anthropic's Retry-After is whole seconds: two 1 s waits must fit
    gem:
      provider: gemini
      litellm_route: gemini/gemini-test
      available: true
      timeout_seconds: 2
    router:
      provider: openrouter
      litellm_route: openrouter/meta/llama-test
      available: true
    fast:
      provider: groq
      litellm_route: groq/llama-fast
      available: true
    primary:
      provider: openai
      litellm_route: openai/primary
      available: true
      fallbacks: [claude]
`

// gatewayServer is the real API over a real registry whose providers are fakes
// speaking each protocol, on 127.0.0.1.
func gatewayServer(t *testing.T, keys map[string]string, urls map[string]string) *testServer {
	t.Helper()
	return catalogServer(t, gatewayCatalog, keys, urls)
}

// catalogServer is gatewayServer over the catalog catalogYAML.
func catalogServer(t *testing.T, catalogYAML string, keys map[string]string, urls map[string]string) *testServer {
	t.Helper()
	log := testLog(t)
	db := storetest.SQLite(t)
	cat, err := catalog.Parse([]byte(catalogYAML), "gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	reg := llm.NewRegistry(llm.Config{Keys: keys, BaseURLs: urls, MaxRetries: 2, Timeout: 2 * time.Second,
		// Short backoff: the retry count must not depend on how the jitter fell
		// against the model's 2 s deadline.
		RetryBase: 20 * time.Millisecond})
	models := catalog.NewService(cat, reg, db, catalog.Options{})
	api := New(Deps{Options: testOptions(), Log: log, Catalog: models,
		Generate: generate.NewService(models, reg, db, true, log), Feedback: feedback.NewService(db, true)})
	ts := newHTTPTestServer(t, api)
	return &testServer{Server: ts, api: api, db: db}
}

type providerCase struct {
	model, provider string
	start           func(t *testing.T, h llmtest.Handler) *llmtest.Server
}

var providerCases = []providerCase{
	{"oai", "openai", func(t *testing.T, h llmtest.Handler) *llmtest.Server { return llmtest.NewOpenAIServer(t, h) }},
	{"claude", "anthropic", func(t *testing.T, h llmtest.Handler) *llmtest.Server { return llmtest.NewAnthropicServer(t, h) }},
	{"gem", "gemini", func(t *testing.T, h llmtest.Handler) *llmtest.Server { return llmtest.NewGeminiServer(t, h) }},
	{"router", "openrouter", func(t *testing.T, h llmtest.Handler) *llmtest.Server { return llmtest.NewOpenAIServer(t, h) }},
	{"fast", "groq", func(t *testing.T, h llmtest.Handler) *llmtest.Server { return llmtest.NewOpenAIServer(t, h) }},
}

func gen(model string) string {
	return `{"submission":{"model_id":"` + model + `","text":"Tell me about mirrors."}}`
}

// TestEveryProviderThroughTheGateway drives each provider's fake through
// POST /generate_response: success, and each fault mapped to its envelope.
func TestEveryProviderThroughTheGateway(t *testing.T) {
	faults := []struct {
		name   string
		reply  llmtest.Handler
		status int
		code   string
		check  func(t *testing.T, resp *http.Response, e map[string]any, srv *llmtest.Server)
	}{
		{"401 bad key", llmtest.Sequence(llmtest.Reply{Status: 401, Message: "Incorrect API key provided"}), 502, "upstream_error",
			func(t *testing.T, _ *http.Response, e map[string]any, srv *llmtest.Server) {
				if msg := e["message"].(string); strings.Contains(msg, srv.Key) {
					t.Errorf("key leaked: %s", msg)
				}
			}},
		{"429 after retries", llmtest.Sequence(llmtest.Reply{Status: 429, RetryAfter: 20 * time.Millisecond}), 503, "upstream_rate_limited",
			func(t *testing.T, resp *http.Response, _ map[string]any, srv *llmtest.Server) {
				if resp.Header.Get("Retry-After") == "" {
					t.Error("no Retry-After on the 503")
				}
				if srv.Count() != 3 {
					t.Errorf("%d upstream attempts, want 3 (1 + 2 retries)", srv.Count())
				}
			}},
		{"429 with a long Retry-After", llmtest.Sequence(llmtest.Reply{Status: 429, RetryAfter: 40 * time.Second}), 503, "upstream_rate_limited",
			func(t *testing.T, resp *http.Response, _ map[string]any, srv *llmtest.Server) {
				// Waiting would outlive the request: answer now, passing the wait on.
				if ra := resp.Header.Get("Retry-After"); ra != "40" {
					t.Errorf("Retry-After %q, want the provider's 40", ra)
				}
				if srv.Count() != 1 {
					t.Errorf("%d upstream attempts, want 1", srv.Count())
				}
			}},
		{"500 then success", llmtest.Sequence(llmtest.Reply{Status: 500}, llmtest.Reply{Text: "recovered answer"}), 200, "", nil},
		{"hang past timeout", llmtest.Sequence(llmtest.Reply{Hang: true}), 504, "upstream_timeout", nil},
		{"malformed json", llmtest.Sequence(llmtest.Reply{Malformed: true}), 502, "upstream_error", nil},
	}
	for _, pc := range providerCases {
		t.Run(pc.provider, func(t *testing.T) {
			t.Parallel()
			srv := pc.start(t, llmtest.Text("A mirror reflects."))
			ts := gatewayServer(t, map[string]string{pc.provider: srv.Key}, map[string]string{pc.provider: srv.BaseURL})
			resp, body := ts.do(t, "POST", "/generate_response", gen(pc.model))
			if resp.StatusCode != 200 || body["response"] != "A mirror reflects." || body["provider"] != pc.provider {
				t.Fatalf("success: %d %v", resp.StatusCode, body)
			}
			_, stored := ts.do(t, "GET", "/generations/"+body["generation_id"].(string), "")
			if stored["route"] == "" || stored["usage"].(map[string]any)["output_tokens"].(float64) == 0 {
				t.Errorf("stored generation lacks route or usage: %v", stored)
			}
			for _, f := range faults {
				t.Run(f.name, func(t *testing.T) {
					fsrv := pc.start(t, f.reply)
					fts := gatewayServer(t, map[string]string{pc.provider: fsrv.Key}, map[string]string{pc.provider: fsrv.BaseURL})
					resp, body := fts.do(t, "POST", "/generate_response", gen(pc.model))
					if f.status == 200 {
						if resp.StatusCode != 200 || body["response"] != "recovered answer" {
							t.Fatalf("%d %v", resp.StatusCode, body)
						}
						return
					}
					e := checkEnvelope(t, resp, body, f.status, f.code)
					if f.check != nil {
						f.check(t, resp, e, fsrv)
					}
				})
			}
		})
	}
}

func readSSE(t *testing.T, resp *http.Response) (text string, events []string, last map[string]any) {
	t.Helper()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "event: ") {
			event = strings.TrimPrefix(line, "event: ")
			events = append(events, event)
		} else if strings.HasPrefix(line, "data: ") {
			var v map[string]any
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &v); err != nil {
				t.Fatal(err)
			}
			if event == "delta" {
				b.WriteString(v["text"].(string))
			}
			last = v
		}
	}
	return b.String(), events, last
}

func streamReq(t *testing.T, ts *testServer, model string) *http.Response {
	req, _ := http.NewRequest("POST", ts.URL+"/generate_response", strings.NewReader(gen(model)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestStreamingEveryProvider(t *testing.T) {
	for _, pc := range providerCases {
		t.Run(pc.provider, func(t *testing.T) {
			t.Parallel()
			srv := pc.start(t, llmtest.Text("one two three four five"))
			ts := gatewayServer(t, map[string]string{pc.provider: srv.Key}, map[string]string{pc.provider: srv.BaseURL})
			text, events, done := readSSE(t, streamReq(t, ts, pc.model))
			if text != "one two three four five" || events[len(events)-1] != "done" || done["response"] != text {
				t.Fatalf("streamed %q, events %v, done %v", text, events, done)
			}

			// Cut mid-answer: an error event, never a clean end, and the stored
			// generation is marked incomplete.
			cut := pc.start(t, llmtest.Sequence(llmtest.Reply{Text: "one two three four five", Cut: llmtest.CutDrop, CutAfter: 2}))
			cts := gatewayServer(t, map[string]string{pc.provider: cut.Key}, map[string]string{pc.provider: cut.BaseURL})
			text, events, last := readSSE(t, streamReq(t, cts, pc.model))
			if events[len(events)-1] != "error" || text == "" {
				t.Fatalf("cut stream: events %v, text %q", events, text)
			}
			if _, ok := last["error"]; !ok {
				t.Fatalf("error event without envelope: %v", last)
			}
			var incomplete int
			if err := cts.db.SQL().QueryRow(`SELECT count(*) FROM generations WHERE status = 'incomplete' AND response_text = ?`, text).Scan(&incomplete); err != nil || incomplete != 1 {
				t.Fatalf("incomplete generation not stored: %d %v", incomplete, err)
			}
			// The error event names that generation, which GET /generations shows.
			id, _ := last["generation_id"].(string)
			resp, stored := cts.do(t, "GET", "/generations/"+id, "")
			if resp.StatusCode != 200 || stored["complete"] != false || stored["response"] != text {
				t.Fatalf("error event's generation_id %q: %d %v", id, resp.StatusCode, stored)
			}
		})
	}
}

func TestFallbackOnRetryableFailure(t *testing.T) {
	primary := llmtest.NewOpenAIServer(t, llmtest.Sequence(llmtest.Reply{Status: 503}))
	backup := llmtest.NewAnthropicServer(t, llmtest.Text("from the fallback"))
	ts := gatewayServer(t, map[string]string{"openai": primary.Key, "anthropic": backup.Key},
		map[string]string{"openai": primary.BaseURL, "anthropic": backup.BaseURL})
	resp, body := ts.do(t, "POST", "/generate_response", gen("primary"))
	if resp.StatusCode != 200 || body["model_id"] != "claude" || body["requested_model_id"] != "primary" || body["fallback_used"] != true {
		t.Fatalf("%d %v", resp.StatusCode, body)
	}
	// A non-retryable failure (bad request) does not fall back.
	bad := llmtest.NewOpenAIServer(t, llmtest.Sequence(llmtest.Reply{Status: 400, Message: "bad request"}))
	ts = gatewayServer(t, map[string]string{"openai": bad.Key, "anthropic": backup.Key},
		map[string]string{"openai": bad.BaseURL, "anthropic": backup.BaseURL})
	resp, body = ts.do(t, "POST", "/generate_response", gen("primary"))
	checkEnvelope(t, resp, body, 502, "upstream_error")
}

func TestClientGoneCancelsUpstream(t *testing.T) {
	srv := llmtest.NewOpenAIServer(t, llmtest.Sequence(llmtest.Reply{Hang: true}))
	ts := gatewayServer(t, map[string]string{"openai": srv.Key}, map[string]string{"openai": srv.BaseURL})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+"/generate_response", strings.NewReader(gen("oai")))
	req.Header.Set("Content-Type", "application/json")
	go func() {
		for srv.Count() == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	if _, err := ts.Client().Do(req); err == nil {
		t.Fatal("request should have been canceled")
	}
	select {
	case <-srv.Disconnects:
	case <-time.After(10 * time.Second): // a bound on a hang, not a speed assertion
		t.Fatal("the upstream call was not canceled when the client left")
	}
}

// TestOpenAICompatibleModelWithItsOwnServer: an openai_compatible model that names its
// server (a vLLM or a local gateway) needs no key and no OPENAI_COMPATIBLE_BASE_URL:
// it is listed and answers, blocking and streaming, without any Authorization sent.
func TestOpenAICompatibleModelWithItsOwnServer(t *testing.T) {
	srv := llmtest.NewOpenAIServer(t, llmtest.Text("Served by vLLM."), llmtest.NoAuth())
	cat := `models:
  default:
    default_model: local
  catalog:
    local:
      display_name: Local vLLM
      provider: openai_compatible
      litellm_route: openai_compatible/qwen-test
      base_url: ` + srv.BaseURL + `
      available: true
`
	ts := catalogServer(t, cat, nil, nil)
	resp, body := ts.do(t, "GET", "/models", "")
	if resp.StatusCode != 200 || len(body["models"].([]any)) != 1 {
		t.Fatalf("GET /models: %d %v", resp.StatusCode, body)
	}
	resp, body = ts.do(t, "POST", "/generate_response", gen("local"))
	if resp.StatusCode != 200 || body["response"] != "Served by vLLM." || body["provider"] != "openai_compatible" {
		t.Fatalf("generate: %d %v", resp.StatusCode, body)
	}
	if auth := srv.Requests()[0].Header.Get("Authorization"); auth != "" {
		t.Errorf("Authorization %q sent to a server that has no key", auth)
	}
	text, _, last := readSSE(t, streamReq(t, ts, "local"))
	if text != "Served by vLLM." || last["generation_id"] == nil {
		t.Errorf("stream: %q, done %v", text, last)
	}
}

// TestClientGoneMidStream: a client that leaves after the first deltas cancels the
// upstream stream; the server neither panics nor answers it, and the generation is
// stored as incomplete with the text that was sent.
func TestClientGoneMidStream(t *testing.T) {
	srv := llmtest.NewOpenAIServer(t, llmtest.Sequence(llmtest.Reply{Deltas: []string{"Half ", "an ", "answer"}, Cut: llmtest.CutStall, CutAfter: 2}))
	ts := gatewayServer(t, map[string]string{"openai": srv.Key}, map[string]string{"openai": srv.BaseURL})
	resp := streamReq(t, ts, "oai")
	br := bufio.NewReader(resp.Body)
	for deltas := 0; deltas < 2; {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended before two deltas: %v", err)
		}
		if strings.HasPrefix(line, "event: delta") {
			deltas++
		}
	}
	resp.Body.Close() // leave mid-answer
	select {
	case <-srv.Disconnects:
	case <-time.After(10 * time.Second): // a bound on a hang, not a speed assertion
		t.Fatal("the upstream stream was not canceled when the client left")
	}
	var status, text string
	for range 200 { // the handler stores the incomplete generation after the upstream ends
		err := ts.db.SQL().QueryRow(`SELECT status, response_text FROM generations`).Scan(&status, &text)
		if err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if status != "incomplete" || text != "Half an " {
		t.Errorf("stored %q %q, want incomplete with the text sent", status, text)
	}
}

// TestTokenCapMakesAnIncompleteAnswer: each provider's own "stopped at the output
// token cap" (OpenAI length, Anthropic max_tokens, Gemini MAX_TOKENS) answers
// complete=false with finish_reason "length", blocking and streaming, and is stored so.
func TestTokenCapMakesAnIncompleteAnswer(t *testing.T) {
	capped := map[string]string{"openai": "length", "anthropic": "max_tokens", "gemini": "MAX_TOKENS", "openrouter": "length", "groq": "length"}
	for _, pc := range providerCases {
		t.Run(pc.provider, func(t *testing.T) {
			srv := pc.start(t, llmtest.Sequence(llmtest.Reply{Text: "cut short", FinishReason: capped[pc.provider]}))
			ts := gatewayServer(t, map[string]string{pc.provider: srv.Key}, map[string]string{pc.provider: srv.BaseURL})
			resp, body := ts.do(t, "POST", "/generate_response", gen(pc.model))
			if resp.StatusCode != 200 || body["complete"] != false || body["finish_reason"] != "length" {
				t.Fatalf("blocking: %d %v", resp.StatusCode, body)
			}
			_, stored := ts.do(t, "GET", "/generations/"+body["generation_id"].(string), "")
			if stored["complete"] != false || stored["finish_reason"] != "length" {
				t.Errorf("stored: %v", stored)
			}
			_, events, done := readSSE(t, streamReq(t, ts, pc.model))
			if events[len(events)-1] != "done" || done["complete"] != false || done["finish_reason"] != "length" {
				t.Errorf("streaming: events %v, done %v", events, done)
			}
		})
	}
}
