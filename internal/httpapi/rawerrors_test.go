package httpapi

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// serveRaw serves h as `mirror serve` does (ServeEnvelopeErrors on a real TCP
// listener) and returns its address.
func serveRaw(t *testing.T, h http.Handler, tune func(*http.Server)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	if tune != nil {
		tune(srv)
	}
	wrapped := ServeEnvelopeErrors(srv, ln, slog.New(slog.DiscardHandler))
	go srv.Serve(wrapped)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// exchange writes raw requests on one connection and reads one response per request.
func exchange(t *testing.T, addr string, raws ...string) []*http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	var out []*http.Response
	for _, raw := range raws {
		if _, err := io.WriteString(c, raw); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("read response to %q: %v", raw, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(strings.NewReader(string(body)))
		out = append(out, resp)
	}
	return out
}

func envelopeOf(t *testing.T, resp *http.Response, status int, code string) string {
	t.Helper()
	var b errorBody
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status || resp.Header.Get("Content-Type") != "application/json" || json.Unmarshal(raw, &b) != nil {
		t.Fatalf("got %d %q %q, want %d in the JSON envelope", resp.StatusCode, resp.Header.Get("Content-Type"), raw, status)
	}
	if b.Error.Code != "" && string(b.Error.Code) != code || b.Error.RequestID == "" || b.Error.RequestID != resp.Header.Get("X-Request-ID") || b.Error.Message == "" {
		t.Fatalf("envelope %+v (X-Request-ID %q), want code %s with its request id", b.Error, resp.Header.Get("X-Request-ID"), code)
	}
	return b.Error.Message
}

// TestMalformedRequestsGetTheEnvelope: requests that net/http refuses before any
// handler (the penetration test's invalid header byte) were answered in Go's plain
// text; now in the envelope, on fresh and kept-alive connections, while handlers'
// own bytes are never rewritten.
func TestMalformedRequestsGetTheEnvelope(t *testing.T) {
	api := New(Deps{Options: testOptions(), Log: slog.New(slog.DiscardHandler), MirrorScan: &MirrorScanDeps{}})
	addr := serveRaw(t, api, func(s *http.Server) { s.MaxHeaderBytes = 4096 })

	cases := []struct {
		name, raw, code string
		status          int
		detail          string
	}{
		{"invalid header byte", "GET /health HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n", "bad_request", 400, ""},
		{"invalid header name", "GET /health HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n", "bad_request", 400, "invalid header name"},
		{"missing host", "GET /health HTTP/1.1\r\n\r\n", "bad_request", 400, "missing required Host header"},
		{"garbage request line", "HELLO\r\n\r\n", "bad_request", 400, ""},
		{"headers too large", "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 8192) + "\r\n\r\n", "request_header_too_large", 431, ""},
		{"unknown transfer coding", "POST /feedback/thumb HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "not_implemented", 501, ""},
		{"unsupported version", "GET /health HTTP/2.5\r\nHost: x\r\n\r\n", "http_version_not_supported", 505, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := envelopeOf(t, exchange(t, addr, c.raw)[0], c.status, c.code)
			if c.detail != "" && !strings.Contains(msg, c.detail) {
				t.Errorf("message %q does not say %q", msg, c.detail)
			}
		})
	}

	// A kept-alive connection: a good request, then a malformed one.
	resps := exchange(t, addr, "GET /no-such-route HTTP/1.1\r\nHost: x\r\n\r\n", "GET /health HTTP/1.1\r\nHost: x\r\nX-Bad: \x7f\r\n\r\n")
	envelopeOf(t, resps[0], 404, "not_found")
	envelopeOf(t, resps[1], 400, "bad_request")
}

// TestEnvelopeErrorsLeaveHandlersAlone: a handler whose body is, byte for byte,
// net/http's plain-text error (here flushed as a write of its own) reaches the
// client unchanged, because a handler is answering.
func TestEnvelopeErrorsLeaveHandlersAlone(t *testing.T) {
	const lookalike = "HTTP/1.1 400 Bad Request" + plainErrorHeaders + "400 Bad Request"
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		markBusy(r)
		w.Header().Set("Content-Length", strconv.Itoa(len(lookalike)+10))
		w.WriteHeader(200)
		http.NewResponseController(w).Flush()
		io.WriteString(w, lookalike)
		http.NewResponseController(w).Flush()
		io.WriteString(w, strings.Repeat(".", 10))
	})
	addr := serveRaw(t, h, nil)
	resps := exchange(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, resp := range resps {
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.HasPrefix(string(body), lookalike) {
			t.Fatalf("handler's answer changed: %d %q", resp.StatusCode, body)
		}
	}
}

func FuzzParsePlainError(f *testing.F) {
	f.Add([]byte("HTTP/1.1 400 Bad Request: invalid header value" + plainErrorHeaders + "400 Bad Request: invalid header value"))
	f.Add([]byte("HTTP/1.1 431 Request Header Fields Too Large" + plainErrorHeaders + "431"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 4"))
	f.Fuzz(func(t *testing.T, p []byte) {
		status, detail, ok := parsePlainError(p)
		if !ok {
			return
		}
		if status < 400 || status > 599 || !strings.Contains(string(p), plainErrorHeaders) || strings.Contains(detail, "\r\n") {
			t.Fatalf("parsePlainError(%q) = %d %q", p, status, detail)
		}
		resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(envelopeResponse(status, detail, slog.New(slog.DiscardHandler))))), nil)
		if err != nil || resp.StatusCode != status {
			t.Fatalf("envelope response for %q: %v", p, err)
		}
	})
}
