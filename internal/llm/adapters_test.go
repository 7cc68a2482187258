package llm_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mirror/internal/apperr"
	"mirror/internal/llm"
	"mirror/internal/llm/llmtest"
)

// kit pairs a provider adapter with the fake that speaks its protocol.
type kit struct {
	provider    string
	newServer   func(testing.TB, llmtest.Handler, ...llmtest.Option) *llmtest.Server
	serverOpts  []llmtest.Option
	newProvider func(testing.TB, llm.Options) llm.Provider
	// seed and logprobs say whether the protocol carries them.
	seed, logprobs bool
	// noAuth: the server accepts any key, as Ollama does.
	noAuth bool
}

func openAIKit(name string, opts ...llmtest.Option) kit {
	return kit{provider: name, newServer: llmtest.NewOpenAIServer, serverOpts: opts, seed: true, logprobs: true,
		newProvider: func(_ testing.TB, o llm.Options) llm.Provider { return llm.NewOpenAI(o) }}
}

var kits = []kit{
	openAIKit(llm.OpenAI),
	openAIKit(llm.OpenRouter),
	openAIKit(llm.Groq),
	func() kit { k := openAIKit(llm.Ollama, llmtest.NoAuth()); k.noAuth = true; return k }(),
	openAIKit(llm.OpenAICompatible),
	{provider: llm.Anthropic, newServer: llmtest.NewAnthropicServer,
		newProvider: func(_ testing.TB, o llm.Options) llm.Provider { return llm.NewAnthropic(o) }},
	{provider: llm.Gemini, newServer: llmtest.NewGeminiServer, seed: true, logprobs: true,
		newProvider: func(tb testing.TB, o llm.Options) llm.Provider {
			p, err := llm.NewGemini(o)
			if err != nil {
				tb.Fatalf("NewGemini: %v", err)
			}
			return p
		}},
}

// fixture is one adapter wired to its fake, recording retries.
type fixture struct {
	srv *llmtest.Server
	p   llm.Provider
	key string

	mu      sync.Mutex
	retries []llm.RetryEvent
}

func (f *fixture) retryEvents() []llm.RetryEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.retries)
}

// setup starts k's fake with h and an adapter for it. Backoff is 1ms so retries
// cost nothing but the Retry-After a case asks for; mod adjusts the options.
func setup(t *testing.T, k kit, h llmtest.Handler, mod func(*llm.Options)) *fixture {
	t.Helper()
	f := &fixture{srv: k.newServer(t, h, k.serverOpts...)}
	f.key = f.srv.Key
	o := llm.Options{
		Provider:  k.provider,
		APIKey:    f.srv.Key,
		BaseURL:   f.srv.BaseURL,
		Timeout:   10 * time.Second,
		RetryBase: time.Millisecond,
		OnRetry: func(ev llm.RetryEvent) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.retries = append(f.retries, ev)
		},
	}
	if f.key == "" {
		// Ollama: the adapter may still hold a key (OLLAMA_API_KEY); it must not leak.
		o.APIKey = "sk-ollama-unused-key-0123456789"
		f.key = o.APIKey
	}
	if mod != nil {
		mod(&o)
		f.key = o.APIKey
	}
	f.p = k.newProvider(t, o)
	return f
}

func temp(v float64) *float64 { return &v }

func baseRequest() llm.Request {
	return llm.Request{
		Model: "test-model",
		Messages: []llm.Message{
			{Role: "system", Content: "You are terse."},
			{Role: "user", Content: "Say hello."},
			{Role: "assistant", Content: "Hello."},
			{Role: "user", Content: "Again, please."},
		},
		MaxOutputTokens: 64,
		Temperature:     temp(0.5),
		Seed:            42,
	}
}

// asError requires err to be an *llm.Error of kind and free of key.
func asError(t *testing.T, err error, kind llm.ErrorKind, key string) *llm.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want kind %s", kind)
	}
	var e *llm.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %q is not *llm.Error", err, err)
	}
	if e.Kind != kind {
		t.Fatalf("kind = %s, want %s (error: %v)", e.Kind, kind, err)
	}
	assertNoKey(t, err, key)
	return e
}

