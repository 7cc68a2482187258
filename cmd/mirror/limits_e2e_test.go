package main

import (
	"bytes"
	"mime/multipart"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mirror/internal/llm/llmtest"
	"mirror/internal/scan/probe/probetest"
	"mirror/internal/testenv"
)

func (c *client) id() string {
	c.t.Helper()
	status, me := c.json("GET", "/api/v1/auth/me", "")
	if status != 200 {
		c.t.Fatalf("me: %d %v", status, me)
	}
	return me["id"].(string)
}

func errCode(out map[string]any) any {
	e, _ := out["error"].(map[string]any)
	return e["code"]
}

// TestEndpointContainmentIsPerOwner is the penetration test's reproduction: two
// users scan the same endpoint; B's contain answers B's own record (B's user id,
// scan and findings, never A's), and B's release leaves A's containment alone.
func TestEndpointContainmentIsPerOwner(t *testing.T) {
	base, stop := startServe(t, scanEnv(t))
	defer stop()
	a, b := signUp(t, base, "a@example.com"), signUp(t, base, "b@example.com")
	victim := llmtest.NewOpenAIServer(t, probetest.New(probetest.All).Handle)
	body := `{"target":{"kind":"endpoint","url":"` + victim.BaseURL + `","model":"victim","api_key":"` + victim.Key + `"},"scan_types":["jailbreak"],"options":{"seed":1,"max_requests":10}}`
	scanA, scanB := a.startScan(body), b.startScan(body)
	a.wait(scanA)
	b.wait(scanB)

	status, ca := a.json("POST", "/api/v1/scans/containment/"+scanA, "")
	if status != 200 || ca["contained"] != true {
		t.Fatalf("A contains: %d %v", status, ca)
	}
	status, cb := b.json("POST", "/api/v1/scans/containment/"+scanB, "")
	if status != 200 || cb["contained"] != true || cb["scan_id"] != scanB || cb["contained_by"] != b.id() {
		t.Fatalf("B's contain answers another record: %d %v (B is %s)", status, cb, b.id())
	}
	mine := map[string]bool{}
	for _, f := range b.findings("scan_id=" + scanB + "&limit=200") {
		mine[f["id"].(string)] = true
	}
	for _, id := range cb["finding_ids"].([]any) {
		if !mine[id.(string)] {
			t.Errorf("B's containment names finding %s, not B's", id)
		}
	}
	if status, r := b.json("POST", "/api/v1/scans/containment/"+scanB+"/release", ""); status != 200 || r["contained"] != false {
		t.Fatalf("B releases: %d %v", status, r)
	}
	// A's containment stands: containing again changes nothing and says so.
	if status, again := a.json("POST", "/api/v1/scans/containment/"+scanA, ""); status != 200 || again["contained_at"] != ca["contained_at"] ||
		again["contained_by"] != a.id() {
		t.Errorf("B's release touched A's containment: %v then %v", ca, again)
	}
	// And B cannot act on A's scan at all.
	if status, _ := b.json("POST", "/api/v1/scans/containment/"+scanA+"/release", ""); status != 404 {
		t.Errorf("B releases A's scan: %d", status)
	}
}

