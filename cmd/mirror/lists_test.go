package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"mirror/internal/testenv"
)

// TestListsAndReviewSQLite and its Postgres twin run the list, export and stats
// routes against each store, as a client sees them.
func TestListsAndReviewSQLite(t *testing.T) {
	checkListsAndReview(t, scanEnv(t))
}

func TestListsAndReviewPostgres(t *testing.T) {
	env := scanEnv(t)
	env["DATABASE_URL"] = testenv.PostgresDB(t, false)
	checkListsAndReview(t, env)
}

// pageAll follows next_cursor from path (which has a query) and returns every
// item, failing unless each page but the last is full.
func (c *client) pageAll(path string, limit int) []map[string]any {
	c.t.Helper()
	var all []map[string]any
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 50 {
			c.t.Fatalf("%s: cursor loop", path)
		}
		p := fmt.Sprintf("%s&limit=%d", path, limit)
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		status, out := c.json("GET", p, "")
		if status != 200 {
			c.t.Fatalf("GET %s: %d %v", p, status, out)
		}
		items := out["items"].([]any)
		for _, it := range items {
			all = append(all, it.(map[string]any))
		}
		next, _ := out["next_cursor"].(string)
		if next == "" {
			return all
		}
		if len(items) != limit {
			c.t.Fatalf("GET %s: a page of %d with a next cursor, want %d", p, len(items), limit)
		}
		cursor = next
	}
}

func ids(items []map[string]any, key string) []string {
	var out []string
	for _, it := range items {
		out = append(out, it[key].(string))
	}
	slices.Sort(out)
	return out
}

func wantError(t *testing.T, status int, out map[string]any, wantStatus int, code string) {
	t.Helper()
	e, _ := out["error"].(map[string]any)
	if status != wantStatus || e["code"] != code || e["request_id"] == "" {
		t.Errorf("got %d %v, want %d %s in the envelope", status, out, wantStatus, code)
	}
}