// assertNoKey checks every string err can be turned into, along its whole chain
// and through AppError, for key.
func assertNoKey(t *testing.T, err error, key string) {
	t.Helper()
	var texts []string
	for e := err; e != nil; e = errors.Unwrap(e) {
		texts = append(texts, e.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e))
	}
	if ae := llm.AppError(err); ae != nil {
		texts = append(texts, ae.Error(), ae.Message)
	}
	for _, s := range texts {
		if key != "" && strings.Contains(s, key) {
			t.Fatalf("error text holds the API key: %s", s)
		}
		if strings.Contains(s, "Bearer sk-") || strings.Contains(s, "AIzaSyLLMTEST") || strings.Contains(s, "sk-ant-api03-llmtest") || strings.Contains(s, "sk-proj-llmtest") {
			t.Fatalf("error text holds a credential: %s", s)
		}
	}
}

func TestAdapters(t *testing.T) {
	for _, k := range kits {
		t.Run(k.provider, func(t *testing.T) {
			t.Parallel()
			testSuccess(t, k)
			testFaults(t, k)
			testStreamFaults(t, k)
			testCancel(t, k)
		})
	}
}

func testSuccess(t *testing.T, k kit) {
	t.Run("complete", func(t *testing.T) {
		f := setup(t, k, llmtest.Text("Hello there, friend."), nil)
		req := baseRequest()
		req.Logprobs = true
		resp, err := f.p.Complete(context.Background(), req)
		if err != nil {
			t.Fatalf("Complete: %v", err)
		}
		if resp.Text != "Hello there, friend." {
			t.Errorf("Text = %q", resp.Text)
		}
		if resp.FinishReason == "" {
			t.Error("FinishReason is empty")
		}
		// The fake counts words: 3+2+1+2 prompt words, 3 answer words.
		if want := (llm.Usage{InputTokens: 8, OutputTokens: 3}); resp.Usage != want {
			t.Errorf("Usage = %+v, want %+v", resp.Usage, want)
		}
		if k.logprobs && len(resp.Logprobs) != 3 {
			t.Errorf("Logprobs = %v, want 3 tokens", resp.Logprobs)
		}
		got := f.srv.Requests()
		if len(got) != 1 {
			t.Fatalf("server saw %d requests, want 1", len(got))
		}
		checkRequest(t, k, got[0], req)
	})
	t.Run("stream", func(t *testing.T) {
		deltas := []string{"Once ", "upon ", "a ", "time."}
		f := setup(t, k, func(llmtest.ChatRequest) llmtest.Reply { return llmtest.Reply{Deltas: deltas} }, nil)
		var seen []string
		resp, err := f.p.Stream(context.Background(), baseRequest(), func(d string) error {
			seen = append(seen, d)
			return nil
		})
		if err != nil {
			t.Fatalf("Stream: %v", err)
		}
		if !slices.Equal(seen, deltas) {
			t.Errorf("deltas = %q, want %q", seen, deltas)
		}
		if resp.Text != "Once upon a time." || resp.FinishReason == "" {
			t.Errorf("resp = %+v", resp)
		}
		if want := (llm.Usage{InputTokens: 8, OutputTokens: 4}); resp.Usage != want {
			t.Errorf("Usage = %+v, want %+v", resp.Usage, want)
		}
		if r := f.srv.Requests(); len(r) != 1 || !r[0].Stream {
			t.Errorf("server saw %+v, want one streaming request", r)
		}
	})
	t.Run("stream callback error stops the stream", func(t *testing.T) {
		f := setup(t, k, llmtest.Text("one two three"), nil)
		stop := errors.New("client went away")
		_, err := f.p.Stream(context.Background(), baseRequest(), func(string) error { return stop })
		if !errors.Is(err, stop) {
			t.Fatalf("err = %v, want the callback's error", err)
		}
		if n := f.srv.Count(); n != 1 {
			t.Errorf("server saw %d requests, want 1 (no retry after a delivered delta)", n)
		}
	})
}

