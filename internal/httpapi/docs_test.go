package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"mirror/internal/apperr"
)

// wantDocumented is every route of both halves (API.md), with its methods.
var wantDocumented = map[string][]string{
	"/health":                                     {"GET"},
	"/health/ready":                               {"GET"},
	"/metrics":                                    {"GET"},
	"/models":                                     {"GET"},
	"/generate_response":                          {"POST"},
	"/generations/{generation_id}":                {"GET"},
	"/feedback/thumb":                             {"POST"},
	"/feedback/edit":                              {"POST"},
	"/api/v1/auth/register":                       {"POST"},
	"/api/v1/auth/login":                          {"POST"},
	"/api/v1/auth/logout":                         {"POST"},
	"/api/v1/auth/me":                             {"GET"},
	"/api/v1/artifacts":                           {"GET", "POST"},
	"/api/v1/scans":                               {"GET"},
	"/api/v1/generations":                         {"GET"},
	"/api/v1/feedback/stats":                      {"GET"},
	"/api/v1/feedback/export":                     {"GET"},
	"/api/v1/artifacts/{artifact_id}":             {"DELETE", "GET"},
	"/api/v1/artifacts/{artifact_id}/download":    {"GET"},
	"/api/v1/probe-packs":                         {"GET", "POST"},
	"/api/v1/probe-packs/{pack_id}":               {"DELETE", "GET"},
	"/api/v1/scans/analyze":                       {"POST"},
	"/api/v1/scans/status/{scan_id}":              {"GET"},
	"/api/v1/scans/{scan_id}/cancel":              {"POST"},
	"/api/v1/scans/{scan_id}/report":              {"GET"},
	"/api/v1/scans/vulnerabilities":               {"GET"},
	"/api/v1/scans/metrics":                       {"GET"},
	"/api/v1/scans/containment/{scan_id}":         {"POST"},
	"/api/v1/scans/containment/{scan_id}/release": {"POST"},
	"/openapi.json":                               {"GET"},
	"/":                                           {"GET"},
	"/app/{name}":                                 {"GET"},
	"/docs":                                       {"GET"},
	"/redoc":                                      {"GET"},
	"/docs/assets/{name}":                         {"GET"},
}

