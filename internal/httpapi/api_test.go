package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	defaults "mirror/config"
	"mirror/internal/catalog"
	"mirror/internal/feedback"
	"mirror/internal/generate"
	"mirror/internal/llm"
	"mirror/internal/reqid"
	"mirror/internal/sqlstore"
	"mirror/internal/storetest"
)

// demoProviders serves only the offline demo, as a fresh machine does.
type demoProviders struct{}

func (demoProviders) ConfiguredAt(p, _ string) bool { return p == llm.Demo }
func (demoProviders) Provider(p, _ string) (llm.Provider, error) {
	if p != llm.Demo {
		return nil, &llm.Error{Provider: p, Kind: llm.KindNotConfigured}
	}
	return llm.DemoProvider{}, nil
}

type testServer struct {
	*httptest.Server
	api *Server
	db  *sqlstore.DB
}

// testOptions are the options the wiring builds from the defaults (an empty
// environment): development, so the docs are served.
func testOptions() Options {
	return Options{ProjectName: "Mirror", Version: "0.1.0", Development: true, CSPReportOnly: true, AllowedHosts: []string{"*"},
		TrustedProxyHops: 1, MaxRequestBodyBytes: 65536, MaxUploadBytes: 2 << 30, BodyReadTimeout: 30 * time.Second}
}

func newTestServer(t *testing.T, mutate func(*Options)) *testServer {
	t.Helper()
	ctx := context.Background()
	opts := testOptions()
	if mutate != nil {
		mutate(&opts)
	}
	log := testLog(t)
	db := storetest.SQLite(t)
	cat, err := catalog.Parse(defaults.DefaultModels, "models.yaml")
	if err != nil {
		t.Fatal(err)
	}
	models := catalog.NewService(cat, demoProviders{}, db, catalog.Options{AllowDemo: true})
	if err := models.ChooseDefault(ctx, false, log); err != nil {
		t.Fatal(err)
	}
	api := New(Deps{Options: opts, Log: log, Catalog: models,
		Generate: generate.NewService(models, demoProviders{}, db, true, log),
		Feedback: feedback.NewService(db, true), Ready: db.Ping})
	return &testServer{Server: newHTTPTestServer(t, api), api: api, db: db}
}

// newHTTPTestServer serves h on loopback for the test, checking every response
// against openapi.json (openapi_conformance_test.go).
func newHTTPTestServer(t *testing.T, h http.Handler) *httptest.Server {
	ts := httptest.NewServer(newConformance(t).wrap(h))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *testServer) do(t *testing.T, method, path, body string, hdr ...string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: body is not JSON: %q", method, path, raw)
		}
	}
	return resp, out
}

// checkEnvelope asserts the one error envelope of API.md.
func checkEnvelope(t *testing.T, resp *http.Response, body map[string]any, status int, code string) map[string]any {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d (body %v)", resp.StatusCode, status, body)
	}
	e, ok := body["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error envelope: %v", body)
	}
	if e["code"] != code {
		t.Errorf("code %v, want %s", e["code"], code)
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Error("envelope without message")
	}
	if e["request_id"] == "" || e["request_id"] != resp.Header.Get("X-Request-ID") {
		t.Errorf("request_id %v does not match X-Request-ID %q", e["request_id"], resp.Header.Get("X-Request-ID"))
	}
	return e
}

