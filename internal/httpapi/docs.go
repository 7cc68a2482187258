package httpapi

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"mirror/internal/apperr"
)

// openapiDoc is the OpenAPI 3.1 document of every route, maintained by hand beside
// routes.go. Its info.title and info.version are replaced at serve time by
// PROJECT_NAME and VERSION.
//
//go:embed openapi.json
var openapiDoc []byte

// OpenAPIDocument returns the embedded OpenAPI document as openapi.json keeps it (before
// /openapi.json sets its title and version), for tests that check responses against it.
func OpenAPIDocument() []byte { return bytes.Clone(openapiDoc) }

// docsFiles are the docs pages and their assets. The Swagger UI and ReDoc bundles are
// vendored, unmodified, from npm (docs/README.md gives versions, checksums and
// licenses), so the pages work with no network and load only same-origin files.
//
//go:embed docs/swagger.html docs/redoc.html docs/docs.css docs/swagger-init.js docs/redoc-init.js
//go:embed docs/swagger-ui/swagger-ui-bundle.js docs/swagger-ui/swagger-ui.css
//go:embed docs/redoc/redoc.standalone.js
var docsFiles embed.FS

// docsAssets maps each asset's URL name (under /docs/assets/) to its embedded file.
var docsAssets = map[string]string{
	"swagger-ui-bundle.js": "docs/swagger-ui/swagger-ui-bundle.js",
	"swagger-ui.css":       "docs/swagger-ui/swagger-ui.css",
	"swagger-init.js":      "docs/swagger-init.js",
	"redoc.standalone.js":  "docs/redoc/redoc.standalone.js",
	"redoc-init.js":        "docs/redoc-init.js",
	"docs.css":             "docs/docs.css",
}

// redocLoadCSSHash allows the <style> that redoc.standalone.js inserts as it loads,
// before Redoc.init can pass the nonce: perfect-scrollbar's CSS with its source map,
// added by style-loader, which appends the element empty and then fills it (hence the
// second hash, of the empty string: an empty sheet styles nothing). The first hash
// changes with the bundle: docs/README.md says how to find the new one. Wrong, it
// costs only the sidebar's scrollbar styles and a console error.
const redocLoadCSSHash = "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc=' 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"

type docsAsset struct {
	body        []byte
	contentType string
	hash        string // hex prefix of the SHA-256: the ?v= of its URL and its ETag
}

type docsPage struct {
	Title string
	Nonce string
}

// docsSite serves GET /openapi.json, /docs (Swagger UI), /redoc (ReDoc) and their
// assets under /docs/assets/ (routes.go lists them), in development only: elsewhere
// newDocsSite returns nil and those paths are 404 in the envelope, as FastAPI's
// docs_url=None makes them.
//
// Assets are linked as /docs/assets/NAME?v=HASH and cached for a year when the hash
// is the current one (a new build changes the URL); otherwise they must be
// revalidated (ETag). The pages themselves are never cached: the ReDoc page carries
// a per-request nonce.
type docsSite struct {
	s      *Server
	doc    []byte
	assets map[string]docsAsset
	pages  *template.Template
	title  string
}

func (s *Server) newDocsSite() *docsSite {
	if !s.opts.Development {
		return nil
	}
	doc, err := openapiWithInfo(openapiDoc, s.opts.ProjectName, s.opts.Version)
	if err != nil {
		panic(err) // the embedded document is checked by TestOpenAPIDocument
	}
	assets := make(map[string]docsAsset, len(docsAssets))
	for name, path := range docsAssets {
		body, err := docsFiles.ReadFile(path)
		if err != nil {
			panic(err) // every path is embedded above
		}
		sum := sha256.Sum256(body)
		ct := "text/javascript; charset=utf-8"
		if strings.HasSuffix(name, ".css") {
			ct = "text/css; charset=utf-8"
		}
		assets[name] = docsAsset{body: body, contentType: ct, hash: hex.EncodeToString(sum[:8])}
	}
	pages := template.Must(template.New("").Funcs(template.FuncMap{
		"asset": func(name string) (string, error) {
			a, ok := assets[name]
			if !ok {
				return "", fmt.Errorf("no docs asset %q", name)
			}
			return "/docs/assets/" + name + "?v=" + a.hash, nil
		},
	}).ParseFS(docsFiles, "docs/swagger.html", "docs/redoc.html"))
	return &docsSite{s: s, doc: doc, assets: assets, pages: pages, title: cmp.Or(s.opts.ProjectName, "Mirror")}
}

func (d *docsSite) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(d.doc)
}

