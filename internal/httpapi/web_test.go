package httpapi

import (
	"io"
	"strings"
	"testing"
)

// TestWebAppServed: the page and its assets come from this server, under the
// security headers, and offer only what the server has; an unknown asset is a 404
// in the envelope.
func TestWebAppServed(t *testing.T) {
	for _, prod := range []bool{false, true} {
		ts := newTestServer(t, func(o *Options) {
			if prod {
				o.Development, o.Production = false, true
			}
		})
		resp, err := ts.Client().Get(ts.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page := string(body)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Fatalf("GET /: %d %v", resp.StatusCode, resp.Header)
		}
		if !strings.Contains(page, `<script type="module" src="/app/app.js"></script>`) {
			t.Errorf("the page does not load its module: %s", page)
		}
		// This server has no MirrorScan (and so no review routes and no docs pages).
		if !strings.Contains(page, `<meta name="mirror-features" content="">`) {
			t.Errorf("production=%v: features offered that the server lacks: %s", prod, page)
		}
		for _, name := range []string{"app.js", "api.js", "dom.js", "playground.js", "scans.js", "review.js", "charts.js", "app.css", "favicon.svg"} {
			r, body := ts.do(t, "GET", "/app/"+name, "")
			if r.StatusCode != 200 || r.Header.Get("ETag") == "" || body != nil {
				t.Errorf("/app/%s: %d %v", name, r.StatusCode, r.Header)
			}
		}
		r, env := ts.do(t, "GET", "/app/nope.js", "")
		checkEnvelope(t, r, env, 404, "not_found")
	}
}
