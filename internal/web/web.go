// Package web is Mirror's browser app, served at / by the same binary: a page and
// a few plain ES modules and one style sheet, embedded at build time. Nothing is
// built before `go run ./cmd/mirror serve` and nothing comes from a CDN; the page
// has no inline script or style, so it runs under the enforced CSP. It talks to
// the JSON API like any client (docs/DESIGN-web.md says why).
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"
)

//go:embed static
var files embed.FS

// Features are the optional API routes the app may offer, as the server that
// serves it has them; the app hides what is absent.
type Features struct {
	Cancel         bool // POST /api/v1/scans/{scan_id}/cancel
	DeleteArtifact bool // DELETE /api/v1/artifacts/{artifact_id}
	Report         bool // GET /api/v1/scans/{scan_id}/report
	Review         bool // the admins' feedback routes
	Scans          bool // /api/v1 at all
	Docs           bool // /docs (development only)
}

func (f Features) String() string {
	var on []string
	for name, ok := range map[string]bool{"cancel": f.Cancel, "delete-artifact": f.DeleteArtifact, "report": f.Report, "review": f.Review, "scans": f.Scans, "docs": f.Docs} {
		if ok {
			on = append(on, name)
		}
	}
	slices.Sort(on)
	return strings.Join(on, " ")
}

type asset struct {
	body []byte
	etag string
	ct   string
}

// App serves the page and its assets.
type App struct {
	index  []byte
	etag   string
	assets map[string]asset
}

var contentTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".svg": "image/svg+xml",
}

// New returns the app for a server with features. It panics if the embedded
// files are broken (a test builds it).
func New(f Features) *App {
	a := &App{assets: map[string]asset{}}
	entries, err := fs.ReadDir(files, "static")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		ext := path.Ext(e.Name())
		ct, ok := contentTypes[ext]
		if !ok {
			continue
		}
		body, err := files.ReadFile("static/" + e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(body)
		a.assets[e.Name()] = asset{body: body, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, ct: ct}
	}
	tpl := template.Must(template.ParseFS(files, "static/index.html"))
	var b bytes.Buffer
	if err := tpl.Execute(&b, map[string]string{"Features": f.String()}); err != nil {
		panic(err)
	}
	a.index = b.Bytes()
	sum := sha256.Sum256(a.index)
	a.etag = `"` + hex.EncodeToString(sum[:8]) + `"`
	return a
}

// ServeIndex answers the page.
func (a *App) ServeIndex(w http.ResponseWriter, r *http.Request) {
	serve(w, r, a.index, a.etag, "text/html; charset=utf-8")
}

// ServeAsset answers /app/{name}, or reports false when there is no such asset.
func (a *App) ServeAsset(w http.ResponseWriter, r *http.Request, name string) bool {
	as, ok := a.assets[name]
	if !ok {
		return false
	}
	serve(w, r, as.body, as.etag, as.ct)
	return true
}

// serve answers body with its ETag; browsers revalidate every time (no-cache), so a
// new build is picked up at once, and an unchanged file costs a 304.
func serve(w http.ResponseWriter, r *http.Request, body []byte, etag, ct string) {
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}