// checkRequest compares what the fake decoded with what was asked.
func checkRequest(t *testing.T, k kit, got llmtest.ChatRequest, req llm.Request) {
	t.Helper()
	if got.Model != req.Model {
		t.Errorf("model = %q, want %q", got.Model, req.Model)
	}
	if got.System != "You are terse." {
		t.Errorf("system = %q", got.System)
	}
	want := req.Messages[1:]
	if !reflect.DeepEqual(got.Messages, want) {
		t.Errorf("messages = %+v, want %+v", got.Messages, want)
	}
	if got.MaxTokens != req.MaxOutputTokens {
		t.Errorf("max tokens = %d, want %d", got.MaxTokens, req.MaxOutputTokens)
	}
	if got.Temperature == nil || *got.Temperature != *req.Temperature {
		t.Errorf("temperature = %v, want %v", got.Temperature, *req.Temperature)
	}
	if k.seed && (got.Seed == nil || *got.Seed != req.Seed) {
		t.Errorf("seed = %v, want %d", got.Seed, req.Seed)
	}
	if k.logprobs != got.Logprobs {
		t.Errorf("logprobs sent = %v, want %v", got.Logprobs, k.logprobs)
	}
}

// call runs Complete, or Stream when stream is set, returning the deltas seen.
func call(ctx context.Context, p llm.Provider, stream bool) (llm.Response, []string, error) {
	if !stream {
		r, err := p.Complete(ctx, baseRequest())
		return r, nil, err
	}
	var seen []string
	r, err := p.Stream(ctx, baseRequest(), func(d string) error {
		seen = append(seen, d)
		return nil
	})
	return r, seen, err
}