// TestScanCancelAndFairness: one worker, one hanging target. A queued scan is
// cancelled at once; a running one is cancelled and its worker lets go of the
// target (the target sees its client leave), so the next scan runs. The rate
// floor refuses scans that would hold a worker for hours.
func TestScanCancelAndFairness(t *testing.T) {
	env := scanEnv(t)
	env["SCAN_WORKERS"], env["SCAN_LEASE_SECONDS"] = "1", "3"
	base, stop := startServe(t, env)
	defer stop()
	a, b := signUp(t, base, "a@example.com"), signUp(t, base, "b@example.com")

	for _, rate := range []string{"0.01", "1e-300", "0.099", "-1", "1001"} {
		status, out := a.json("POST", "/api/v1/scans/analyze", `{"target":{"kind":"catalog_model","model_id":"offline-demo"},"options":{"rate_per_second":`+rate+`}}`)
		if status != 422 || errCode(out) != "validation_error" {
			t.Errorf("rate_per_second %s: %d %v", rate, status, out)
		}
	}

	hang := llmtest.NewOpenAIServer(t, func(llmtest.ChatRequest) llmtest.Reply { return llmtest.Reply{Hang: true} })
	running := a.startScan(`{"target":{"kind":"endpoint","url":"` + hang.BaseURL + `","model":"m","api_key":"` + hang.Key + `"},"scan_types":["jailbreak"],"options":{"max_requests":3,"concurrency":1}}`)
	a.pollScan(running, "did not start", 20*time.Millisecond, func(st map[string]any) bool { return st["status"] == "running" && hang.Count() > 0 })
	queued := a.startScan(`{"target":{"kind":"catalog_model","model_id":"offline-demo"},"scan_types":["jailbreak"],"options":{"max_requests":3}}`)

	if status, _ := b.json("POST", "/api/v1/scans/"+queued+"/cancel", ""); status != 404 {
		t.Errorf("B cancels A's scan: %d", status)
	}
	status, st := a.json("POST", "/api/v1/scans/"+queued+"/cancel", "")
	if status != 200 || st["status"] != "cancelled" || st["completed_at"] == nil {
		t.Fatalf("cancel queued: %d %v", status, st)
	}
	if status, st := a.json("POST", "/api/v1/scans/"+running+"/cancel", ""); status != 200 || st["status"] != "cancelled" {
		t.Fatalf("cancel running: %d %v", status, st)
	}
	select {
	case <-hang.Disconnects:
	case <-time.After(60 * time.Second):
		t.Fatal("the cancelled scan's worker still holds its request to the target")
	}
	if status, st := a.json("POST", "/api/v1/scans/"+running+"/cancel", ""); status != 200 || st["status"] != "cancelled" {
		t.Errorf("cancel is not idempotent: %d %v", status, st)
	}
	// The one worker is free again: B's scan runs to its end.
	next := b.startScan(`{"target":{"kind":"catalog_model","model_id":"offline-demo"},"scan_types":["jailbreak"],"options":{"max_requests":3}}`)
	if st := b.wait(next); st["status"] != "completed" {
		t.Fatalf("scan after the cancel: %v", st)
	}
	if status, out := b.json("POST", "/api/v1/scans/"+next+"/cancel", ""); status != 409 || errCode(out) != "conflict" {
		t.Errorf("cancel a completed scan: %d %v", status, out)
	}
	for _, id := range []string{running, queued} {
		if st := a.scanStatusOf(id); st["status"] != "cancelled" {
			t.Errorf("scan %s after the run: %v", id, st["status"])
		}
	}
	if _, m := a.json("GET", "/api/v1/scans/metrics", ""); m["scans_by_status"].(map[string]any)["cancelled"] != 2.0 {
		t.Errorf("metrics: %v", m["scans_by_status"])
	}
}

// TestArtifactQuotaAndDelete: uploads past the user's quota are 413
// quota_exceeded and leave nothing behind; a delete makes room; a contained
// artifact, or another user's, cannot be deleted.
func TestArtifactQuotaAndDelete(t *testing.T) {
	env := scanEnv(t)
	env["ARTIFACT_QUOTA_BYTES"], env["MAX_UPLOAD_BYTES"] = "3000", "2500"
	base, stop := startServe(t, env)
	defer stop()
	a, b := signUp(t, base, "a@example.com"), signUp(t, base, "b@example.com")
	send := func(c *client, size int) (int, map[string]any) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, _ := mw.CreateFormFile("file", "m.bin")
		fw.Write(bytes.Repeat([]byte{'x'}, size))
		mw.Close()
		status, out, _ := c.do("POST", "/api/v1/artifacts", &body, mw.FormDataContentType())
		return status, out
	}
	files := func() []string {
		left, _ := filepath.Glob(filepath.Join(env["MIRROR_DATA_DIR"], "artifacts", "*"))
		return left
	}
	status, first := send(a, 2000)
	if status != 201 {
		t.Fatalf("first upload: %d %v", status, first)
	}
	if status, out := send(a, 1500); status != 413 || errCode(out) != "quota_exceeded" {
		t.Errorf("past the quota: %d %v", status, out)
	}
	if status, out := send(b, 2600); status != 413 || errCode(out) != "payload_too_large" {
		t.Errorf("past MAX_UPLOAD_BYTES: %d %v", status, out)
	}
	if left := files(); len(left) != 1 {
		t.Errorf("files on disk after refused uploads: %v", left)
	}
	if status, _ := send(b, 2000); status != 201 {
		t.Errorf("B's quota is B's own: %d", status)
	}

	id := first["artifact_id"].(string)
	if status, _, _ := b.do("DELETE", "/api/v1/artifacts/"+id, nil, ""); status != 404 {
		t.Errorf("B deletes A's artifact: %d", status)
	}
	sc := a.startScan(`{"target":{"kind":"artifact","artifact_id":"` + id + `"}}`)
	a.wait(sc)
	a.json("POST", "/api/v1/scans/containment/"+sc, "")
	if status, out, _ := a.do("DELETE", "/api/v1/artifacts/"+id, nil, ""); status != 409 || errCode(out) != "model_contained" {
		t.Errorf("delete a contained artifact: %d %v", status, out)
	}
	a.json("POST", "/api/v1/scans/containment/"+sc+"/release", "")
	if status, _, _ := a.do("DELETE", "/api/v1/artifacts/"+id, nil, ""); status != 204 {
		t.Fatalf("delete: %d", status)
	}
	if status, _, _ := a.do("GET", "/api/v1/artifacts/"+id, nil, ""); status != 404 {
		t.Errorf("deleted artifact: %d", status)
	}
	if status, out := send(a, 2500); status != 201 {
		t.Errorf("upload after the delete made room: %d %v", status, out)
	}
	if left := files(); len(left) != 2 {
		t.Errorf("files on disk: %v", left)
	}
}

