package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mirror/internal/llm/llmtest"
	"mirror/internal/scan/probe/probetest"
	"mirror/internal/testenv"
)

// client is a signed-in MirrorScan user talking to one server.
type client struct {
	t     *testing.T
	base  string
	token string
}

func (c *client) do(method, path string, body io.Reader, contentType string, hdr ...string) (int, map[string]any, http.Header) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			c.t.Fatalf("%s %s: not JSON: %q", method, path, raw)
		}
	}
	return resp.StatusCode, out, resp.Header
}

func (c *client) json(method, path, body string) (int, map[string]any) {
	c.t.Helper()
	var r io.Reader
	ct := ""
	if body != "" {
		r, ct = strings.NewReader(body), "application/json"
	}
	status, out, _ := c.do(method, path, r, ct)
	return status, out
}

// signUp registers email and signs in.
func signUp(t *testing.T, base, email string) *client {
	t.Helper()
	c := &client{t: t, base: base}
	if status, out := c.json("POST", "/api/v1/auth/register", `{"email":"`+email+`","password":"correct horse battery","full_name":"Test User"}`); status != 201 {
		t.Fatalf("register %s: %d %v", email, status, out)
	}
	status, out := c.json("POST", "/api/v1/auth/login", `{"email":"`+email+`","password":"correct horse battery"}`)
	if status != 200 || out["token_type"] != "bearer" {
		t.Fatalf("login %s: %d %v", email, status, out)
	}
	c.token = out["access_token"].(string)
	return c
}

func (c *client) startScan(body string) string {
	c.t.Helper()
	status, out := c.json("POST", "/api/v1/scans/analyze", body)
	if status != 202 || out["status"] != "queued" || !strings.HasSuffix(out["status_url"].(string), out["scan_id"].(string)) {
		c.t.Fatalf("analyze %s: %d %v", body, status, out)
	}
	return out["scan_id"].(string)
}

// pollScan reads a scan's status until until(status) holds, or fails the test
// after a minute with what describes the wait.
func (c *client) pollScan(id, what string, every time.Duration, until func(st map[string]any) bool) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if st := c.scanStatusOf(id); until(st) {
			return st
		}
		time.Sleep(every)
	}
	c.t.Fatalf("scan %s %s", id, what)
	return nil
}

// wait polls a scan's status until it ends.
func (c *client) wait(id string) map[string]any {
	c.t.Helper()
	return c.pollScan(id, "did not finish", 50*time.Millisecond, func(st map[string]any) bool {
		return st["status"] == "completed" || st["status"] == "failed"
	})
}

func (c *client) findings(query string) []map[string]any {
	c.t.Helper()
	status, out := c.json("GET", "/api/v1/scans/vulnerabilities?"+query, "")
	if status != 200 {
		c.t.Fatalf("vulnerabilities: %d %v", status, out)
	}
	var items []map[string]any
	for _, it := range out["items"].([]any) {
		items = append(items, it.(map[string]any))
	}
	return items
}

// maliciousPickle is a protocol-2 pickle that calls os.system("id") when loaded.
var maliciousPickle = []byte("\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.")

func (c *client) upload(name string, data []byte) map[string]any {
	c.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(data)
	mw.Close()
	status, out, _ := c.do("POST", "/api/v1/artifacts", &body, mw.FormDataContentType())
	if status != 201 {
		c.t.Fatalf("upload: %d %v", status, out)
	}
	return out
}

// events reads a scan's status stream until its done event.
func (c *client) events(id string) []string {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+"/api/v1/scans/status/"+id, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := httpClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		c.t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var names []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if name, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
			names = append(names, name)
			if name == "done" {
				break
			}
		}
	}
	return names
}

// grantAdmin runs `mirror admin grant email` on env's database.
func grantAdmin(t *testing.T, env map[string]string, email string) {
	t.Helper()
	var out bytes.Buffer
	if code := run(context.Background(), []string{"admin", "grant", email}, func(k string) string { return env[k] }, &out, &out); code != 0 {
		t.Fatalf("mirror admin grant %s: exit %d\n%s", email, code, out.String())
	}
}

func scanEnv(t *testing.T) map[string]string {
	return map[string]string{
		"MIRROR_DATA_DIR":       filepath.Join(t.TempDir(), "data"),
		"SCAN_TARGET_ALLOWLIST": "127.0.0.1",
		"ADMIN_EMAILS":          "admin@example.com",
		"RATE_LIMIT_PER_MINUTE": "100000",
		"RATE_LIMIT_GENERATE":   "1000/minute",
	}
}

