package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestIndexCarriesFeatures(t *testing.T) {
	a := New(Features{Scans: true, Cancel: true})
	rec := httptest.NewRecorder()
	a.ServeIndex(rec, httptest.NewRequest("GET", "/", nil))
	body := rec.Body.String()
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("index: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	m := regexp.MustCompile(`<meta name="mirror-features" content="([^"]*)">`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no features meta in %s", body)
	}
	got := strings.Fields(m[1])
	if len(got) != 2 || !strings.Contains(m[1], "scans") || !strings.Contains(m[1], "cancel") {
		t.Errorf("features %q, want cancel and scans only", m[1])
	}
	if strings.Contains(string(New(Features{}).index), "cancel") {
		t.Error("a server without cancel offers it")
	}
}

func TestAssetsRevalidate(t *testing.T) {
	a := New(Features{})
	for name, ct := range map[string]string{"app.js": "text/javascript", "app.css": "text/css", "favicon.svg": "image/svg+xml"} {
		rec := httptest.NewRecorder()
		if !a.ServeAsset(rec, httptest.NewRequest("GET", "/app/"+name, nil), name) {
			t.Fatalf("%s not served", name)
		}
		etag := rec.Header().Get("ETag")
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), ct) || etag == "" || rec.Header().Get("Cache-Control") != "no-cache" {
			t.Errorf("%s: %d %v", name, rec.Code, rec.Header())
		}
		req := httptest.NewRequest("GET", "/app/"+name, nil)
		req.Header.Set("If-None-Match", etag)
		rec = httptest.NewRecorder()
		a.ServeAsset(rec, req, name)
		if rec.Code != http.StatusNotModified {
			t.Errorf("%s with its ETag: %d, want 304", name, rec.Code)
		}
	}
	if a.ServeAsset(httptest.NewRecorder(), httptest.NewRequest("GET", "/app/index.html", nil), "index.html") {
		t.Error("the page template is served as an asset")
	}
	if a.ServeAsset(httptest.NewRecorder(), httptest.NewRequest("GET", "/app/nope.js", nil), "nope.js") {
		t.Error("an unknown asset is served")
	}
}

// TestNoInlineCodeOrMarkupInjection keeps the app within the CSP and free of
// markup built from strings: no inline script or style in the page, no style
// attributes, and no API to parse HTML from text in the modules.
func TestNoInlineCodeOrMarkupInjection(t *testing.T) {
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|<style|\sstyle=|\son[a-z]+=|javascript:`)
	parsing := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setAttribute\(\s*['"]style|\.cssText|DOMParser`)
	remote := regexp.MustCompile(`(?i)(src|href)=["']?(https?:)?//|import\s.*from\s+['"]https?:|url\(\s*['"]?https?:`)
	err := fs.WalkDir(files, "static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(path)
		if err != nil {
			return err
		}
		text := string(b)
		if strings.HasSuffix(path, ".html") {
			if m := inline.FindString(text); m != "" {
				t.Errorf("%s has inline code or style: %q", path, m)
			}
		}
		if strings.HasSuffix(path, ".js") {
			if m := parsing.FindString(text); m != "" {
				t.Errorf("%s parses markup or code from strings: %q", path, m)
			}
		}
		if m := remote.FindString(text); m != "" {
			t.Errorf("%s loads something from another origin: %q", path, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