// TestNULRejectedOnEveryStore: a NUL byte in any input is 422 before any work, on
// SQLite and on Postgres alike (Postgres used to answer 503).
func TestNULRejectedOnEveryStore(t *testing.T) {
	stores := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "" },
		"postgres": func(t *testing.T) string { return testenv.PostgresDB(t, false) },
	}
	for name, dbURL := range stores {
		t.Run(name, func(t *testing.T) {
			env := scanEnv(t)
			if u := dbURL(t); u != "" {
				env["DATABASE_URL"] = u
			}
			base, stop := startServe(t, env)
			defer stop()
			c := signUp(t, base, "nul@example.com")
			nul := url.QueryEscape("\x00")
			cases := []struct{ method, path, body string }{
				{"GET", "/api/v1/scans/vulnerabilities?target=x" + nul, ""},
				{"GET", "/api/v1/scans/vulnerabilities?scan_id=" + nul, ""},
				{"GET", "/api/v1/scans/vulnerabilities?cursor=" + nul, ""},
				{"GET", "/api/v1/scans/status/" + nul, ""},
				{"GET", "/api/v1/artifacts/a" + nul + "b", ""},
				{"GET", "/generations/" + nul, ""},
				{"POST", "/api/v1/auth/register", `{"email":"x@example.com","password":"correct horse battery","full_name":"A\u0000B"}`},
				{"POST", "/api/v1/auth/login", `{"email":"nul\u0000@example.com","password":"correct horse battery"}`},
				{"POST", "/api/v1/scans/analyze", `{"target":{"kind":"catalog_model","model_id":"offline-demo\u0000"}}`},
				{"POST", "/api/v1/scans/analyze", `{"target":{"kind":"catalog_model","model_id":"offline-demo"},"scan_types":["jailbreak\u0000"]}`},
				{"POST", "/generate_response", `{"submission":{"model_id":"offline-demo","text":"hi \u0000 there"}}`},
				{"POST", "/feedback/thumb", `{"generation_id":"\u0000","thumb":"up"}`},
			}
			for _, tc := range cases {
				var body *strings.Reader
				ct := ""
				if tc.body != "" {
					body, ct = strings.NewReader(tc.body), "application/json"
				} else {
					body = strings.NewReader("")
				}
				status, out, _ := c.do(tc.method, tc.path, body, ct)
				if status != 422 || errCode(out) != "validation_error" {
					t.Errorf("%s %s %s: %d %v", tc.method, tc.path, tc.body, status, out)
				}
			}
			// The form login too.
			status, out, _ := c.do("POST", "/api/v1/auth/login", strings.NewReader("username=nul%00%40example.com&password=x"), "application/x-www-form-urlencoded")
			if status != 422 {
				t.Errorf("form login with NUL: %d %v", status, out)
			}
		})
	}
}