func testFaults(t *testing.T, k kit) {
	ok := llmtest.Reply{Text: "fine"}
	// Anthropic sends retry-after in whole seconds only.
	retryAfter := 40 * time.Millisecond
	if k.provider == llm.Anthropic {
		retryAfter = time.Second
	}
	cases := []struct {
		name       string
		replies    []llmtest.Reply
		opts       func(*llm.Options)
		wantKind   llm.ErrorKind // "" = success
		wantCalls  int
		wantStatus int
		wantCode   apperr.Code
	}{
		{name: "wrong key", opts: func(o *llm.Options) { o.APIKey = "sk-wrong-" + strings.Repeat("x", 24) },
			replies: []llmtest.Reply{ok}, wantKind: llm.KindAuth, wantCalls: 0, wantCode: apperr.UpstreamError},
		{name: "bad request", replies: []llmtest.Reply{{Status: 400, Message: "model test-model does not exist"}},
			wantKind: llm.KindBadRequest, wantCalls: 1, wantStatus: 400, wantCode: apperr.UpstreamError},
		{name: "forbidden", replies: []llmtest.Reply{{Status: 403}},
			wantKind: llm.KindAuth, wantCalls: 1, wantStatus: 403, wantCode: apperr.UpstreamError},
		{name: "429 then success", replies: []llmtest.Reply{{Status: 429, RetryAfter: retryAfter}, ok},
			wantCalls: 2},
		{name: "429 every time", replies: []llmtest.Reply{{Status: 429, RetryAfter: 10 * time.Millisecond}},
			wantKind: llm.KindRateLimited, wantCalls: 3, wantStatus: 429, wantCode: apperr.UpstreamRateLimited},
		{name: "429 longer than the wait cap", replies: []llmtest.Reply{{Status: 429, RetryAfter: time.Hour}, ok},
			wantKind: llm.KindRateLimited, wantCalls: 1, wantStatus: 429, wantCode: apperr.UpstreamRateLimited},
		{name: "500 then success", replies: []llmtest.Reply{{Status: 500}, ok}, wantCalls: 2},
		{name: "503 twice then success", replies: []llmtest.Reply{{Status: 503}, {Status: 503}, ok}, wantCalls: 3},
		{name: "500 every time", replies: []llmtest.Reply{{Status: 500}},
			wantKind: llm.KindServer, wantCalls: 3, wantStatus: 500, wantCode: apperr.UpstreamError},
		{name: "no retries", opts: func(o *llm.Options) { o.MaxRetries = -1 }, replies: []llmtest.Reply{{Status: 502}, ok},
			wantKind: llm.KindServer, wantCalls: 1, wantStatus: 502, wantCode: apperr.UpstreamError},
		{name: "hang past the timeout", opts: func(o *llm.Options) { o.Timeout = 150 * time.Millisecond },
			replies: []llmtest.Reply{{Hang: true}}, wantKind: llm.KindTimeout, wantCalls: 1, wantCode: apperr.UpstreamTimeout},
		{name: "malformed JSON", replies: []llmtest.Reply{{Malformed: true}, ok},
			wantKind: llm.KindMalformed, wantCalls: 1, wantCode: apperr.UpstreamError},
		{name: "answer over the size limit", opts: func(o *llm.Options) { o.MaxResponseBytes = 2048 },
			replies: []llmtest.Reply{{Text: strings.Repeat("word ", 2000)}}, wantKind: llm.KindMalformed, wantCalls: 1, wantCode: apperr.UpstreamError},
	}
	for _, stream := range []bool{false, true} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/stream=%v", tc.name, stream), func(t *testing.T) {
				if tc.name == "wrong key" && k.noAuth {
					t.Skip("the server takes any key")
				}
				f := setup(t, k, llmtest.Sequence(tc.replies...), tc.opts)
				resp, _, err := call(context.Background(), f.p, stream)
				if n := f.srv.Count(); n != tc.wantCalls {
					t.Errorf("server handled %d requests, want %d", n, tc.wantCalls)
				}
				if tc.wantKind == "" {
					if err != nil {
						t.Fatalf("err = %v, want success", err)
					}
					if resp.Text != "fine" {
						t.Errorf("Text = %q", resp.Text)
					}
					checkRetries(t, f, tc.replies)
					return
				}
				e := asError(t, err, tc.wantKind, f.key)
				if e.Provider != k.provider {
					t.Errorf("Provider = %q, want %q", e.Provider, k.provider)
				}
				wantStatus := tc.wantStatus
				if tc.name == "wrong key" {
					wantStatus = 401
					if k.provider == llm.Gemini {
						wantStatus = 400 // API_KEY_INVALID, as Google answers
					}
				}
				if e.Status != wantStatus {
					t.Errorf("Status = %d, want %d", e.Status, wantStatus)
				}
				ae := llm.AppError(err)
				if ae == nil || ae.Code != tc.wantCode {
					t.Fatalf("AppError = %v, want code %s", ae, tc.wantCode)
				}
				if !strings.Contains(ae.Message, k.provider) {
					t.Errorf("AppError message %q does not name %s", ae.Message, k.provider)
				}
				switch tc.name {
				case "bad request":
					if !strings.Contains(ae.Message, "model test-model does not exist") {
						t.Errorf("AppError message %q lacks the provider's message", ae.Message)
					}
				case "429 every time":
					want := 10 * time.Millisecond
					if k.provider == llm.Anthropic {
						want = time.Second // its retry-after header counts whole seconds
					}
					if e.RetryAfter != want || ae.RetryAfter != 1 {
						t.Errorf("RetryAfter = %v / %ds, want %v / 1s", e.RetryAfter, ae.RetryAfter, want)
					}
				case "429 longer than the wait cap":
					if ae.RetryAfter != 3600 {
						t.Errorf("AppError RetryAfter = %d, want 3600", ae.RetryAfter)
					}
				case "hang past the timeout":
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("timeout error %v does not match context.DeadlineExceeded", err)
					}
				}
			})
		}
	}
}

// checkRetries requires one retry event per failed reply, each waiting at least
// the Retry-After the reply asked for.
func checkRetries(t *testing.T, f *fixture, replies []llmtest.Reply) {
	t.Helper()
	events := f.retryEvents()
	if len(events) != len(replies)-1 {
		t.Fatalf("retry events = %d, want %d", len(events), len(replies)-1)
	}
	for i, ev := range events {
		if ev.Attempt != i+1 || ev.Err == nil || ev.Err.Status != replies[i].Status {
			t.Errorf("event %d = %+v, want attempt %d failing with %d", i, ev, i+1, replies[i].Status)
		}
		if ev.Wait < replies[i].RetryAfter {
			t.Errorf("event %d waited %v, less than Retry-After %v", i, ev.Wait, replies[i].RetryAfter)
		}
	}
}