func TestOpenAPIDocument(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", doc["openapi"])
	}
	if diff := cmp.Diff(wantDocumented, documentedRoutes()); diff != "" {
		t.Errorf("documented routes (-want +got):\n%s", diff)
	}

	// Every $ref resolves.
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if _, ok := jsonPointer(doc, ref); !ok {
					t.Errorf("%s: $ref %q does not resolve", at, ref)
				}
			}
			for k, e := range v {
				walk(e, at+"/"+k)
			}
		case []any:
			for _, e := range v {
				walk(e, at)
			}
		}
	}
	walk(doc, "#")

	// The error envelope is one shared schema.
	inner, _ := jsonPointer(doc, "#/components/schemas/Error/properties/error/properties")
	props, _ := inner.(map[string]any)
	for _, f := range []string{"code", "message", "request_id", "details"} {
		if props[f] == nil {
			t.Errorf("Error schema has no %s", f)
		}
	}
	if ref, _ := jsonPointer(doc, "#/components/schemas/Error/properties/error/properties/details/items/$ref"); ref != "#/components/schemas/FieldError" {
		t.Errorf("Error.details items: %v", ref)
	}

	schemes, _ := jsonPointer(doc, "#/components/securitySchemes")
	wantSchemes := map[string]any{
		"HTTPBearer":     map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
		"OAuth2Password": map[string]any{"type": "oauth2", "flows": map[string]any{"password": map[string]any{"tokenUrl": "/api/v1/auth/login", "scopes": map[string]any{}}}},
		"SessionCookie":  map[string]any{"type": "apiKey", "in": "cookie", "name": "mirror_session"},
		"WriteAPIKey":    map[string]any{"type": "apiKey", "in": "header", "name": "X-API-Key"},
	}
	for name, want := range wantSchemes {
		got, _ := schemes.(map[string]any)[name].(map[string]any)
		got = maps.Clone(got)
		delete(got, "description")
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("security scheme %s (-want +got):\n%s", name, diff)
		}
	}

	// Every operation: a unique id, responses with the envelope for errors, its path
	// parameters declared, and a token required under /api/v1/scans and /api/v1/artifacts.
	ids := map[string]string{}
	pathParam := regexp.MustCompile(`\{([^}]+)\}`)
	for path, item := range doc["paths"].(map[string]any) {
		item := item.(map[string]any)
		for method, op := range item {
			if !slices.Contains([]string{"get", "post", "put", "patch", "delete"}, method) {
				continue
			}
			op := op.(map[string]any)
			where := strings.ToUpper(method) + " " + path
			id, _ := op["operationId"].(string)
			if id == "" || ids[id] != "" {
				t.Errorf("%s: operationId %q missing or also on %s", where, id, ids[id])
			}
			ids[id] = where
			responses, _ := op["responses"].(map[string]any)
			if responses["default"] == nil {
				t.Errorf("%s: no default (error envelope) response", where)
			}
			params := declaredParams(doc, item["parameters"], op["parameters"])
			for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
				if !slices.Contains(params, "path:"+m[1]) {
					t.Errorf("%s: path parameter %s is not declared", where, m[1])
				}
			}
			if strings.HasPrefix(path, "/api/v1/scans") || strings.HasPrefix(path, "/api/v1/artifacts") || strings.HasPrefix(path, "/api/v1/probe-packs") {
				if sec, _ := op["security"].([]any); len(sec) == 0 || slices.ContainsFunc(sec, func(s any) bool { return len(s.(map[string]any)) == 0 }) {
					t.Errorf("%s: must require a token, security = %v", where, op["security"])
				}
				if responses["401"] == nil {
					t.Errorf("%s: no 401", where)
				}
			}
			if method == "post" && responses["413"] == nil && op["requestBody"] != nil {
				t.Errorf("%s: takes a body but documents no 413", where)
			}
		}
	}

	// The two streaming routes document text/event-stream.
	for _, p := range []string{"#/paths/~1generate_response/post/responses/200/content/text~1event-stream", "#/paths/~1api~1v1~1scans~1status~1{scan_id}/get/responses/200/content/text~1event-stream"} {
		if _, ok := jsonPointer(doc, p); !ok {
			t.Errorf("missing %s", p)
		}
	}
	// Login takes JSON and the OAuth2 form.
	for _, ct := range []string{"application~1json", "application~1x-www-form-urlencoded"} {
		if _, ok := jsonPointer(doc, "#/paths/~1api~1v1~1auth~1login/post/requestBody/content/"+ct); !ok {
			t.Errorf("login: no %s body", ct)
		}
	}
}

// declaredParams returns "in:name" for each parameter (resolving $ref) in the lists.
func declaredParams(doc map[string]any, lists ...any) []string {
	var out []string
	for _, l := range lists {
		ps, _ := l.([]any)
		for _, p := range ps {
			pm, _ := p.(map[string]any)
			if ref, ok := pm["$ref"].(string); ok {
				v, _ := jsonPointer(doc, ref)
				pm, _ = v.(map[string]any)
			}
			out = append(out, pm["in"].(string)+":"+pm["name"].(string))
		}
	}
	return out
}

// jsonPointer resolves a local reference ("#/a/b") in doc.
func jsonPointer(doc any, ref string) (any, bool) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, false
	}
	v := doc
	for _, tok := range strings.Split(rest, "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return v, true
}