func (c *client) raw(path string) (int, http.Header, string) {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := httpClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func checkListsAndReview(t *testing.T, env map[string]string) {
	base, stop := startServe(t, env)
	defer stop()
	alice := signUp(t, base, "alice@example.com")
	bob := signUp(t, base, "bob@example.com")
	admin := signUp(t, base, "admin@example.com")
	grantAdmin(t, env, "admin@example.com")

	// Artifacts: three of Alice's, one of Bob's.
	var aliceArts, aliceScans []string
	for i, data := range [][]byte{maliciousPickle, []byte("plain notes\n"), maliciousPickle} {
		a := alice.upload(fmt.Sprintf("model-%d.pkl", i), data)
		aliceArts = append(aliceArts, a["artifact_id"].(string))
		aliceScans = append(aliceScans, alice.startScan(`{"target":{"kind":"artifact","artifact_id":"`+aliceArts[i]+`"},"scan_types":["self_modification"]}`))
	}
	bobArt := bob.upload("bob.pkl", maliciousPickle)["artifact_id"].(string)
	bobScan := bob.startScan(`{"target":{"kind":"artifact","artifact_id":"` + bobArt + `"}}`)
	for _, id := range aliceScans {
		alice.wait(id)
	}
	bob.wait(bobScan)

	slices.Sort(aliceArts)
	if got := ids(alice.pageAll("/api/v1/artifacts?", 2), "artifact_id"); !slices.Equal(got, aliceArts) {
		t.Errorf("Alice's artifacts %v, want %v", got, aliceArts)
	}
	if got := ids(bob.pageAll("/api/v1/artifacts?", 1), "artifact_id"); !slices.Equal(got, []string{bobArt}) {
		t.Errorf("Bob's artifacts %v", got)
	}
	// Other users' objects are not found, never forbidden (which would confirm them).
	status, out := bob.json("GET", "/api/v1/artifacts/"+aliceArts[0], "")
	wantError(t, status, out, 404, "not_found")
	status, out = bob.json("GET", "/api/v1/scans/status/"+aliceScans[0], "")
	wantError(t, status, out, 404, "not_found")
	if got := bob.findings("scan_id=" + aliceScans[0]); len(got) != 0 {
		t.Errorf("Bob lists Alice's findings: %v", got)
	}

	// A scan's HTML report: its owner's, with the finding, under a policy that lets
	// no script run; another user's is not found.
	status, hdr, page := alice.raw("/api/v1/scans/" + aliceScans[0] + "/report")
	found := alice.findings("scan_id=" + aliceScans[0])
	if len(found) == 0 {
		t.Fatal("the malicious pickle's scan has no finding")
	}
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") ||
		!strings.Contains(page, html.EscapeString(found[0]["title"].(string))) || !strings.Contains(page, "MirrorScan report: artifact:") {
		t.Errorf("Alice's report: %d %s, want the title %q\n%s", status, hdr.Get("Content-Type"), found[0]["title"], page)
	}
	csp := hdr.Get("Content-Security-Policy") + hdr.Get("Content-Security-Policy-Report-Only") // report-only in development
	if !strings.Contains(csp, "sandbox") || strings.Contains(csp, "script-src") {
		t.Errorf("report policy %q", csp)
	}
	if status, _, _ := bob.raw("/api/v1/scans/" + aliceScans[0] + "/report"); status != 404 {
		t.Errorf("Bob reads Alice's report: %d", status)
	}

	// Scans: pages, filters, and only one's own.
	slices.Sort(aliceScans)
	all := alice.pageAll("/api/v1/scans?", 2)
	if got := ids(all, "scan_id"); !slices.Equal(got, aliceScans) {
		t.Errorf("Alice's scans %v, want %v", got, aliceScans)
	}
	for i := 1; i < len(all); i++ {
		if all[i-1]["created_at"].(string) < all[i]["created_at"].(string) {
			t.Errorf("scans not newest first: %v then %v", all[i-1]["created_at"], all[i]["created_at"])
		}
	}
	if got := ids(bob.pageAll("/api/v1/scans?", 5), "scan_id"); !slices.Equal(got, []string{bobScan}) {
		t.Errorf("Bob's scans %v", got)
	}
	if got := alice.pageAll("/api/v1/scans?status=completed", 10); len(got) != 3 {
		t.Errorf("completed scans: %d", len(got))
	}
	if got := alice.pageAll("/api/v1/scans?status=failed", 10); len(got) != 0 {
		t.Errorf("failed scans: %v", got)
	}
	if got := alice.pageAll("/api/v1/scans?scan_type=self_modification", 10); len(got) != 3 {
		t.Errorf("self_modification scans: %d", len(got))
	}
	if got := alice.pageAll("/api/v1/scans?scan_type=prompt_artifacts", 10); len(got) != 0 {
		t.Errorf("prompt_artifacts scans (none asked for it): %v", got)
	}
	if got := bob.pageAll("/api/v1/scans?scan_type=prompt_artifacts", 10); len(got) != 1 {
		t.Errorf("Bob's prompt_artifacts scans: %v", got)
	}
	if got := alice.pageAll("/api/v1/scans?target="+url.QueryEscape("artifact:"+aliceArts[1]), 10); len(got) != 1 || got[0]["target"].(map[string]any)["artifact_id"] != aliceArts[1] {
		t.Errorf("scans by target: %v", got)
	}
	first := all[len(all)-1]["created_at"].(string)
	if got := alice.pageAll("/api/v1/scans?created_after="+url.QueryEscape(first), 10); len(got) != 2 {
		t.Errorf("scans created after the first: %d", len(got))
	}
	if got := alice.pageAll("/api/v1/scans?created_after=2999-01-01", 10); len(got) != 0 {
		t.Errorf("scans from the future: %v", got)
	}
	for _, q := range []string{"status=done", "scan_type=nope", "created_after=yesterday", "limit=0", "limit=201", "cursor=not-a-cursor"} {
		status, out := alice.json("GET", "/api/v1/scans?"+q, "")
		wantError(t, status, out, 422, "validation_error")
	}
	status, out = (&client{t: t, base: base}).json("GET", "/api/v1/scans", "")
	wantError(t, status, out, 401, "unauthorized")

	// min_severity: this severity or higher; severity stays exact.
	critical := alice.findings("severity=critical&limit=200")
	high := alice.findings("severity=high&limit=200")
	atLeastHigh := alice.findings("min_severity=high&limit=200")
	if len(critical) == 0 {
		t.Fatalf("no critical finding on the malicious pickles")
	}
	if len(atLeastHigh) != len(critical)+len(high) {
		t.Errorf("min_severity=high gave %d, want %d critical + %d high", len(atLeastHigh), len(critical), len(high))
	}
	for _, f := range atLeastHigh {
		if f["severity"] != "critical" && f["severity"] != "high" {
			t.Errorf("min_severity=high returned %v", f["severity"])
		}
	}
	if got := alice.findings("min_severity=info&limit=200"); len(got) < len(atLeastHigh) {
		t.Errorf("min_severity=info gave fewer (%d) than high (%d)", len(got), len(atLeastHigh))
	}
	status, out = alice.json("GET", "/api/v1/scans/vulnerabilities?min_severity=severe", "")
	wantError(t, status, out, 422, "validation_error")

	// MirrorView traffic to review: three generations in session s1 (one thumbed up
	// and edited, one thumbed down), one in s2 without feedback.
	gen := func(session, text string) map[string]any {
		status, out := postJSON(t, base+"/generate_response", `{"submission":{"model_id":"offline-demo","text":"`+text+`","session_id":"`+session+`"}}`)
		if status != 200 {
			t.Fatalf("generate: %d %v", status, out)
		}
		return out
	}
	g1, g2, g3, g4 := gen("s1", "first question"), gen("s1", "second question"), gen("s1", "third question"), gen("s2", "other session")
	_ = g3
	for _, fb := range []struct{ path, body string }{
		{"/feedback/thumb", `{"generation_id":"` + g1["generation_id"].(string) + `","thumb":"down"}`},
		{"/feedback/thumb", `{"generation_id":"` + g1["generation_id"].(string) + `","thumb":"up"}`},
		{"/feedback/edit", `{"generation_id":"` + g1["generation_id"].(string) + `","edited_response":"A better answer, =1+1 written by hand."}`},
		{"/feedback/thumb", `{"generation_id":"` + g2["generation_id"].(string) + `","thumb":"down"}`},
	} {
		if status, out := postJSON(t, base+fb.path, fb.body); status != 201 {
			t.Fatalf("%s: %d %v", fb.path, status, out)
		}
	}

	// Admins only.
	for _, p := range []string{"/api/v1/generations", "/api/v1/feedback/stats", "/api/v1/feedback/export?format=jsonl"} {
		status, out := alice.json("GET", p, "")
		wantError(t, status, out, 403, "forbidden")
	}
	gens := admin.pageAll("/api/v1/generations?", 3)
	if len(gens) != 4 {
		t.Fatalf("generations: %d", len(gens))
	}
	if got := admin.pageAll("/api/v1/generations?session_id=s1", 2); len(got) != 3 {
		t.Errorf("session s1: %d", len(got))
	}
	withFB := admin.pageAll("/api/v1/generations?has_feedback=true", 10)
	if got := ids(withFB, "generation_id"); !slices.Equal(got, ids([]map[string]any{g1, g2}, "generation_id")) {
		t.Errorf("has_feedback=true: %v", got)
	}
	for _, g := range withFB {
		if g["generation_id"] == g1["generation_id"] && len(g["feedback"].([]any)) != 3 {
			t.Errorf("g1 feedback: %v", g["feedback"])
		}
	}
	if got := admin.pageAll("/api/v1/generations?has_feedback=false", 10); len(got) != 2 {
		t.Errorf("has_feedback=false: %d", len(got))
	}
	if got := admin.pageAll("/api/v1/generations?model_id=gpt-5-nano", 10); len(got) != 0 {
		t.Errorf("another model's: %d", len(got))
	}
	if got := admin.pageAll("/api/v1/generations?since=2999-01-01T00:00:00Z", 10); len(got) != 0 {
		t.Errorf("since the future: %d", len(got))
	}
	for _, q := range []string{"has_feedback=maybe", "since=soon", "limit=500", "cursor=zz"} {
		status, out := admin.json("GET", "/api/v1/generations?"+q, "")
		wantError(t, status, out, 422, "validation_error")
	}

	status, out = admin.json("GET", "/api/v1/feedback/stats", "")
	models, _ := out["models"].([]any)
	if status != 200 || len(models) != 1 {
		t.Fatalf("stats: %d %v", status, out)
	}
	st := models[0].(map[string]any)
	want := map[string]any{"model_id": "offline-demo", "generations": 4.0, "with_feedback": 2.0, "thumbs_up": 1.0, "thumbs_down": 1.0,
		"thumbs_up_rate": 0.25, "thumbs_down_rate": 0.25, "edited": 1.0, "edit_rate": 0.25}
	for k, v := range want {
		if st[k] != v {
			t.Errorf("stats %s = %v, want %v", k, st[k], v)
		}
	}
	if d, _ := st["mean_edit_distance"].(float64); d <= 0 {
		t.Errorf("mean_edit_distance %v", st["mean_edit_distance"])
	}
	if st["latency_p95_ms"].(float64) < st["latency_p50_ms"].(float64) {
		t.Errorf("p95 under p50: %v", st)
	}
	if status, out := admin.json("GET", "/api/v1/feedback/stats?session_id=s2", ""); status != 200 || out["models"].([]any)[0].(map[string]any)["generations"] != 1.0 {
		t.Errorf("stats of s2: %d %v", status, out)
	}

	// Exports.
	status, hdr, body := admin.raw("/api/v1/feedback/export?format=jsonl")
	if status != 200 || hdr.Get("Content-Type") != "application/x-ndjson" || !strings.Contains(hdr.Get("Content-Disposition"), "attachment") {
		t.Fatalf("jsonl export: %d %v", status, hdr)
	}
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if len(lines) != 4 {
		t.Errorf("jsonl lines: %d", len(lines))
	}
	for _, l := range lines {
		var g map[string]any
		if err := json.Unmarshal([]byte(l), &g); err != nil || g["prompt"] == "" || g["feedback"] == nil {
			t.Errorf("jsonl line %q: %v", l, err)
		}
	}
	status, hdr, body = admin.raw("/api/v1/feedback/export?format=csv&session_id=s1")
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") || err != nil || len(rows) != 4 || rows[0][0] != "generation_id" {
		t.Fatalf("csv export: %d %v %v %d rows", status, hdr.Get("Content-Type"), err, len(rows))
	}
	col := slices.Index(rows[0], "latest_edit")
	for _, r := range rows[1:] {
		if r[0] == g1["generation_id"] && r[col] != "A better answer, =1+1 written by hand." {
			t.Errorf("csv latest_edit %q", r[col])
		}
	}
	status, _, body = admin.raw("/api/v1/feedback/export?format=preference")
	if status != 200 {
		t.Fatalf("preference export: %d %s", status, body)
	}
	var pairs, labels int
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		var ex map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ex); err != nil {
			t.Fatal(err)
		}
		switch ex["generation_id"] {
		case g1["generation_id"]:
			pairs++
			if ex["prompt"] != "first question" || ex["chosen"] != "A better answer, =1+1 written by hand." || ex["rejected"] != g1["response"] {
				t.Errorf("pair %v", ex)
			}
		case g2["generation_id"]:
			labels++
			if ex["prompt"] != "second question" || ex["completion"] != g2["response"] || ex["label"] != false {
				t.Errorf("label %v", ex)
			}
		default:
			t.Errorf("generation without feedback exported as preference: %v", ex)
		}
	}
	if pairs != 1 || labels != 1 {
		t.Errorf("preference: %d pairs, %d labels", pairs, labels)
	}
	status, out = admin.json("GET", "/api/v1/feedback/export?format=xml", "")
	wantError(t, status, out, 422, "validation_error")
	_ = g4
}