func testStreamFaults(t *testing.T, k kit) {
	story := []string{"It ", "was ", "a ", "dark ", "and ", "stormy ", "night."}
	cases := []struct {
		name      string
		replies   []llmtest.Reply
		opts      func(*llm.Options)
		wantKind  llm.ErrorKind
		wantSeen  int
		wantCalls int
	}{
		{name: "stalls mid-answer past the timeout", replies: []llmtest.Reply{{Deltas: story, Cut: llmtest.CutStall, CutAfter: 2}},
			opts: func(o *llm.Options) { o.Timeout = 150 * time.Millisecond }, wantKind: llm.KindTimeout, wantSeen: 2, wantCalls: 1},
		{name: "connection dropped mid-answer", replies: []llmtest.Reply{{Deltas: story, Cut: llmtest.CutDrop, CutAfter: 3}},
			wantKind: llm.KindIncomplete, wantSeen: 3, wantCalls: 1},
		{name: "body ended without the protocol's end", replies: []llmtest.Reply{{Deltas: story, Cut: llmtest.CutEnd, CutAfter: 3}},
			wantKind: llm.KindIncomplete, wantSeen: 3, wantCalls: 1},
		{name: "error event mid-answer", replies: []llmtest.Reply{{Deltas: story, Cut: llmtest.CutError, CutAfter: 2, Message: "overloaded, sorry"}},
			wantKind: llm.KindServer, wantSeen: 2, wantCalls: 1},
		{name: "dropped before the first delta, then success", replies: []llmtest.Reply{{Deltas: story, Cut: llmtest.CutDrop}, {Deltas: story}},
			wantSeen: len(story), wantCalls: 2},
		{name: "ended before the first delta, then success", replies: []llmtest.Reply{{Deltas: story, Cut: llmtest.CutEnd}, {Deltas: story}},
			wantSeen: len(story), wantCalls: 2},
		{name: "malformed event", replies: []llmtest.Reply{{Deltas: story, Malformed: true}},
			wantKind: llm.KindMalformed, wantCalls: 1},
	}
	for _, tc := range cases {
		t.Run("stream/"+tc.name, func(t *testing.T) {
			f := setup(t, k, llmtest.Sequence(tc.replies...), tc.opts)
			resp, seen, err := call(context.Background(), f.p, true)
			if len(seen) != tc.wantSeen {
				t.Errorf("deltas seen = %d (%q), want %d", len(seen), seen, tc.wantSeen)
			}
			if n := f.srv.Count(); n != tc.wantCalls {
				t.Errorf("server handled %d requests, want %d", n, tc.wantCalls)
			}
			if tc.wantKind == "" {
				if err != nil || resp.Text != strings.Join(story, "") {
					t.Fatalf("Stream = %+v, %v; want the whole story", resp, err)
				}
				return
			}
			asError(t, err, tc.wantKind, f.key)
			// A dropped connection must be seen as such, not as a JSON complaint.
			if dropped := errors.Is(err, io.ErrUnexpectedEOF); dropped != (tc.replies[0].Cut == llmtest.CutDrop) {
				t.Errorf("errors.Is(err, io.ErrUnexpectedEOF) = %v for %v", dropped, err)
			}
			if resp.Text != "" {
				t.Errorf("a failed stream returned text %q", resp.Text)
			}
		})
	}
}

func testCancel(t *testing.T, k kit) {
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("cancel/stream=%v", stream), func(t *testing.T) {
			arrived := make(chan struct{}, 1)
			f := setup(t, k, func(llmtest.ChatRequest) llmtest.Reply {
				arrived <- struct{}{}
				return llmtest.Reply{Hang: true}
			}, nil)
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				<-arrived
				cancel()
			}()
			_, _, err := call(ctx, f.p, stream)
			asError(t, err, llm.KindCanceled, f.key)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err %v does not match context.Canceled", err)
			}
			if llm.AppError(err) != nil {
				t.Errorf("AppError of a cancellation = %v, want nil", llm.AppError(err))
			}
			select {
			case <-f.srv.Disconnects:
			case <-time.After(10 * time.Second):
				t.Fatal("the fake never saw the client go away")
			}
			if n := f.srv.Count(); n != 1 {
				t.Errorf("server handled %d requests, want 1", n)
			}
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		f := setup(t, k, llmtest.Text("unused"), func(o *llm.Options) { o.BaseURL = "http://" + addr + "/v1" })
		_, _, err = call(context.Background(), f.p, false)
		e := asError(t, err, llm.KindConnection, f.key)
		if len(f.retryEvents()) != 2 {
			t.Errorf("retries = %d, want 2", len(f.retryEvents()))
		}
		if !strings.Contains(e.Message, "refused") {
			t.Errorf("Message = %q, want the cause", e.Message)
		}
	})
}