// newDocsServer serves only the docs routes, behind the middleware that matters to
// them (request id, security headers, compression) and the envelope's 404, without
// the rest of the API.
func newDocsServer(t *testing.T, mutate func(*Options)) *httptest.Server {
	t.Helper()
	opts := testOptions()
	if mutate != nil {
		mutate(&opts)
	}
	s := &Server{opts: opts, log: slog.New(slog.DiscardHandler), metrics: newMetrics(prometheus.NewRegistry())}
	r := chi.NewRouter()
	r.Use(withRequestID, s.securityHeaders, s.compress)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.error(w, r, apperr.Errorf(apperr.NotFound, "No route for %s %s.", r.Method, r.URL.Path))
	})
	// chi runs the middleware only once the router has a route; in production the docs
	// add none, and the real router always has others.
	r.Get("/health", s.handleHealth)
	if d := s.newDocsSite(); d != nil { // as routes.go registers them
		r.Get("/openapi.json", d.openAPI)
		r.Get("/docs", d.swagger)
		r.Get("/redoc", d.redoc)
		r.Get("/docs/assets/{name}", d.asset)
	}
	ts := httptest.NewServer(r)
	t.Cleanup(ts.Close)
	return ts
}

func get(t *testing.T, ts *httptest.Server, path string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestOpenAPIServedWithProjectInfo(t *testing.T) {
	ts := newDocsServer(t, func(o *Options) { o.ProjectName, o.Version = "Acme Mirror", "9.8.7" })
	resp, body := get(t, ts, "/openapi.json")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var served, file map[string]any
	if err := json.Unmarshal(body, &served); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(openapiDoc, &file); err != nil {
		t.Fatal(err)
	}
	info := served["info"].(map[string]any)
	if info["title"] != "Acme Mirror" || info["version"] != "9.8.7" {
		t.Errorf("info = %v", info)
	}
	// Only the title and version change.
	fileInfo := file["info"].(map[string]any)
	fileInfo["title"], fileInfo["version"] = "Acme Mirror", "9.8.7"
	if diff := cmp.Diff(file, served); diff != "" {
		t.Errorf("served document differs from openapi.json (-file +served):\n%s", diff)
	}
	// The paths keep the file's order (the viewers show them in that order).
	if i, j := bytes.Index(body, []byte(`"/health"`)), bytes.Index(body, []byte(`"/api/v1/auth/register"`)); i < 0 || j < i {
		t.Errorf("paths reordered: /health at %d, /api/v1/auth/register at %d", i, j)
	}
}

var (
	scriptTag  = regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`)
	linkTag    = regexp.MustCompile(`(?is)<link\b([^>]*)>`)
	attr       = regexp.MustCompile(`(?is)\b([a-z-]+)\s*=\s*"([^"]*)"`)
	inlineCode = regexp.MustCompile(`(?is)<style\b|\sstyle\s*=|\son[a-z]+\s*=|javascript:`)
)

func attrs(s string) map[string]string {
	m := map[string]string{}
	for _, a := range attr.FindAllStringSubmatch(s, -1) {
		m[strings.ToLower(a[1])] = a[2]
	}
	return m
}

