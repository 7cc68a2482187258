package httpapi

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// The hand-kept openapi.json is checked against the real responses of the API tests:
// every test server made by newHTTPTestServer validates each response it sends (status,
// headers, content type and body, by the operation the document routes it to) with
// kin-openapi, and fails the test on any difference. An answer on a path the document
// does not name must be the 404/405 envelope.

// openAPI is the embedded document, loaded and validated once by kin-openapi.
var openAPI = sync.OnceValues(func() (*openAPIDoc, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openapiDoc)
	if err != nil {
		return nil, fmt.Errorf("load openapi.json: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("openapi.json is not a valid OpenAPI document: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route openapi.json: %w", err)
	}
	// Bodies the document types as plain strings (pages, assets, event streams).
	for _, ct := range []string{"text/html", "text/css", "text/javascript", "text/event-stream"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
	}
	return &openAPIDoc{doc: doc, router: router}, nil
})

type openAPIDoc struct {
	doc    *openapi3.T
	router routers.Router
}

// sseEvents names, for each streaming operation, the schema of each event's data.
var sseEvents = map[string]map[string]string{
	"generateResponse": {"delta": "GenerationDelta", "done": "Generation", "error": "Error"},
	"scanStatus":       {"progress": "ScanStatus", "done": "ScanStatus", "error": "Error"},
}

// conformance validates the responses of one test server against the document and
// remembers which statuses each operation answered.
type conformance struct {
	t   testing.TB
	api *openAPIDoc

	mu   sync.Mutex
	seen map[string][]int // operationId → statuses validated
}

func newConformance(t testing.TB) *conformance {
	t.Helper()
	api, err := openAPI()
	if err != nil {
		t.Fatal(err)
	}
	return &conformance{t: t, api: api, seen: map[string][]int{}}
}

// wrap returns h with every response validated once the handler has returned.
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
	status, header := rec.statusCode(), rec.header
	if header == nil {
		header = rec.Header()
	}
	body, err := rec.decodedBody()
	if err != nil {
		return err
	}
	// Route by the document, not by chi: a path the document does not name is an error
	// unless the answer is the envelope's 404/405.
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	req := r.Clone(context.Background())
	req.URL = &u
	route, params, err := c.api.router.FindRoute(req)
	if err != nil {
		if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
			return fmt.Errorf("no documented operation (%v), yet status %d", err, status)
		}
		return c.checkEnvelope(header, body)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return err
	}
	if status >= 400 {
		if err := c.checkEnvelope(header, body); err != nil {
			return err
		}
	}
	if mt, _, _ := mime.ParseMediaType(header.Get("Content-Type")); mt == "text/event-stream" {
		if err := c.checkEvents(route.Operation.OperationID, body); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.seen[route.Operation.OperationID] = append(c.seen[route.Operation.OperationID], status)
	c.mu.Unlock()
	return nil
}

// checkEnvelope validates an error body against the Error schema, and its request_id
// against the X-Request-ID header.
func (c *conformance) checkEnvelope(header http.Header, body []byte) error {
	if mt, _, _ := mime.ParseMediaType(header.Get("Content-Type")); mt != "application/json" {
		return fmt.Errorf("error answer of type %q, not the JSON envelope: %q", header.Get("Content-Type"), body)
	}
	v, err := c.validate("Error", body)
	if err != nil {
		return err
	}
	if id := v.(map[string]any)["error"].(map[string]any)["request_id"]; id != header.Get("X-Request-ID") {
		return fmt.Errorf("envelope request_id %v, X-Request-ID %q", id, header.Get("X-Request-ID"))
	}
	return nil
}

// checkEvents validates each server-sent event's data against its documented schema.
func (c *conformance) checkEvents(op string, body []byte) error {
	schemas, ok := sseEvents[op]
	if !ok {
		return fmt.Errorf("%s streams events, but the test names no schema for them (sseEvents)", op)
	}
	event, data := "message", ""
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data != "" {
				name, ok := schemas[event]
				if !ok {
					return fmt.Errorf("%s: undocumented event %q", op, event)
				}
				if _, err := c.validate(name, []byte(data)); err != nil {
					return fmt.Errorf("%s: event %q: %w", op, event, err)
				}
			}
			event, data = "message", ""
		case strings.HasPrefix(line, ":"): // a heartbeat
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data += strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")
		}
	}
	return sc.Err()
}

// validate decodes body as JSON and validates it against components/schemas/name.
func (c *conformance) validate(name string, body []byte) (any, error) {
	ref := c.api.doc.Components.Schemas[name]
	if ref == nil || ref.Value == nil {
		return nil, fmt.Errorf("openapi.json has no schema %s", name)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("%s: not JSON: %w (%q)", name, err, body)
	}
	if err := ref.Value.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.MultiErrors()); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return v, nil
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
