package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mirror/internal/testenv"
)

// TestMain lets the test binary act as `mirror` in a child process, so crash tests
// can SIGKILL a real server without building a separate binary. The child handles
// SIGINT and SIGTERM as main does, so tests can also stop it gracefully.
func TestMain(m *testing.M) {
	if args := os.Getenv("MIRROR_TEST_CHILD_ARGS"); args != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, strings.Fields(args), os.Getenv, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	code := m.Run()
	if drift := openAPIDrift(); len(drift) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d responses that openapi.json does not describe:\n%s\n", len(drift), strings.Join(drift, "\n"))
		code = 1
	}
	os.Exit(code)
}

type child struct {
	cmd  *exec.Cmd
	base string
	logs *syncBuffer
}

func startChild(t *testing.T, env map[string]string) *child {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "MIRROR_TEST_CHILD_ARGS=serve", "PORT="+port)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, base: "http://127.0.0.1:" + port, logs: logs}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if status, _ := tryGet(c.base + "/health"); status == 200 {
			return c
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("child did not start:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tryGet(url string) (int, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// acked records what the server acknowledged with a 2xx.
type acked struct {
	mu       sync.Mutex
	feedback map[string][]string // generation id → feedback ids
}

func (a *acked) add(gen, fb string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.feedback[gen]; !ok {
		a.feedback[gen] = nil
	}
	if fb != "" {
		a.feedback[gen] = append(a.feedback[gen], fb)
	}
}

// load posts generations and thumbs until stop closes, recording acknowledgements.
// Errors are expected: the server is being killed under it.
func load(base string, a *acked, stop <-chan struct{}, workers int) *sync.WaitGroup {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				status, g, err := postQuiet(base+"/generate_response", fmt.Sprintf(`{"submission":{"model_id":"offline-demo","text":"w%d-%d"}}`, w, i))
				if err != nil || status != 200 {
					continue
				}
				id, _ := g["generation_id"].(string)
				a.add(id, "")
				status, fb, err := postQuiet(base+"/feedback/thumb", `{"generation_id":"`+id+`","thumb":"up"}`)
				if err == nil && status == 201 {
					a.add(id, fb["feedback_id"].(string))
				}
			}
		}()
	}
	return &wg
}

func crashRounds(t *testing.T, env map[string]string) {
	env["RATE_LIMIT_GENERATE"] = "1000000/second"
	env["RATE_LIMIT_FEEDBACK_THUMB"] = "1000000/second"
	a := &acked{feedback: map[string][]string{}}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 4 {
		c := startChild(t, env)
		stop := make(chan struct{})
		wg := load(c.base, a, stop, 8)
		time.Sleep(time.Duration(150+rng.IntN(350)) * time.Millisecond)
		if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		c.cmd.Wait()
		close(stop)
		wg.Wait()
		t.Logf("round %d: %d generations acknowledged so far", round, len(a.feedback))
	}
	if len(a.feedback) == 0 {
		t.Fatal("no write was acknowledged: the load did not reach the server")
	}
	c := startChild(t, env)
	defer func() { c.cmd.Process.Signal(syscall.SIGTERM); c.cmd.Wait() }()
	for gen, fbs := range a.feedback {
		status, stored := getJSON(t, c.base+"/generations/"+gen)
		if status != 200 {
			t.Errorf("acknowledged generation %s lost after SIGKILL: %d", gen, status)
			continue
		}
		have := map[string]bool{}
		for _, f := range stored["feedback"].([]any) {
			have[f.(map[string]any)["feedback_id"].(string)] = true
		}
		for _, fb := range fbs {
			if !have[fb] {
				t.Errorf("acknowledged feedback %s of generation %s lost after SIGKILL", fb, gen)
			}
		}
	}
}

// TestCrashKeepsAcknowledgedWritesSQLite: SIGKILL at random moments under
// concurrent load never loses a write that got a 2xx.
func TestCrashKeepsAcknowledgedWritesSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: skipped in -short")
	}
	crashRounds(t, map[string]string{"MIRROR_DATA_DIR": filepath.Join(t.TempDir(), "data")})
}

func TestCrashKeepsAcknowledgedWritesPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: skipped in -short")
	}
	crashRounds(t, map[string]string{"MIRROR_DATA_DIR": t.TempDir(), "DATABASE_URL": testenv.PostgresDB(t, false)})
}