func (d *docsSite) swagger(w http.ResponseWriter, r *http.Request) {
	d.s.renderDocsPage(w, r, d.pages, "swagger.html", docsPage{Title: d.title})
}

func (d *docsSite) redoc(w http.ResponseWriter, r *http.Request) {
	nonce := rand.Text()
	// ReDoc inserts <style> elements, which style-src 'self' refuses: its
	// styled-components sheet carries this nonce (redoc-init.js passes it), and the
	// one sheet inserted while the bundle loads, before it can know the nonce, is
	// allowed by its hash. Its search index runs in a Web Worker made from a blob:
	// URL, which falls back to script-src 'self' and is refused without worker-src.
	// The rest of the policy is the API's own.
	overrideCSP(w.Header(), cspWith(
		[2]string{"style-src", "'self' 'nonce-" + nonce + "' " + redocLoadCSSHash},
		[2]string{"worker-src", "blob:"},
	))
	d.s.renderDocsPage(w, r, d.pages, "redoc.html", docsPage{Title: d.title, Nonce: nonce})
}

func (d *docsSite) asset(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	a, ok := d.assets[name]
	if !ok {
		d.s.error(w, r, apperr.Errorf(apperr.NotFound, "No docs asset %q.", name))
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("ETag", `W/"`+a.hash+`"`) // weak: the gzip middleware may change the bytes
	if r.URL.Query().Get("v") == a.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if etagMatch(r.Header.Get("If-None-Match"), a.hash) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(a.body)
}

func (s *Server) renderDocsPage(w http.ResponseWriter, r *http.Request, pages *template.Template, name string, data docsPage) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		s.error(w, r, fmt.Errorf("render %s: %w", name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

// etagMatch reports whether an If-None-Match header names the asset hash (weak
// comparison, as RFC 9110 requires for If-None-Match).
func etagMatch(header, hash string) bool {
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == `"`+hash+`"` {
			return true
		}
	}
	return false
}

// overrideCSP replaces the policy that securityHeaders set, under whichever header it
// used (enforced or report-only), so a page's exceptions follow CSP_REPORT_ONLY.
func overrideCSP(h http.Header, policy string) {
	for _, name := range []string{"Content-Security-Policy", "Content-Security-Policy-Report-Only"} {
		if h.Get(name) != "" {
			h.Set(name, policy)
		}
	}
}

// cspWith returns the API's policy (csp) with the given directives' values replaced,
// or appended when the policy lacks them.
func cspWith(directives ...[2]string) string {
	parts := strings.Split(csp, ";")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	for _, d := range directives {
		i := slices.IndexFunc(parts, func(p string) bool { name, _, _ := strings.Cut(p, " "); return name == d[0] })
		if i < 0 {
			parts = append(parts, d[0]+" "+d[1])
		} else {
			parts[i] = d[0] + " " + d[1]
		}
	}
	return strings.Join(parts, "; ")
}

// openapiWithInfo returns doc with info.title and info.version set (empty values keep
// the document's own), keeping the order of the top-level keys and everything below
// them, so the viewers list the paths in the document's order.
func openapiWithInfo(doc []byte, title, version string) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("openapi.json: not a JSON object")
	}
	var out bytes.Buffer
	out.WriteByte('{')
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("openapi.json: %w", err)
		}
		key, _ := t.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("openapi.json: %s: %w", key, err)
		}
		if key == "info" {
			var info map[string]any
			if err := json.Unmarshal(raw, &info); err != nil {
				return nil, fmt.Errorf("openapi.json: info: %w", err)
			}
			if title != "" {
				info["title"] = title
			}
			if version != "" {
				info["version"] = version
			}
			if raw, err = json.Marshal(info); err != nil {
				return nil, fmt.Errorf("openapi.json: info: %w", err)
			}
		}
		if out.Len() > 1 {
			out.WriteByte(',')
		}
		k, _ := json.Marshal(key)
		out.Write(k)
		out.WriteByte(':')
		out.Write(raw)
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

// documentedRoutes lists the paths of the embedded OpenAPI document and, for each,
// its methods in upper case, sorted: the routes that a test walking the router (chi.Walk)
// should find, and no others. It panics if the embedded document is not valid JSON.
func documentedRoutes() map[string][]string {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		panic(fmt.Sprintf("httpapi: embedded openapi.json: %v", err))
	}
	methods := []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}
	routes := make(map[string][]string, len(doc.Paths))
	for path, item := range doc.Paths {
		var ms []string
		for key := range item {
			if slices.Contains(methods, key) {
				ms = append(ms, strings.ToUpper(key))
			}
		}
		slices.Sort(ms)
		routes[path] = ms
	}
	return routes
}