func TestOpenAIEmbed(t *testing.T) {
	srv := llmtest.NewOpenAIServer(t, llmtest.Sequence(llmtest.Reply{Status: 500}, llmtest.Reply{}))
	p := llm.NewOpenAI(llm.Options{APIKey: srv.Key, BaseURL: srv.BaseURL, RetryBase: time.Millisecond})
	inputs := []string{"the cat sat", "a dog ran", "the cat sat"}
	vecs, err := p.Embed(context.Background(), "text-embedding-3-small", inputs)
	if err != nil {
		t.Fatalf("Embed: %v", err)
	}
	if len(vecs) != len(inputs) {
		t.Fatalf("got %d vectors, want %d", len(vecs), len(inputs))
	}
	for i, in := range inputs {
		if want := llmtest.Embed(in); !slices.Equal(vecs[i], want) {
			t.Errorf("vector %d = %v, want %v", i, vecs[i], want)
		}
	}
	if srv.Count() != 2 {
		t.Errorf("server handled %d requests, want 2 (500 then success)", srv.Count())
	}
	got := srv.Requests()[1]
	if got.Endpoint != llmtest.EndpointEmbeddings || !slices.Equal(got.Inputs, inputs) {
		t.Errorf("server saw %+v", got)
	}

	bad := llm.NewOpenAI(llm.Options{APIKey: "sk-bad-0123456789abcdef", BaseURL: srv.BaseURL})
	_, err = bad.Embed(context.Background(), "m", inputs)
	asError(t, err, llm.KindAuth, "sk-bad-0123456789abcdef")
}

func TestOpenAICompatibleWithoutBaseURL(t *testing.T) {
	p := llm.NewOpenAI(llm.Options{Provider: llm.OpenAICompatible})
	_, err := p.Complete(context.Background(), baseRequest())
	e := asError(t, err, llm.KindNotConfigured, "")
	if ae := llm.AppError(e); ae == nil || ae.Code != apperr.ProviderNotConfigured {
		t.Errorf("AppError = %v", ae)
	}
}

func TestGeminiWithoutKey(t *testing.T) {
	_, err := llm.NewGemini(llm.Options{})
	asError(t, err, llm.KindNotConfigured, "")
}

// TestOpenAIMaxTokensField checks the OpenAI API gets max_completion_tokens (its
// reasoning models refuse max_tokens) and compatible servers max_tokens.
func TestOpenAIMaxTokensField(t *testing.T) {
	for _, tc := range []struct{ provider, field string }{
		{llm.OpenAI, "max_completion_tokens"}, {llm.Groq, "max_tokens"}, {llm.Ollama, "max_tokens"},
	} {
		t.Run(tc.provider, func(t *testing.T) {
			var body string
			srv := llmtest.NewOpenAIServer(t, llmtest.Text("ok"), llmtest.NoAuth())
			client := &http.Client{Transport: recordBody(&body)}
			p := llm.NewOpenAI(llm.Options{Provider: tc.provider, BaseURL: srv.BaseURL, HTTPClient: client})
			if _, err := p.Complete(context.Background(), baseRequest()); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(body, `"`+tc.field+`":64`) {
				t.Errorf("body %s lacks %s", body, tc.field)
			}
		})
	}
}

// recordBody returns a transport that keeps the last request body in dst.
func recordBody(dst *string) http.RoundTripper { return bodyRecorder{dst} }

type bodyRecorder struct{ dst *string }

func (r bodyRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.GetBody != nil {
		if b, err := req.GetBody(); err == nil {
			data, _ := io.ReadAll(b)
			*r.dst = string(data)
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}
