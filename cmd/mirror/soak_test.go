package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"mirror/internal/llm/llmtest"
	"mirror/internal/scan/probe/probetest"
)

const soakCatalog = `models:
  default:
    default_model: soak
  catalog:
    soak:
      display_name: Soak
      provider: openai
      litellm_route: openai/soak-model
      available: true
`

// soakSample is one reading of the server's /metrics.
type soakSample struct {
	at         time.Duration
	goroutines float64
	heapInuse  float64
	rss        float64
	requests   float64 // mirror_http_requests_total, all routes
	// latency sums and counts (mirror_http_request_duration_seconds) of the
	// routes watched, by "METHOD route"
	latSum, latCount map[string]float64
}

// soakRoutes are the routes whose mean latency the soak prints per interval.
var soakRoutes = []string{"POST /generate_response", "POST /feedback/thumb", "POST /api/v1/scans/analyze"}

// routeKey returns "METHOD route" of a labelled sample name, or "".
func routeKey(name string) string {
	route := labelValue(name, "route")
	method := labelValue(name, "method")
	if route == "" || method == "" {
		return ""
	}
	return method + " " + route
}

func labelValue(name, label string) string {
	_, rest, ok := strings.Cut(name, label+`="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

// readMetrics reads the gauges the soak watches from a Prometheus text page.
func readMetrics(base string) (soakSample, error) {
	resp, err := httpClient.Get(base + "/metrics")
	if err != nil {
		return soakSample{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return soakSample{}, fmt.Errorf("/metrics: %d", resp.StatusCode)
	}
	s := soakSample{latSum: map[string]float64{}, latCount: map[string]float64{}}
	found := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			continue
		}
		switch {
		case name == "go_goroutines":
			s.goroutines, found = v, found+1
		case name == "go_memstats_heap_inuse_bytes":
			s.heapInuse, found = v, found+1
		case name == "process_resident_memory_bytes":
			s.rss, found = v, found+1
		case strings.HasPrefix(name, "mirror_http_requests_total{"):
			s.requests += v
		case strings.HasPrefix(name, "mirror_http_request_duration_seconds_sum{"):
			s.latSum[routeKey(name)] += v
		case strings.HasPrefix(name, "mirror_http_request_duration_seconds_count{"):
			s.latCount[routeKey(name)] += v
		}
	}
	if found != 3 {
		return s, fmt.Errorf("/metrics lacks go_goroutines, go_memstats_heap_inuse_bytes or process_resident_memory_bytes")
	}
	return s, sc.Err()
}

func mean(xs []soakSample, f func(soakSample) float64) float64 {
	var sum float64
	for _, x := range xs {
		sum += f(x)
	}
	return sum / float64(len(xs))
}

// soakCounts are the requests the load made, by outcome.
type soakCounts struct {
	generations, streamed, thumbs, edits, reads, notFound, scans atomic.Int64
	failures                                                     atomic.Int64
	mu                                                           sync.Mutex
	firstFailure                                                 string
}

func (c *soakCounts) fail(format string, args ...any) {
	if c.failures.Add(1) == 1 {
		c.mu.Lock()
		c.firstFailure = fmt.Sprintf(format, args...)
		c.mu.Unlock()
	}
}

// soakView is one MirrorView client's loop: a generation (every fifth streamed),
// a thumb, now and then an edit, a read back and a lookup of an unknown id.
func soakView(base string, w int, stop <-chan struct{}, n *soakCounts) {
	tick := time.NewTicker(20 * time.Millisecond) // at most 50 iterations/s per client
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		body := fmt.Sprintf(`{"submission":{"model_id":"soak","text":"soak %d-%d","session_id":"s%d"}}`, w, i, w)
		if i%5 == 4 {
			req, _ := http.NewRequest("POST", base+"/generate_response", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "text/event-stream")
			resp, err := httpClient.Do(req)
			if err != nil {
				n.fail("stream: %v", err)
				continue
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(raw), "event: done") {
				n.fail("stream: %d %q", resp.StatusCode, raw)
				continue
			}
			n.streamed.Add(1)
			continue
		}
		status, g, err := postQuiet(base+"/generate_response", body)
		if err != nil || status != 200 {
			n.fail("generate: %d %v %v", status, g, err)
			continue
		}
		n.generations.Add(1)
		id, _ := g["generation_id"].(string)
		if status, out, err := postQuiet(base+"/feedback/thumb", `{"generation_id":"`+id+`","thumb":"down"}`); err != nil || status != 201 {
			n.fail("thumb: %d %v %v", status, out, err)
		} else {
			n.thumbs.Add(1)
		}
		if i%10 == 0 {
			if status, out, err := postQuiet(base+"/feedback/edit", `{"generation_id":"`+id+`","edited_response":"better"}`); err != nil || status != 201 {
				n.fail("edit: %d %v %v", status, out, err)
			} else {
				n.edits.Add(1)
			}
			if status, err := tryGet(base + "/generations/" + id); err != nil || status != 200 {
				n.fail("read back: %d %v", status, err)
			} else {
				n.reads.Add(1)
			}
			if status, err := tryGet(base + "/generations/00000000-0000-4000-8000-000000000000"); err != nil || status != 404 {
				n.fail("unknown generation: %d %v", status, err)
			} else {
				n.notFound.Add(1)
			}
		}
	}
}

// soakDo sends one MirrorScan request with token and decodes a JSON answer; it
// never touches the test (it runs off the test goroutine).
func soakDo(method, url, token, body string) (int, map[string]any, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	err = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, err
}

// soakFollow reads a scan's status stream to its done event.
func soakFollow(base, token, id string) error {
	req, _ := http.NewRequest("GET", base+"/api/v1/scans/status/"+id, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if sc.Text() == "event: done" {
			return nil
		}
	}
	return fmt.Errorf("stream of scan %s ended without a done event (status %d): %v", id, resp.StatusCode, sc.Err())
}

// soakScans starts endpoint scans one after another, following each live on its
// status stream, until stop.
func soakScans(base, token string, victim *llmtest.Server, fresh func(), stop <-chan struct{}, n *soakCounts) {
	body := `{"target":{"kind":"endpoint","url":"` + victim.BaseURL + `","model":"victim","api_key":"` + victim.Key + `"},"options":{"seed":5}}`
	for {
		select {
		case <-stop:
			return
		default:
		}
		fresh()
		status, out, err := soakDo("POST", base+"/api/v1/scans/analyze", token, body)
		if err != nil || status != 202 {
			n.fail("analyze: %d %v %v", status, out, err)
			time.Sleep(time.Second)
			continue
		}
		id := out["scan_id"].(string)
		if err := soakFollow(base, token, id); err != nil {
			n.fail("%v", err)
		}
		status, st, err := soakDo("GET", base+"/api/v1/scans/status/"+id, token, "")
		if err != nil || status != 200 || st["status"] != "completed" {
			n.fail("scan %s after its done event: %d %v %v", id, status, st, err)
			continue
		}
		n.scans.Add(1)
	}
}

// TestSoak runs steady generation, feedback and scan load against a child `mirror
// serve` on SQLite for MIRROR_SOAK (e.g. MIRROR_SOAK=2m), sampling the child's
// /metrics every few seconds, and fails if goroutines or heap keep growing: the mean
// of the last third of the samples may exceed the middle third's by at most 25% + 25
// goroutines and 50% + 16 MiB of heap in use. The first third is warm-up. Every
// request must succeed, and the server must then stop cleanly on SIGTERM.
//
//	MIRROR_SOAK=2m go test ./cmd/mirror -run TestSoak -count=1 -v -timeout 10m
func TestSoak(t *testing.T) {
	spec := os.Getenv("MIRROR_SOAK")
	if spec == "" {
		t.Skip("soak test: set MIRROR_SOAK to a duration (e.g. MIRROR_SOAK=2m) to run it")
	}
	dur, err := time.ParseDuration(spec)
	if err != nil || dur < 15*time.Second {
		t.Fatalf("MIRROR_SOAK=%q: want a duration of at least 15s", spec)
	}
	every := min(max(dur/24, time.Second), 5*time.Second)

	provider := llmtest.NewOpenAIServer(t, llmtest.Text("Mirrors reflect light back at the viewer."))
	// A fresh scripted model per scan: one model's memory of earlier conversations
	// grows without bound, which would slow the test process, not the server.
	var model atomic.Pointer[probetest.Model]
	model.Store(probetest.New(probetest.All))
	victim := llmtest.NewOpenAIServer(t, func(req llmtest.ChatRequest) llmtest.Reply { return model.Load().Handle(req) })
	fresh := func() { model.Store(probetest.New(probetest.All)) }
	env := scanEnv(t)
	catalogPath := filepath.Join(t.TempDir(), "models.yaml")
	if err := os.WriteFile(catalogPath, []byte(soakCatalog), 0o600); err != nil {
		t.Fatal(err)
	}
	env["MODELS_CONFIG"] = catalogPath
	env["OPENAI_API_KEY"], env["OPENAI_BASE_URL"] = provider.Key, provider.BaseURL
	env["RATE_LIMIT_GENERATE"] = "1000000/second"
	env["RATE_LIMIT_FEEDBACK_THUMB"] = "1000000/second"
	env["RATE_LIMIT_FEEDBACK_EDIT"] = "1000000/second"
	env["LOG_LEVEL"] = "warn"
	c := startChild(t, env)
	stopped := false
	defer func() {
		if !stopped {
			c.cmd.Process.Kill()
			c.cmd.Wait()
		}
	}()
	idleBefore, err := readMetrics(c.base)
	if err != nil {
		t.Fatal(err)
	}
	user := signUp(t, c.base, "soak@example.com")

	n := &soakCounts{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() { soakView(c.base, w, stop, n) })
	}
	wg.Go(func() { soakScans(c.base, user.token, victim, fresh, stop, n) })

	var samples []soakSample
	start := time.Now()
	tick := time.NewTicker(every)
	for time.Since(start) < dur {
		<-tick.C
		s, err := readMetrics(c.base)
		if err != nil {
			n.fail("metrics: %v", err)
			continue
		}
		s.at = time.Since(start)
		samples = append(samples, s)
	}
	tick.Stop()
	close(stop)
	wg.Wait()

	httpClient.CloseIdleConnections()
	time.Sleep(2 * time.Second)
	idleAfter, err := readMetrics(c.base)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Wait(); err != nil {
		t.Errorf("server did not stop cleanly on SIGTERM: %v\n%s", err, c.logs.String())
	}
	stopped = true

	t.Logf("%-6s %10s %14s %10s %8s   mean latency in the interval, ms: %s", "t", "goroutines", "heap_inuse_MiB", "rss_MiB", "req/s",
		strings.Join(soakRoutes, " | "))
	for i, s := range samples {
		rate := 0.0
		var lat []string
		if i > 0 {
			p := samples[i-1]
			rate = (s.requests - p.requests) / (s.at - p.at).Seconds()
			for _, r := range soakRoutes {
				if n := s.latCount[r] - p.latCount[r]; n > 0 {
					lat = append(lat, fmt.Sprintf("%.2f", (s.latSum[r]-p.latSum[r])/n*1000))
				} else {
					lat = append(lat, "-")
				}
			}
		}
		t.Logf("%-6s %10.0f %14.1f %10.1f %8.0f   %s", s.at.Round(time.Second), s.goroutines, s.heapInuse/(1<<20), s.rss/(1<<20), rate, strings.Join(lat, " | "))
	}
	t.Logf("idle before: %.0f goroutines, %.1f MiB heap in use; idle after (client connections closed): %.0f goroutines, %.1f MiB heap in use",
		idleBefore.goroutines, idleBefore.heapInuse/(1<<20), idleAfter.goroutines, idleAfter.heapInuse/(1<<20))
	t.Logf("load: %d generations, %d streamed, %d thumbs, %d edits, %d reads, %d unknown-id lookups, %d scans; %d failures",
		n.generations.Load(), n.streamed.Load(), n.thumbs.Load(), n.edits.Load(), n.reads.Load(), n.notFound.Load(), n.scans.Load(), n.failures.Load())
	if f := n.failures.Load(); f > 0 {
		t.Errorf("%d requests failed under steady load; first: %s", f, n.firstFailure)
	}
	if n.scans.Load() == 0 || n.generations.Load() == 0 {
		t.Error("the load did not run")
	}
	if len(samples) < 6 {
		t.Fatalf("only %d samples", len(samples))
	}
	third := len(samples) / 3
	middle, last := samples[third:2*third], samples[len(samples)-third:]
	check := func(what string, f func(soakSample) float64, factor, slack float64, unit string, scale float64) {
		m, l := mean(middle, f), mean(last, f)
		t.Logf("%s: middle third mean %.1f%s, last third mean %.1f%s (limit %.1f%s)", what, m/scale, unit, l/scale, unit, (m*factor+slack)/scale, unit)
		if l > m*factor+slack {
			t.Errorf("%s keep growing: last third mean %.1f%s over the middle third's %.1f%s", what, l/scale, unit, m/scale, unit)
		}
	}
	check("goroutines", func(s soakSample) float64 { return s.goroutines }, 1.25, 25, "", 1)
	check("heap in use", func(s soakSample) float64 { return s.heapInuse }, 1.5, 16<<20, " MiB", 1<<20)
	m, l := mean(middle, func(s soakSample) float64 { return s.rss }), mean(last, func(s soakSample) float64 { return s.rss })
	t.Logf("resident memory (reported, not checked): middle third mean %.1f MiB, last third mean %.1f MiB", m/(1<<20), l/(1<<20))
}
