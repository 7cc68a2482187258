// Package openapitest checks real HTTP responses against the API's OpenAPI document, for
// tests: the status, headers, content type and body of the operation the document routes
// the request to (kin-openapi), the error envelope of every 4xx/5xx, and each
// server-sent event of the two streams. An answer on a path the document does not name
// must be the envelope's 404 or 405. Only test code imports it, so kin-openapi is not
// linked into the server.
package openapitest

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
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Events names, for each streaming operation, the schema of each event's data
// (components/schemas); an event not listed is an error.
var Events = map[string]map[string]string{
	"generateResponse": {"delta": "GenerationDelta", "done": "Generation", "error": "Error"},
	"scanStatus":       {"progress": "ScanStatus", "done": "ScanStatus", "error": "Error"},
}

func init() {
	// Bodies the document types as plain strings: pages, assets, event streams, exports.
	for _, ct := range []string{"text/html", "text/css", "text/javascript", "text/event-stream", "application/x-ndjson", "text/csv", "image/svg+xml"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
	}
}

// Checker checks responses against one document.
type Checker struct {
	doc    *openapi3.T
	router routers.Router
}

// New loads and validates an OpenAPI document (JSON or YAML).
func New(doc []byte) (*Checker, error) {
	loader := openapi3.NewLoader()
	d, err := loader.LoadFromData(doc)
	if err != nil {
		return nil, fmt.Errorf("load the OpenAPI document: %w", err)
	}
	if err := d.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("not a valid OpenAPI document: %w", err)
	}
	router, err := gorillamux.NewRouter(d)
	if err != nil {
		return nil, fmt.Errorf("route the OpenAPI document: %w", err)
	}
	return &Checker{doc: d, router: router}, nil
}

// Operations lists the document's operations: operationId → "METHOD /path".
func (c *Checker) Operations() map[string]string {
	out := map[string]string{}
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			out[op.OperationID] = method + " " + path
		}
	}
	return out
}

// Check checks one response (body as the client reads it: not compressed) to req and
// returns the operation it answered ("" for a path the document does not name).
func (c *Checker) Check(req *http.Request, status int, header http.Header, body []byte) (string, error) {
	r := req.Clone(context.Background())
	u := *req.URL
	if u.Host == "" {
		u.Scheme, u.Host = "http", req.Host
	}
	r.URL = &u
	route, params, err := c.router.FindRoute(r)
	if err != nil {
		if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
			return "", fmt.Errorf("no documented operation (%v), yet status %d", err, status)
		}
		return "", c.checkEnvelope(header, body)
	}
	op := route.Operation.OperationID
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return op, err
	}
	if status >= 400 && !ownErrorBody(route.Operation, status) {
		if err := c.checkEnvelope(header, body); err != nil {
			return op, err
		}
	}
	if mt, _, _ := mime.ParseMediaType(header.Get("Content-Type")); mt == "text/event-stream" {
		if err := c.checkEvents(op, body); err != nil {
			return op, err
		}
	}
	return op, nil
}

// checkEnvelope checks an error body against the Error schema, and its request_id
// against the X-Request-ID header.
func (c *Checker) checkEnvelope(header http.Header, body []byte) error {
	if mt, _, _ := mime.ParseMediaType(header.Get("Content-Type")); mt != "application/json" {
		return fmt.Errorf("error answer of type %q, not the JSON envelope: %q", header.Get("Content-Type"), body)
	}
	v, err := c.Validate("Error", body)
	if err != nil {
		return err
	}
	if id := v.(map[string]any)["error"].(map[string]any)["request_id"]; id != header.Get("X-Request-ID") {
		return fmt.Errorf("envelope request_id %v, X-Request-ID %q", id, header.Get("X-Request-ID"))
	}
	return nil
}

// checkEvents checks each server-sent event's data against its schema (Events).
func (c *Checker) checkEvents(op string, body []byte) error {
	schemas, ok := Events[op]
	if !ok {
		return fmt.Errorf("%s streams events, but openapitest.Events names no schema for them", op)
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
				if _, err := c.Validate(name, []byte(data)); err != nil {
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

// Validate decodes body as JSON and validates it against components/schemas/name.
func (c *Checker) Validate(name string, body []byte) (any, error) {
	ref := c.doc.Components.Schemas[name]
	if ref == nil || ref.Value == nil {
		return nil, fmt.Errorf("the document has no schema %s", name)
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

// Transport is an http.RoundTripper for a test client: it checks every response it
// carries and calls Report with each mismatch. It reads each body whole before handing
// it on (the caller reads the same bytes), except event streams, which a test may read
// only in part: those pass through unchecked (the handler-side checks cover them).
type Transport struct {
	Base    http.RoundTripper // nil: http.DefaultTransport
	Checker *Checker
	Report  func(req *http.Request, status int, err error)
}

// RoundTrip sends req and checks the response.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err != nil || req.Method == http.MethodHead ||
		(req.Method == http.MethodOptions && req.Header.Get("Access-Control-Request-Method") != "") {
		return resp, err
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "text/event-stream" {
		return resp, nil
	}
	body, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	if rerr != nil {
		// Hand on what arrived and the error; a cut answer is not the document's business.
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{rerr}))
		return resp, nil
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	check := body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		if zr, err := gzip.NewReader(bytes.NewReader(body)); err == nil {
			check, _ = io.ReadAll(zr)
		}
	}
	if _, err := t.Checker.Check(req, resp.StatusCode, resp.Header, check); err != nil {
		t.Report(req, resp.StatusCode, err)
	}
	return resp, nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// ownErrorBody reports whether op documents a body of its own, not the envelope, for
// this error status: /health/ready's 503 is a Readiness document, as load balancers
// read it, and the schema check above has already held it to that.
func ownErrorBody(op *openapi3.Operation, status int) bool {
	r := op.Responses.Status(status)
	if r == nil || r.Value == nil {
		return false
	}
	mt := r.Value.Content.Get("application/json")
	return mt != nil && mt.Schema != nil && mt.Schema.Ref != "" && !strings.HasSuffix(mt.Schema.Ref, "/Error")
}
