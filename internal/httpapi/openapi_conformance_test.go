package httpapi

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"

	"mirror/internal/httpapi/openapitest"
)

// The hand-kept openapi.json is checked against the real responses of the API tests:
// every test server made by newHTTPTestServer checks each response it sends with
// openapitest (kin-openapi: status, headers, content type and body of the operation the
// document routes it to; the envelope; each server-sent event), and fails the test on
// any difference.

// openAPI is the embedded document, loaded and validated once by kin-openapi.
var openAPI = sync.OnceValues(func() (*openapitest.Checker, error) { return openapitest.New(openapiDoc) })

// conformance checks the responses of one test server against the document and
// remembers which statuses each operation answered.
type conformance struct {
	t   testing.TB
	api *openapitest.Checker

	mu   sync.Mutex
	seen map[string][]int // operationId → statuses checked
}

func newConformance(t testing.TB) *conformance {
	t.Helper()
	api, err := openAPI()
	if err != nil {
		t.Fatal(err)
	}
	return &conformance{t: t, api: api, seen: map[string][]int{}}
}

// wrap returns h with every response checked once the handler has returned.
func (c *conformance) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recordingWriter{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		// HEAD has no body to check; a CORS preflight is the CORS protocol's, not an
		// operation's (TestCORS checks it).
		if r.Method == http.MethodHead || (r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "") {
			return
		}
		// A client that left got nothing, or a partial answer: there is nothing to check.
		if r.Context().Err() != nil {
			return
		}
		if err := c.check(r, rec); err != nil {
			c.t.Errorf("%s %s answered %d, which openapi.json does not describe:\n%v", r.Method, r.URL.RequestURI(), rec.statusCode(), err)
		}
	})
}

// covered returns a copy of the operations seen, with their statuses.
func (c *conformance) covered() map[string][]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string][]int, len(c.seen))
	for id, s := range c.seen {
		out[id] = slices.Clone(s)
	}
	return out
}

func (c *conformance) check(r *http.Request, rec *recordingWriter) error {
	header := rec.header
	if header == nil {
		header = rec.Header()
	}
	body, err := rec.decodedBody()
	if err != nil {
		return err
	}
	op, err := c.api.Check(r, rec.statusCode(), header, body)
	if err != nil {
		return err
	}
	if op != "" {
		c.mu.Lock()
		c.seen[op] = append(c.seen[op], rec.statusCode())
		c.mu.Unlock()
	}
	return nil
}

// recordingWriter passes a response through and keeps its status, headers and body.
type recordingWriter struct {
	http.ResponseWriter
	status int
	header http.Header // as sent
	body   bytes.Buffer
}

func (w *recordingWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
		w.header = w.ResponseWriter.Header().Clone()
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	w.body.Write(p)
	return w.ResponseWriter.Write(p)
}

func (w *recordingWriter) Flush() {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection (deadlines).
func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *recordingWriter) statusCode() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// decodedBody is the body as the client reads it (gzip undone).
func (w *recordingWriter) decodedBody() ([]byte, error) {
	h := w.header
	if h == nil {
		h = w.Header()
	}
	if h.Get("Content-Encoding") != "gzip" {
		return w.body.Bytes(), nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(w.body.Bytes()))
	if err != nil {
		return nil, fmt.Errorf("gzip body: %w", err)
	}
	return io.ReadAll(zr)
}