// TestMirrorScanEndToEnd is the user story on the default SQLite set-up:
// register, sign in, upload a model file and scan it, scan a catalog model, an
// endpoint and an embeddings endpoint, watch live, list findings, read metrics,
// contain the catalog model (MirrorView refuses it) and release it.
func TestMirrorScanEndToEnd(t *testing.T) {
	env := scanEnv(t)
	base, stop := startServe(t, env)
	defer stop()
	anon := &client{t: t, base: base}
	if status, out := anon.json("GET", "/api/v1/scans/metrics", ""); status != 401 || out["error"].(map[string]any)["code"] != "unauthorized" {
		t.Fatalf("anonymous metrics: %d %v", status, out)
	}
	user := signUp(t, base, "user@example.com")
	admin := signUp(t, base, "admin@example.com")
	if _, me := user.json("GET", "/api/v1/auth/me", ""); me["role"] != "user" || me["email"] != "user@example.com" {
		t.Fatalf("me: %v", me)
	}
	// Registering an ADMIN_EMAILS address does not make an admin; the operator's
	// grant does, on the running server's next request.
	if _, me := admin.json("GET", "/api/v1/auth/me", ""); me["role"] != "user" {
		t.Fatalf("registered admin address: %v, want role user until granted", me)
	}
	grantAdmin(t, env, "admin@example.com")
	if _, me := admin.json("GET", "/api/v1/auth/me", ""); me["role"] != "admin" {
		t.Fatalf("admin me: %v", me)
	}
	if status, _ := anon.json("POST", "/api/v1/auth/register", `{"email":"user@example.com","password":"another password"}`); status != 409 {
		t.Fatalf("taken email: %d", status)
	}

	// A model file.
	art := user.upload("model.pkl", maliciousPickle)
	artScan := user.startScan(`{"target":{"kind":"artifact","artifact_id":"` + art["artifact_id"].(string) + `"}}`)
	if st := user.wait(artScan); st["status"] != "completed" || st["findings_count"].(float64) == 0 {
		t.Fatalf("artifact scan: %v", st)
	}
	high := false
	for _, f := range user.findings("scan_id=" + artScan) {
		if f["scan_type"] == "self_modification" && (f["severity"] == "critical" || f["severity"] == "high") {
			high = true
		}
	}
	if !high {
		t.Errorf("malicious pickle not flagged high: %v", user.findings("scan_id="+artScan))
	}

	// A vulnerable endpoint, with a key that must never come back.
	victim := llmtest.NewOpenAIServer(t, probetest.New(probetest.All).Handle)
	epScan := user.startScan(`{"target":{"kind":"endpoint","url":"` + victim.BaseURL + `","model":"victim","api_key":"` + victim.Key + `"},"options":{"seed":3}}`)
	names := user.events(epScan)
	if len(names) < 2 || names[len(names)-1] != "done" || names[0] != "progress" {
		t.Errorf("status stream events: %v", names)
	}
	st := user.wait(epScan)
	if st["status"] != "completed" {
		t.Fatalf("endpoint scan: %v", st)
	}
	byType := map[string]bool{}
	for _, f := range user.findings("scan_id=" + epScan + "&limit=200") {
		if f["severity"] == "critical" || f["severity"] == "high" {
			byType[f["scan_type"].(string)] = true
		}
	}
	for _, typ := range []string{"jailbreak", "pii_leakage", "prompt_artifacts", "model_inversion", "self_modification"} {
		if !byType[typ] {
			t.Errorf("endpoint scan: no high %s finding", typ)
		}
	}
	_, raw, _ := user.do("GET", "/api/v1/scans/status/"+epScan, nil, "")
	if b, _ := json.Marshal(raw); bytes.Contains(b, []byte(victim.Key)) {
		t.Error("the endpoint's API key came back in the status")
	}

	// An embeddings endpoint.
	embedder := llmtest.NewOpenAIServer(t, llmtest.Text("unused"))
	emScan := user.startScan(`{"target":{"kind":"embeddings","url":"` + embedder.BaseURL + `","model":"embed","api_key":"` + embedder.Key + `"}}`)
	if st := user.wait(emScan); st["status"] != "completed" || st["findings_count"].(float64) == 0 {
		t.Fatalf("embeddings scan: %v", st)
	}

	// SSRF: a private address is refused at once.
	if status, out := user.json("POST", "/api/v1/scans/analyze", `{"target":{"kind":"endpoint","url":"http://10.1.2.3/v1","model":"x"}}`); status != 422 {
		t.Errorf("private endpoint: %d %v", status, out)
	}
	// A type that does not apply is 422.
	if status, _ := user.json("POST", "/api/v1/scans/analyze", `{"target":{"kind":"artifact","artifact_id":"x"},"scan_types":["jailbreak"]}`); status != 422 {
		t.Errorf("inapplicable type: %d", status)
	}

	// Users see only their own scans.
	other := signUp(t, base, "other@example.com")
	if status, _ := other.json("GET", "/api/v1/scans/status/"+epScan, ""); status != 404 {
		t.Errorf("other user's scan: %d", status)
	}
	if items := other.findings(""); len(items) != 0 {
		t.Errorf("other user sees %d findings", len(items))
	}
	if items := other.findings("scan_id=" + epScan); len(items) != 0 {
		t.Errorf("other user sees %d findings of a scan not theirs", len(items))
	}
	// An admin, who may read any scan's status, may list any one scan's findings,
	// while the unfiltered list stays the admin's own.
	if status, _ := admin.json("GET", "/api/v1/scans/status/"+epScan, ""); status != 200 {
		t.Errorf("admin reading a user's scan: %d", status)
	}
	if mine, theirs := user.findings("scan_id="+epScan), admin.findings("scan_id="+epScan); len(theirs) == 0 || len(theirs) != len(mine) {
		t.Errorf("admin lists %d of the user's scan's findings, the user %d", len(theirs), len(mine))
	}
	for _, f := range admin.findings("") {
		if f["scan_id"] == epScan {
			t.Errorf("a user's finding in the admin's own list")
			break
		}
	}

	// A catalog model: the admin scans and contains it; MirrorView refuses it.
	catScan := admin.startScan(`{"target":{"kind":"catalog_model","model_id":"offline-demo"},"scan_types":["jailbreak"],"options":{"max_requests":20}}`)
	if st := admin.wait(catScan); st["status"] != "completed" {
		t.Fatalf("catalog scan: %v", st)
	}
	userCat := user.startScan(`{"target":{"kind":"catalog_model","model_id":"offline-demo"},"scan_types":["jailbreak"],"options":{"max_requests":5}}`)
	user.wait(userCat)
	if status, out := user.json("POST", "/api/v1/scans/containment/"+userCat, ""); status != 403 {
		t.Errorf("user contains a catalog model: %d %v", status, out)
	}
	status, c := admin.json("POST", "/api/v1/scans/containment/"+catScan, "")
	if status != 200 || c["contained"] != true || c["contained_by"] == nil || len(c["actions"].([]any)) == 0 {
		t.Fatalf("contain: %d %v", status, c)
	}
	if status, again := admin.json("POST", "/api/v1/scans/containment/"+catScan, ""); status != 200 || again["contained_at"] != c["contained_at"] {
		t.Errorf("containment is not idempotent: %v then %v", c, again)
	}
	_, models := getJSON(t, base+"/models")
	for _, m := range models["models"].([]any) {
		if m.(map[string]any)["model_id"] == "offline-demo" {
			t.Error("contained model still listed")
		}
	}
	if status, out := postJSON(t, base+"/generate_response", `{"submission":{"model_id":"offline-demo","text":"hi"}}`); status != 409 || out["error"].(map[string]any)["code"] != "model_contained" {
		t.Errorf("generate with contained model: %d %v", status, out)
	}
	if status, r := admin.json("POST", "/api/v1/scans/containment/"+catScan+"/release", ""); status != 200 || r["contained"] != false {
		t.Fatalf("release: %d %v", status, r)
	}
	if status, _ := postJSON(t, base+"/generate_response", `{"submission":{"model_id":"offline-demo","text":"hi"}}`); status != 200 {
		t.Errorf("generate after release: %d", status)
	}

	// The owner contains the artifact: no download and no rescan until released.
	if status, _ := user.json("POST", "/api/v1/scans/containment/"+artScan, ""); status != 200 {
		t.Fatalf("contain artifact: %d", status)
	}
	if status, _, _ := user.do("GET", "/api/v1/artifacts/"+art["artifact_id"].(string)+"/download", nil, ""); status != 409 {
		t.Errorf("download of a contained artifact: %d", status)
	}
	if status, _ := user.json("POST", "/api/v1/scans/analyze", `{"target":{"kind":"artifact","artifact_id":"`+art["artifact_id"].(string)+`"}}`); status != 409 {
		t.Errorf("rescan of a contained artifact: %d", status)
	}
	user.json("POST", "/api/v1/scans/containment/"+artScan+"/release", "")
	status, _, hdr := user.do("GET", "/api/v1/artifacts/"+art["artifact_id"].(string)+"/download", nil, "")
	if status != 200 || hdr.Get("X-Content-SHA256") != art["sha256"] {
		t.Errorf("download after release: %d", status)
	}

	// Metrics.
	status, m := user.json("GET", "/api/v1/scans/metrics", "")
	if status != 200 || m["scans_total"].(float64) < 4 || m["findings_total"].(float64) == 0 || m["mean_time_to_detect_seconds"] == nil ||
		m["mean_time_to_contain_seconds"] == nil || len(m["risk_by_target"].([]any)) == 0 {
		t.Errorf("metrics: %d %v", status, m)
	}

	// Pagination walks every finding once.
	seen := map[string]bool{}
	cursor := ""
	for range 100 {
		status, page := user.json("GET", "/api/v1/scans/vulnerabilities?limit=7&cursor="+cursor, "")
		if status != 200 {
			t.Fatalf("page: %d %v", status, page)
		}
		for _, it := range page["items"].([]any) {
			id := it.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("finding %s on two pages", id)
			}
			seen[id] = true
		}
		next, _ := page["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if float64(len(seen)) != m["findings_total"].(float64) {
		t.Errorf("paged %d findings, metrics count %v", len(seen), m["findings_total"])
	}

	// The workers on /metrics.
	resp, err := httpClient.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	prom, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"mirror_scans_completed_total", "mirror_scan_queue_depth 0", "mirror_scans_running 0"} {
		if !bytes.Contains(prom, []byte(want)) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// Logout revokes the token.
	if status, _ := user.json("POST", "/api/v1/auth/logout", ""); status != 204 {
		t.Errorf("logout: %d", status)
	}
	if status, _ := user.json("GET", "/api/v1/auth/me", ""); status != 401 {
		t.Errorf("after logout: %d", status)
	}
}

