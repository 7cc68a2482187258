package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mirror/internal/testenv"
)

// syncBuffer is a bytes.Buffer safe to write from the server while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

// startServe runs `mirror serve` in-process until the returned stop is called, which
// sends the equivalent of SIGTERM and waits for a clean exit.
func startServe(t *testing.T, env map[string]string) (base string, stop func()) {
	t.Helper()
	port := freePort(t)
	env["PORT"] = port
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, logs, logs) }()
	base = "http://127.0.0.1:" + port
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/health")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d:\n%s", code, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not start:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return base, func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited with %d:\n%s", code, logs.String())
		}
	}
}

// httpClient bounds every test request, so a wedged server fails a test instead of
// hanging it.
var httpClient = &http.Client{Timeout: 30 * time.Second}

func postQuiet(url, body string) (int, map[string]any, error) {
	resp, err := httpClient.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return resp.StatusCode, nil, err
	}
	return resp.StatusCode, out, nil
}

func postJSON(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	status, out, err := postQuiet(url, body)
	if err != nil {
		t.Fatal(err)
	}
	return status, out
}

func getJSON(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := httpClient.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestServeFreshMachine is the README's first command as a new user meets it: no
// configuration, the offline demo, and everything still there after a restart.
func TestServeFreshMachine(t *testing.T) {
	env := map[string]string{"MIRROR_DATA_DIR": filepath.Join(t.TempDir(), "data")}
	base, stop := startServe(t, env)

	_, models := getJSON(t, base+"/models")
	if models["default_model_id"] != "offline-demo" {
		t.Fatalf("models: %v", models)
	}
	status, gen := postJSON(t, base+"/generate_response", `{"submission":{"model_id":"offline-demo","text":"hello mirror"}}`)
	if status != 200 {
		t.Fatalf("generate: %d %v", status, gen)
	}
	id := gen["generation_id"].(string)
	if status, _ := postJSON(t, base+"/feedback/thumb", `{"generation_id":"`+id+`","thumb":"down"}`); status != 201 {
		t.Fatalf("thumb: %d", status)
	}
	if status, _ := postJSON(t, base+"/feedback/edit", `{"generation_id":"`+id+`","edited_response":"fixed"}`); status != 201 {
		t.Fatalf("edit: %d", status)
	}
	stop()

	base, stop = startServe(t, env)
	defer stop()
	status, stored := getJSON(t, base+"/generations/"+id)
	if status != 200 || stored["response"] != gen["response"] || len(stored["feedback"].([]any)) != 2 {
		t.Fatalf("after restart: %d %v", status, stored)
	}
}

func TestProductionRefusesToStart(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"RUN_MODE": "prod"}, "SECRET_KEY"},
		{map[string]string{"ENVIRONMENT": "production", "SECRET_KEY": "your-secret-key"}, "SECRET_KEY"},
		// A good secret, but the default model (gpt-5-nano) has no OpenAI key.
		{map[string]string{"RUN_MODE": "prod", "SECRET_KEY": "k3Jq9vX2mP8rT5wZ1yB4nC7fH0dL6sAe"}, "default model"},
	}
	for _, tt := range tests {
		tt.env["MIRROR_DATA_DIR"] = t.TempDir()
		tt.env["PORT"] = freePort(t)
		var out bytes.Buffer
		code := run(context.Background(), []string{"serve"}, func(k string) string { return tt.env[k] }, &out, &out)
		if code == 0 || !strings.Contains(out.String(), tt.want) {
			t.Errorf("%v: exit %d, output %q; want failure mentioning %s", tt.env, code, out.String(), tt.want)
		}
		if s := tt.env["SECRET_KEY"]; s != "" && strings.Contains(out.String(), s) {
			t.Errorf("the secret was echoed: %q", out.String())
		}
	}
}

func TestMigrateAndVersion(t *testing.T) {
	env := map[string]string{"DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "x.db")}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"migrate", "up"}, func(k string) string { return env[k] }, &out, &out); code != 0 {
		t.Fatalf("migrate: %d %s", code, out.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"version"}, func(string) string { return "" }, &out, &out); code != 0 || !strings.HasPrefix(out.String(), "mirror ") {
		t.Fatalf("version: %d %q", code, out.String())
	}
	if code := run(context.Background(), []string{"bogus"}, func(string) string { return "" }, &out, &out); code != 2 {
		t.Fatalf("unknown command exit %d", code)
	}
}

// TestServePostgresThroughPooler is the same flow on Postgres, as on Supabase: the
// app through a transaction pooler, migrations over the direct URL.
func TestServePostgresThroughPooler(t *testing.T) {
	direct := testenv.PostgresDB(t, false)
	pooled := strings.Replace(direct, testenvPort(direct), testenvPort(os.Getenv("MIRROR_TEST_PGBOUNCER_URL")), 1)
	if os.Getenv("MIRROR_TEST_PGBOUNCER_URL") == "" {
		pooled = direct
	}
	env := map[string]string{
		"MIRROR_DATA_DIR":     t.TempDir(),
		"DATABASE_URL":        "postgresql+asyncpg://" + strings.TrimPrefix(pooled, "postgres://"),
		"DATABASE_DIRECT_URL": direct,
	}
	base, stop := startServe(t, env)
	status, g := postJSON(t, base+"/generate_response", `{"submission":{"model_id":"offline-demo","text":"on postgres"}}`)
	if status != 200 {
		t.Fatalf("generate: %d %v", status, g)
	}
	id := g["generation_id"].(string)
	if status, _ := postJSON(t, base+"/feedback/thumb", `{"generation_id":"`+id+`","thumb":"up"}`); status != 201 {
		t.Fatalf("thumb: %d", status)
	}
	stop()
	base, stop = startServe(t, env)
	defer stop()
	if status, stored := getJSON(t, base+"/generations/"+id); status != 200 || len(stored["feedback"].([]any)) != 1 {
		t.Fatalf("after restart: %d %v", status, stored)
	}
}

func testenvPort(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return ":" + parsed.Port()
}