func TestMirrorViewFlow(t *testing.T) {
	ts := newTestServer(t, nil)
	resp, models := ts.do(t, "GET", "/models", "")
	if resp.StatusCode != 200 || models["default_model_id"] != "offline-demo" {
		t.Fatalf("models: %d %v", resp.StatusCode, models)
	}
	list := models["models"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["provider"] != "demo" {
		t.Fatalf("with no keys only the demo is servable: %v", list)
	}

	resp, gen := ts.do(t, "POST", "/generate_response", `{"submission":{"model_id":"offline-demo","text":"Explain mirrors"}}`)
	if resp.StatusCode != 200 {
		t.Fatalf("generate: %d %v", resp.StatusCode, gen)
	}
	id, _ := gen["generation_id"].(string)
	if id == "" || gen["model_id"] != "offline-demo" || !strings.Contains(gen["response"].(string), "offline demo") || gen["persisted"] != true {
		t.Fatalf("generation: %v", gen)
	}
	if _, ok := gen["usage"].(map[string]any)["input_tokens"]; !ok {
		t.Errorf("usage missing: %v", gen)
	}

	resp, thumb := ts.do(t, "POST", "/feedback/thumb", `{"generation_id":"`+id+`","thumb":"up"}`)
	if resp.StatusCode != 201 || thumb["kind"] != "thumb" || thumb["feedback_id"] == "" || thumb["persisted"] != true {
		t.Fatalf("thumb: %d %v", resp.StatusCode, thumb)
	}
	resp, edit := ts.do(t, "POST", "/feedback/edit", `{"generation_id":"`+id+`","edited_response":"A better answer."}`)
	if resp.StatusCode != 201 || edit["kind"] != "edit" {
		t.Fatalf("edit: %d %v", resp.StatusCode, edit)
	}
	resp, stored := ts.do(t, "GET", "/generations/"+id, "")
	if resp.StatusCode != 200 || stored["text"] != "Explain mirrors" || stored["response"] != gen["response"] {
		t.Fatalf("stored: %d %v", resp.StatusCode, stored)
	}
	fb := stored["feedback"].([]any)
	if len(fb) != 2 || fb[0].(map[string]any)["thumb"] != "up" || fb[1].(map[string]any)["edited_response"] != "A better answer." {
		t.Fatalf("feedback: %v", fb)
	}
}

func TestErrorsUseTheEnvelope(t *testing.T) {
	ts := newTestServer(t, nil)
	tests := []struct {
		name, method, path, body string
		status                   int
		code, field              string
	}{
		{"malformed json", "POST", "/generate_response", `{"submission":`, 400, "invalid_json", ""},
		{"trailing garbage", "POST", "/feedback/thumb", `{"generation_id":"x","thumb":"up"} {}`, 400, "invalid_json", ""},
		{"missing submission", "POST", "/generate_response", `{}`, 422, "validation_error", "submission.model_id"},
		{"missing text", "POST", "/generate_response", `{"submission":{"model_id":"offline-demo"}}`, 422, "validation_error", "submission.text"},
		{"wrong type", "POST", "/generate_response", `{"submission":{"model_id":5,"text":"x"}}`, 422, "validation_error", "submission.model_id"},
		{"oversize text", "POST", "/generate_response", `{"submission":{"model_id":"offline-demo","text":"` + strings.Repeat("a", generate.MaxTextRunes+1) + `"}}`, 422, "validation_error", "submission.text"},
		{"unknown model", "POST", "/generate_response", `{"submission":{"model_id":"gpt-9","text":"hi"}}`, 422, "unknown_model", "submission.model_id"},
		{"unavailable model", "POST", "/generate_response", `{"submission":{"model_id":"ollama-llama3.2","text":"hi"}}`, 422, "unknown_model", ""},
		{"provider without key", "POST", "/generate_response", `{"submission":{"model_id":"gpt-5-nano","text":"hi"}}`, 503, "provider_not_configured", ""},
		{"bad thumb", "POST", "/feedback/thumb", `{"generation_id":"0193a4b2-0000-7000-8000-000000000000","thumb":"sideways"}`, 422, "validation_error", "thumb"},
		{"unknown generation thumb", "POST", "/feedback/thumb", `{"generation_id":"0193a4b2-0000-7000-8000-000000000000","thumb":"up"}`, 404, "not_found", ""},
		{"unknown generation edit", "POST", "/feedback/edit", `{"generation_id":"0193a4b2-0000-7000-8000-000000000000","edited_response":"x"}`, 404, "not_found", ""},
		{"blank edit", "POST", "/feedback/edit", `{"generation_id":"0193a4b2-0000-7000-8000-000000000000","edited_response":"  "}`, 422, "validation_error", "edited_response"},
		{"unknown generation get", "GET", "/generations/0193a4b2-0000-7000-8000-000000000000", "", 404, "not_found", ""},
		{"not a generation id", "GET", "/generations/../../etc", "", 404, "not_found", ""},
		{"unknown route", "GET", "/nope", "", 404, "not_found", ""},
		{"wrong method", "DELETE", "/models", "", 405, "method_not_allowed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ts.do(t, tt.method, tt.path, tt.body)
			e := checkEnvelope(t, resp, body, tt.status, tt.code)
			if tt.field != "" {
				details, _ := e["details"].([]any)
				found := false
				for _, d := range details {
					if d.(map[string]any)["field"] == tt.field {
						found = true
					}
				}
				if !found {
					t.Errorf("details %v do not name %s", details, tt.field)
				}
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	ts := newTestServer(t, func(o *Options) { o.MaxRequestBodyBytes = 1024 })
	big := `{"submission":{"model_id":"offline-demo","text":"` + strings.Repeat("a", 2000) + `"}}`
	resp, body := ts.do(t, "POST", "/generate_response", big)
	checkEnvelope(t, resp, body, 413, "payload_too_large")

	// Chunked: no Content-Length, the limit applies while reading.
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(big))
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", ts.URL+"/feedback/edit", pr)
	req.Header.Set("Content-Type", "application/json")
	res, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	if req.ContentLength != 0 && req.ContentLength != -1 {
		t.Fatalf("request was not chunked (%d)", req.ContentLength)
	}
	checkEnvelope(t, res, out, 413, "payload_too_large")
}

func TestSecurityHeaders(t *testing.T) {
	ts := newTestServer(t, nil)
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/health", ""}, {"POST", "/generate_response", `{}`}, {"POST", "/feedback/thumb", `{}`},
		{"GET", "/missing", ""}, {"PUT", "/health", ""},
	} {
		resp, _ := ts.do(t, c.method, c.path, c.body, "X-Request-ID", "client-id-1")
		h := resp.Header
		want := map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "X-Request-ID": "client-id-1"}
		for k, v := range want {
			if h.Get(k) != v {
				t.Errorf("%s %s: %s = %q, want %q", c.method, c.path, k, h.Get(k), v)
			}
		}
		if h.Get("Content-Security-Policy-Report-Only") == "" {
			t.Errorf("%s %s: no CSP (report-only by default)", c.method, c.path)
		}
	}
	// An insane incoming id is replaced, never echoed.
	resp, _ := ts.do(t, "GET", "/health", "", "X-Request-ID", "bad id\twith spaces")
	if got := resp.Header.Get("X-Request-ID"); got == "" || strings.Contains(got, " ") {
		t.Errorf("request id %q", got)
	}
	enforce := newTestServer(t, func(o *Options) { o.CSPReportOnly = false })
	resp, _ = enforce.do(t, "GET", "/health", "")
	if resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("Content-Security-Policy-Report-Only") != "" {
		t.Error("CSP_REPORT_ONLY=false must enforce the policy")
	}
}

func TestStreamingGeneration(t *testing.T) {
	ts := newTestServer(t, nil)
	req, _ := http.NewRequest("POST", ts.URL+"/generate_response", strings.NewReader(`{"submission":{"model_id":"offline-demo","text":"stream please"}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	var text strings.Builder
	var done map[string]any
	sc := bufio.NewScanner(resp.Body)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			var v map[string]any
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &v); err != nil {
				t.Fatal(err)
			}
			switch event {
			case "delta":
				text.WriteString(v["text"].(string))
			case "done":
				done = v
			default:
				t.Fatalf("unexpected event %q: %v", event, v)
			}
		}
	}
	if done == nil || done["response"] != text.String() || done["generation_id"] == "" {
		t.Fatalf("done %v; streamed %q", done, text.String())
	}
	_, stored := ts.do(t, "GET", "/generations/"+done["generation_id"].(string), "")
	if stored["response"] != text.String() || stored["complete"] != true {
		t.Fatalf("stored %v", stored)
	}
	// An error before anything was streamed is an ordinary error response.
	req, _ = http.NewRequest("POST", ts.URL+"/generate_response", strings.NewReader(`{"submission":{"model_id":"nope","text":"x"}}`))
	req.Header.Set("Accept", "text/event-stream")
	resp2, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != 422 {
		t.Fatalf("status %d", resp2.StatusCode)
	}
}

func TestMetricsExposed(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.do(t, "GET", "/models", "")
	ts.do(t, "GET", "/nope", "")
	ts.do(t, "POST", "/generate_response", `{"submission":{"model_id":"offline-demo","text":"count me"}}`)
	resp, err := ts.Client().Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{`mirror_http_requests_total{method="GET",route="/models",status="200"} 1`, `mirror_http_errors_total{code="not_found"} 1`, "mirror_http_request_duration_seconds_bucket",
		`mirror_provider_generations_total{outcome="ok",provider="demo"} 1`, `mirror_provider_tokens_total{direction="output",provider="demo"}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestGzipOnlyWhenWorthIt(t *testing.T) {
	ts := newTestServer(t, nil)
	get := func(path string) *http.Response {
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := http.DefaultTransport.RoundTrip(req) // no transparent decompression
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if enc := get("/health").Header.Get("Content-Encoding"); enc != "" {
		t.Errorf("tiny /health compressed: %q", enc)
	}
	if enc := get("/metrics").Header.Get("Content-Encoding"); enc != "gzip" {
		t.Errorf("large /metrics not compressed: %q", enc)
	}
}

func TestCORS(t *testing.T) {
	ts := newTestServer(t, func(o *Options) { o.CORSOrigins = []string{"https://app.example"} })
	resp, _ := ts.do(t, "GET", "/models", "", "Origin", "https://app.example")
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Errorf("allowed origin not echoed: %v", resp.Header)
	}
	resp, _ = ts.do(t, "GET", "/models", "", "Origin", "https://evil.example")
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("other origin got CORS headers: %v", resp.Header)
	}
	resp, _ = ts.do(t, "OPTIONS", "/generate_response", "", "Origin", "https://app.example",
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type")
	if resp.StatusCode >= 300 || resp.Header.Get("Access-Control-Allow-Methods") == "" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Request-ID") == "" {
		t.Errorf("preflight lacks security headers: %v", resp.Header)
	}
}

func TestTrustedHosts(t *testing.T) {
	ts := newTestServer(t, func(o *Options) { o.AllowedHosts = []string{"api.example", "*.mirror.example"} })
	for host, want := range map[string]int{"api.example": 200, "eu.mirror.example": 200, "evil.example": 400, "mirror.example.evil": 400} {
		req, _ := http.NewRequest("GET", ts.URL+"/health", nil)
		req.Host = host
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("host %s: %d, want %d", host, resp.StatusCode, want)
		}
		if want == 400 {
			checkEnvelope(t, resp, body, 400, "invalid_host")
		}
	}
}

func TestPanicBecomesEnvelope(t *testing.T) {
	ts := newTestServer(t, nil)
	s := ts.api
	var logged strings.Builder // this panic is on purpose: capture its record instead
	s.log = slog.New(reqid.NewHandler(slog.NewTextHandler(&logged, nil)))
	h := withRequestID(s.securityHeaders(s.recoverer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("secret-internal-detail")
	}))))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/boom", nil))
	var body map[string]any
	json.Unmarshal(rec.Body.Bytes(), &body)
	checkEnvelope(t, rec.Result(), body, 500, "internal_error")
	if strings.Contains(rec.Body.String(), "secret-internal-detail") || strings.Contains(rec.Body.String(), "goroutine") {
		t.Errorf("panic detail leaked: %s", rec.Body.String())
	}
	if rec.Header().Get("X-Frame-Options") != "DENY" {
		t.Error("500 lacks security headers")
	}
	// The detail and the stack go to the log, with the request id the client saw.
	id := body["error"].(map[string]any)["request_id"].(string)
	if l := logged.String(); !strings.Contains(l, "handler panicked") || !strings.Contains(l, "secret-internal-detail") ||
		!strings.Contains(l, "api_test.go") || !strings.Contains(l, "request_id="+id) {
		t.Errorf("the log lacks the panic, its stack or the request id %s:\n%s", id, l)
	}
}

