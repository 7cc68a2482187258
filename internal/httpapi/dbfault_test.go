package httpapi

import (
	"io"
	"log/slog"
	"net/url"
	"testing"
	"time"

	defaults "mirror/config"
	"mirror/internal/catalog"
	"mirror/internal/feedback"
	"mirror/internal/generate"
	"mirror/internal/storetest"
	"mirror/internal/testenv"
)

// TestDatabaseDownOnWrite: with Postgres cut off mid-run, writes answer 503 in the
// envelope (never a 2xx for something not stored), and the server recovers by itself
// when the database comes back.
func TestDatabaseDownOnWrite(t *testing.T) {
	dbURL := testenv.PostgresDB(t, false)
	u, _ := url.Parse(dbURL)
	proxy := testenv.NewProxy(t, u.Host)
	u.Host = proxy.Addr
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db := storetest.Open(t, u.String())
	cat, _ := catalog.Parse(defaults.DefaultModels, "models.yaml")
	models := catalog.NewService(cat, demoProviders{}, db, catalog.Options{AllowDemo: true})
	// Containment stays cached through the cut, so the 503 below comes from the write itself.
	models.RefreshEvery = time.Hour
	api := New(Deps{Options: testOptions(), Log: log, Catalog: models,
		Generate: generate.NewService(models, demoProviders{}, db, true, log), Feedback: feedback.NewService(db, true), Ready: db.Ping})
	ts := &testServer{Server: newHTTPTestServer(t, api), db: db}

	resp, g := ts.do(t, "POST", "/generate_response", `{"submission":{"model_id":"offline-demo","text":"before"}}`)
	if resp.StatusCode != 200 {
		t.Fatalf("before the cut: %d %v", resp.StatusCode, g)
	}
	id := g["generation_id"].(string)

	proxy.Cut()
	resp, body := ts.do(t, "POST", "/generate_response", `{"submission":{"model_id":"offline-demo","text":"during"}}`)
	checkEnvelope(t, resp, body, 503, "service_unavailable")
	resp, body = ts.do(t, "POST", "/feedback/thumb", `{"generation_id":"`+id+`","thumb":"up"}`)
	checkEnvelope(t, resp, body, 503, "service_unavailable")
	if resp, _ := ts.do(t, "GET", "/health/ready", ""); resp.StatusCode != 503 {
		t.Errorf("ready while the database is down: %d", resp.StatusCode)
	}

	proxy.Restore()
	resp, body = ts.do(t, "POST", "/feedback/thumb", `{"generation_id":"`+id+`","thumb":"up"}`)
	if resp.StatusCode != 201 {
		t.Fatalf("after the database returned: %d %v", resp.StatusCode, body)
	}
	_, stored := ts.do(t, "GET", "/generations/"+id, "")
	if n := len(stored["feedback"].([]any)); n != 1 {
		t.Fatalf("%d feedback events stored, want exactly the acknowledged one", n)
	}
}