// TestSessionCookieNeedsCSRF: a browser session works with the cookie, and its
// writes need the CSRF token.
func TestSessionCookieNeedsCSRF(t *testing.T) {
	base, stop := startServe(t, scanEnv(t))
	defer stop()
	signUp(t, base, "cookie@example.com")
	resp, err := httpClient.Post(base+"/api/v1/auth/login", "application/x-www-form-urlencoded",
		strings.NewReader("username=cookie%40example.com&password=correct+horse+battery"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session, csrf *http.Cookie
	for _, ck := range resp.Cookies() {
		switch ck.Name {
		case "mirror_session":
			session = ck
		case "mirror_csrf":
			csrf = ck
		}
	}
	if resp.StatusCode != 200 || session == nil || csrf == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode {
		t.Fatalf("form login: %d cookies %v", resp.StatusCode, resp.Cookies())
	}
	// The same form, multipart-encoded (FastAPI's OAuth2 form takes both).
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	mw.WriteField("username", "cookie@example.com")
	mw.WriteField("password", "correct horse battery")
	mw.Close()
	mresp, err := httpClient.Post(base+"/api/v1/auth/login", mw.FormDataContentType(), &mp)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(mresp.Body).Decode(&tok)
	mresp.Body.Close()
	if mresp.StatusCode != 200 || tok.AccessToken == "" {
		t.Errorf("multipart form login: %d, token %q", mresp.StatusCode, tok.AccessToken)
	}
	req := func(method, path, body string, withCSRF bool) int {
		r, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.AddCookie(session)
		if withCSRF {
			r.Header.Set("X-CSRF-Token", csrf.Value)
		}
		resp, err := httpClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := req("GET", "/api/v1/auth/me", "", false); got != 200 {
		t.Errorf("cookie read: %d", got)
	}
	body := `{"target":{"kind":"catalog_model","model_id":"offline-demo"},"scan_types":["jailbreak"],"options":{"max_requests":3}}`
	if got := req("POST", "/api/v1/scans/analyze", body, false); got != 403 {
		t.Errorf("cookie write without CSRF token: %d", got)
	}
	if got := req("POST", "/api/v1/scans/analyze", body, true); got != 202 {
		t.Errorf("cookie write with CSRF token: %d", got)
	}
}

// TestMirrorScanAcrossInstancesOnPostgres: two instances share one Postgres (one
// through the transaction pooler); B runs no workers, so a scan asked of B runs on
// A and is streamed live from B, and a containment made on one is enforced by the
// other.
func TestMirrorScanAcrossInstancesOnPostgres(t *testing.T) {
	direct := testenv.PostgresDB(t, false)
	pooled := direct
	if pgb := os.Getenv("MIRROR_TEST_PGBOUNCER_URL"); pgb != "" {
		pooled = strings.Replace(direct, testenvPort(direct), testenvPort(pgb), 1)
	}
	envA := scanEnv(t)
	envA["DATABASE_URL"], envA["DATABASE_DIRECT_URL"], envA["SECRET_KEY"] = pooled, direct, "shared-secret-for-both-instances-0123456789"
	envB := scanEnv(t)
	envB["DATABASE_URL"], envB["SECRET_KEY"], envB["SCAN_WORKERS"] = direct, envA["SECRET_KEY"], "0"
	baseA, stopA := startServe(t, envA)
	defer stopA()
	baseB, stopB := startServe(t, envB)
	defer stopB()

	adminA := signUp(t, baseA, "admin@example.com")
	grantAdmin(t, envA, "admin@example.com")
	adminB := &client{t: t, base: baseB, token: adminA.token}
	victim := llmtest.NewOpenAIServer(t, probetest.New(probetest.All).Handle)
	id := adminB.startScan(`{"target":{"kind":"endpoint","url":"` + victim.BaseURL + `","model":"victim","api_key":"` + victim.Key + `"},"options":{"seed":1}}`)
	if names := adminB.events(id); len(names) == 0 || names[len(names)-1] != "done" {
		t.Fatalf("stream from the other instance: %v", names)
	}
	if st := adminB.wait(id); st["status"] != "completed" || st["findings_count"].(float64) == 0 {
		t.Fatalf("scan: %v", st)
	}

	cat := adminB.startScan(`{"target":{"kind":"catalog_model","model_id":"offline-demo"},"scan_types":["jailbreak"],"options":{"max_requests":5}}`)
	adminB.wait(cat)
	if status, _ := adminA.json("POST", "/api/v1/scans/containment/"+cat, ""); status != 200 {
		t.Fatalf("contain on A: %d", status)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, out := postJSON(t, baseB+"/generate_response", `{"submission":{"model_id":"offline-demo","text":"hi"}}`)
		if status == 409 && out["error"].(map[string]any)["code"] == "model_contained" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance B still serves the contained model: %d %v", status, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	adminB.json("POST", "/api/v1/scans/containment/"+cat+"/release", "")
}

// TestUploadLimit: an upload over MAX_UPLOAD_BYTES is 413 whether or not it
// declares its length, and leaves nothing on disk.
func TestUploadLimit(t *testing.T) {
	env := scanEnv(t)
	env["MAX_UPLOAD_BYTES"] = "1000"
	base, stop := startServe(t, env)
	defer stop()
	c := signUp(t, base, "up@example.com")
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "big.bin")
	fw.Write(bytes.Repeat([]byte{7}, 5000))
	mw.Close()
	for _, chunked := range []bool{false, true} {
		var r io.Reader = bytes.NewReader(body.Bytes())
		if chunked {
			r = io.MultiReader(r) // hides the length: sent chunked
		}
		status, out, _ := c.do("POST", "/api/v1/artifacts", r, mw.FormDataContentType())
		if status != 413 || out["error"].(map[string]any)["code"] != "payload_too_large" {
			t.Errorf("chunked=%v: %d %v", chunked, status, out)
		}
	}
	left, _ := filepath.Glob(filepath.Join(env["MIRROR_DATA_DIR"], "artifacts", "*"))
	if len(left) != 0 {
		t.Errorf("files left behind: %v", left)
	}
	// A small one is stored, and the JSON routes keep their own cap.
	if art := c.upload("small.bin", []byte("ok")); art["size"].(float64) != 2 {
		t.Errorf("small upload: %v", art)
	}
}

// TestLoginRateLimitHeaders: a login refused by RATE_LIMIT_LOGIN answers 429 with its
// own Retry-After, and not the RateLimit headers of the /api/v1 limit, which
// admitted the request and would tell the client it had room left.
func TestLoginRateLimitHeaders(t *testing.T) {
	env := scanEnv(t)
	// Limits are fixed windows: a day's window is not crossed within the test
	// (a minute's was, now and then, and the third attempt passed).
	env["RATE_LIMIT_LOGIN"] = "2/day"
	base, stop := startServe(t, env)
	defer stop()
	var resp *http.Response
	for range 3 {
		r, err := httpClient.Post(base+"/api/v1/auth/login", "application/json",
			strings.NewReader(`{"email":"nobody@example.com","password":"wrong password"}`))
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		resp = r
	}
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third login: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if rl := resp.Header.Get("RateLimit"); rl != "" {
		t.Errorf("429 carries the admitting limit's RateLimit %q", rl)
	}
}