// TestMethodNotAllowedListsAllow: a 405 names the methods the route has (RFC 9110).
func TestMethodNotAllowedListsAllow(t *testing.T) {
	ts := newTestServer(t, nil)
	for _, tt := range []struct{ method, path, allow string }{
		{"DELETE", "/models", "GET"},
		{"GET", "/generate_response", "POST"},
		{"PUT", "/generations/0193a4b2-0000-7000-8000-000000000000", "GET"},
	} {
		resp, body := ts.do(t, tt.method, tt.path, "")
		checkEnvelope(t, resp, body, 405, "method_not_allowed")
		if got := resp.Header.Get("Allow"); got != tt.allow {
			t.Errorf("%s %s: Allow %q, want %q", tt.method, tt.path, got, tt.allow)
		}
	}
}

// panicGuard is a slog.Handler for test servers that fails the test when a handler
// panicked: the recoverer turns a panic into a 500 (or, after a client left, into
// nothing at all), so a test that checks only what the client saw would miss it.
type panicGuard struct {
	slog.Handler
	t *testing.T
}

func (h panicGuard) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "handler panicked" {
		var attrs []string
		r.Attrs(func(a slog.Attr) bool {
			attrs = append(attrs, a.String())
			return true
		})
		h.t.Errorf("handler panicked: %s", strings.Join(attrs, " "))
	}
	return h.Handler.Handle(ctx, r)
}

func (h panicGuard) WithAttrs(attrs []slog.Attr) slog.Handler {
	return panicGuard{h.Handler.WithAttrs(attrs), h.t}
}

func (h panicGuard) WithGroup(name string) slog.Handler {
	return panicGuard{h.Handler.WithGroup(name), h.t}
}

// testLog discards ordinary records and fails t on a panic.
func testLog(t *testing.T) *slog.Logger {
	return slog.New(panicGuard{slog.NewTextHandler(io.Discard, nil), t})
}