func TestDocsPagesLoadOnlyServedAssets(t *testing.T) {
	for _, reportOnly := range []bool{true, false} {
		ts := newDocsServer(t, func(o *Options) { o.CSPReportOnly = reportOnly })
		cspHeader, otherHeader := "Content-Security-Policy", "Content-Security-Policy-Report-Only"
		if reportOnly {
			cspHeader, otherHeader = otherHeader, cspHeader
		}
		for _, page := range []string{"/docs", "/redoc"} {
			resp, body := get(t, ts, page)
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("%s: status %d, type %q", page, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			html := string(body)
			if m := inlineCode.FindString(html); m != "" {
				t.Errorf("%s: inline style or script %q (the CSP refuses it)", page, m)
			}
			var urls []string
			scripts := scriptTag.FindAllStringSubmatch(html, -1)
			if len(scripts) < 2 {
				t.Errorf("%s: %d scripts, want the bundle and its initialiser", page, len(scripts))
			}
			var nonce string
			for _, s := range scripts {
				a := attrs(s[1])
				if a["src"] == "" || strings.TrimSpace(s[2]) != "" {
					t.Errorf("%s: inline script %q", page, s[0])
				}
				urls = append(urls, a["src"])
				if a["nonce"] != "" {
					nonce = a["nonce"]
				}
			}
			for _, l := range linkTag.FindAllStringSubmatch(html, -1) {
				if a := attrs(l[1]); a["rel"] == "stylesheet" {
					urls = append(urls, a["href"])
				}
			}
			for _, u := range urls {
				if !strings.HasPrefix(u, "/docs/assets/") {
					t.Errorf("%s: %q is not a same-origin asset", page, u)
					continue
				}
				resp, body := get(t, ts, u)
				ct := resp.Header.Get("Content-Type")
				want := "text/javascript"
				if strings.HasSuffix(strings.Split(u, "?")[0], ".css") {
					want = "text/css"
				}
				if resp.StatusCode != 200 || !strings.HasPrefix(ct, want) || len(body) == 0 {
					t.Errorf("%s: %s: status %d, type %q, %d bytes", page, u, resp.StatusCode, ct, len(body))
				}
				if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
					t.Errorf("%s: %s: Cache-Control %q, want immutable for the versioned URL", page, u, cc)
				}
				etag := resp.Header.Get("ETag")
				if resp, _ := get(t, ts, u, "If-None-Match", etag); etag == "" || resp.StatusCode != http.StatusNotModified {
					t.Errorf("%s: %s: revalidation with ETag %q: %d", page, u, etag, resp.StatusCode)
				}
			}

			policy := resp.Header.Get(cspHeader)
			if resp.Header.Get(otherHeader) != "" {
				t.Errorf("%s: %s set as well as %s", page, otherHeader, cspHeader)
			}
			switch page {
			case "/docs":
				if policy != csp {
					t.Errorf("/docs: %s = %q, want the API's own", cspHeader, policy)
				}
			case "/redoc":
				if nonce == "" {
					t.Fatal("/redoc: the initialiser carries no nonce")
				}
				want := strings.Replace(csp, "style-src 'self'", "style-src 'self' 'nonce-"+nonce+"' "+redocLoadCSSHash, 1) + "; worker-src blob:"
				if policy != want {
					t.Errorf("/redoc: %s\n got %q\nwant %q", cspHeader, policy, want)
				}
				if _, again := get(t, ts, page); strings.Contains(string(again), nonce) {
					t.Error("/redoc: the nonce is not fresh per request")
				}
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("%s: Cache-Control %q", page, cc)
			}
		}
	}
}

func TestDocsAssetsUnversionedAndUnknown(t *testing.T) {
	ts := newDocsServer(t, nil)
	resp, _ := get(t, ts, "/docs/assets/docs.css")
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("unversioned asset: %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	resp, body := get(t, ts, "/docs/assets/nope.js")
	var env map[string]any
	_ = json.Unmarshal(body, &env)
	checkEnvelope(t, resp, env, 404, "not_found")
}

func TestDocsAbsentInProduction(t *testing.T) {
	ts := newDocsServer(t, func(o *Options) { o.Development, o.Production = false, true })
	for _, path := range []string{"/openapi.json", "/docs", "/redoc", "/docs/assets/docs.css"} {
		resp, body := get(t, ts, path)
		var env map[string]any
		if err := json.Unmarshal(body, &env); err != nil {
			t.Fatalf("%s: not the envelope: %q", path, body)
		}
		checkEnvelope(t, resp, env, 404, "not_found")
	}
}

// TestDocsAssetsLoadNothingRemote guards the vendored bundles against loading from a
// CDN: ReDoc's footer logo is patched out (docs/README.md), Swagger UI's remote
// validator is turned off, and nothing else names a CDN or a font service.
func TestDocsAssetsLoadNothingRemote(t *testing.T) {
	for name, path := range docsAssets {
		body, err := docsFiles.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, host := range []string{"cdn.redoc.ly", "fonts.googleapis.com", "fonts.gstatic.com", "unpkg.com", "cdn.jsdelivr.net", "cdnjs.cloudflare.com"} {
			if bytes.Contains(body, []byte(host)) {
				t.Errorf("%s names %s", name, host)
			}
		}
	}
	init, _ := docsFiles.ReadFile(docsAssets["swagger-init.js"])
	if !bytes.Contains(init, []byte("validatorUrl: null")) {
		t.Error("swagger-init.js must turn off the remote validator (validatorUrl: null)")
	}
}
