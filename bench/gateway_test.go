// Package bench measures Mirror against baselines measured in the same run. Nothing
// here asserts a duration: figures are reported as benchmark metrics, to be read as
// ratios (see docs/BENCHMARKS.md for the commands and the recorded figures).
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mirror/internal/catalog"
	"mirror/internal/feedback"
	"mirror/internal/generate"
	"mirror/internal/httpapi"
	"mirror/internal/inmem"
	"mirror/internal/llm"
	"mirror/internal/llm/llmtest"
	"mirror/internal/storetest"
	"mirror/internal/testenv"
)

const benchCatalog = `models:
  default:
    default_model: bench
  catalog:
    bench:
      display_name: Bench
      provider: openai
      litellm_route: openai/bench-model
      available: true
`

const body = `{"submission":{"model_id":"bench","text":"Say something short about mirrors."}}`

// chatRequest is what the bare proxy forwards: the OpenAI chat-completions body.
type chatRequest struct {
	Model    string        `json:"model"`
	Messages []llm.Message `json:"messages"`
}

// bareProxy is the practical floor of a gateway: decode the submission, forward it to
// the provider as a chat completion, decode the answer and relay the text.
func bareProxy(upstream, key string) http.Handler {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Submission struct {
				ModelID string `json:"model_id"`
				Text    string `json:"text"`
			} `json:"submission"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		b, _ := json.Marshal(chatRequest{Model: "bench-model", Messages: []llm.Message{{Role: "user", Content: in.Submission.Text}}})
		req, _ := http.NewRequestWithContext(r.Context(), "POST", upstream+"/chat/completions", bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		var out struct {
			Choices []struct {
				Message llm.Message `json:"message"`
			} `json:"choices"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Choices) == 0 {
			http.Error(w, "bad upstream", http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"response": out.Choices[0].Message.Content})
	})
}

// benchOptions are the API's options with the defaults of an empty environment that
// the measured routes read: any Host, a 64 KiB body, 30 s to read it.
var benchOptions = httpapi.Options{AllowedHosts: []string{"*"}, TrustedProxyHops: 1, CSPReportOnly: true,
	MaxRequestBodyBytes: 65536, MaxUploadBytes: 2 << 30, BodyReadTimeout: 30 * time.Second}

// mirrorServer is the real API over the given stores, rate limits off (they would
// measure the limiter, not the gateway), provider at the fake.
func mirrorServer(tb testing.TB, upstream, key string, store interface {
	generate.Store
	feedback.Store
}, persisted bool) http.Handler {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	cat, err := catalog.Parse([]byte(benchCatalog), "bench.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	providers := llm.NewRegistry(llm.Config{Keys: map[string]string{"openai": key}, BaseURLs: map[string]string{"openai": upstream}})
	models := catalog.NewService(cat, providers, noContainment{}, catalog.Options{})
	if err := models.ChooseDefault(ctx, true, log); err != nil {
		tb.Fatal(err)
	}
	return httpapi.New(httpapi.Deps{Options: benchOptions, Log: log, Catalog: models,
		Generate: generate.NewService(models, providers, store, persisted, log),
		Feedback: feedback.NewService(store, persisted)})
}

type noContainment struct{}

func (noContainment) ContainedModels(context.Context) ([]string, error) { return nil, nil }

// target is one way of answering a submission, on its own loopback listener.
type target struct {
	name string
	url  string // POST here
	body string
	auth string // bearer token: only the direct target talks to the provider itself
}

func targets(b *testing.B) []target {
	fake := llmtest.NewOpenAIServer(b, llmtest.Text("Mirrors reflect light."))
	direct := target{"direct", fake.BaseURL + "/chat/completions", `{"model":"bench-model","messages":[{"role":"user","content":"Say something short about mirrors."}]}`, fake.Key}
	serve := func(h http.Handler) string {
		s := httptest.NewServer(h)
		b.Cleanup(s.Close)
		return s.URL
	}
	ts := []target{
		direct,
		{"bare-proxy", serve(bareProxy(fake.BaseURL, fake.Key)) + "/generate_response", body, ""},
		{"mirror-nopersist", serve(mirrorServer(b, fake.BaseURL, fake.Key, inmem.New(1<<20, time.Hour), false)) + "/generate_response", body, ""},
		{"mirror-sqlite", serve(mirrorServer(b, fake.BaseURL, fake.Key, storetest.Open(b, "sqlite://"+filepath.Join(b.TempDir(), "b.db")), true)) + "/generate_response", body, ""},
	}
	if pg := testenvPostgres(b); pg != "" {
		ts = append(ts, target{"mirror-postgres", serve(mirrorServer(b, fake.BaseURL, fake.Key, storetest.Open(b, pg), true)) + "/generate_response", body, ""})
	}
	return ts
}

// testenvPostgres returns a fresh Postgres database URL, or "" (the Postgres row is
// then left out) when MIRROR_TEST_POSTGRES_URL is unset.
func testenvPostgres(b *testing.B) string {
	if os.Getenv("MIRROR_TEST_POSTGRES_URL") == "" {
		b.Log("MIRROR_TEST_POSTGRES_URL unset: no mirror-postgres row")
		return ""
	}
	return testenv.PostgresDB(b, false)
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxIdleConns: 512}}

func post(tb testing.TB, t target) time.Duration {
	start := time.Now()
	req, _ := http.NewRequest("POST", t.url, bytes.NewReader([]byte(t.body)))
	req.Header.Set("Content-Type", "application/json")
	if t.auth != "" {
		req.Header.Set("Authorization", "Bearer "+t.auth)
	}
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		tb.Fatalf("%s: status %d", t.name, resp.StatusCode)
	}
	return time.Since(start)
}

func percentile(d []time.Duration, p float64) time.Duration {
	slices.Sort(d)
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// The gateway benchmarks compare each target with its baselines interleaved, in
// the same seconds, because this machine's speed drifts by up to 2x within a
// minute: a baseline measured a few seconds apart made a ratio mostly noise.

// BenchmarkGatewayLatency is closed-loop load at concurrency 1. Each iteration sends
// one request to direct, one to the bare proxy and one to the target, so the three
// latency distributions share their moment. Added latency is a p50 minus direct's;
// x_proxy_added is the target's added p50 over the bare proxy's (the target: ≤ 1.2).
//
//	go test ./bench -run '^$' -bench GatewayLatency -benchtime 3000x
func BenchmarkGatewayLatency(b *testing.B) {
	ts := targets(b)
	direct, proxy := ts[0], ts[1]
	for _, t := range ts[2:] {
		b.Run(t.name, func(b *testing.B) {
			for range 50 { // warm connections and caches
				post(b, direct)
				post(b, proxy)
				post(b, t)
			}
			var dl, pl, tl []time.Duration
			b.ResetTimer()
			for range b.N {
				dl = append(dl, post(b, direct))
				pl = append(pl, post(b, proxy))
				tl = append(tl, post(b, t))
			}
			b.StopTimer()
			us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
			d50, p50, t50 := us(percentile(dl, 0.5)), us(percentile(pl, 0.5)), us(percentile(tl, 0.5))
			b.ReportMetric(t50, "p50-µs")
			b.ReportMetric(us(percentile(tl, 0.99)), "p99-µs")
			b.ReportMetric(t50-d50, "added-p50-µs")
			b.ReportMetric(p50-d50, "proxy-added-p50-µs")
			b.ReportMetric((t50-d50)/(p50-d50), "x_proxy_added")
		})
	}
	reportPeakRSS(b)
}

// BenchmarkGatewayThroughput is closed-loop load at concurrency c. The target's b.N
// requests are sent in bursts, each next to a burst of the same size to the bare
// proxy (alternating which goes first); x_proxy is the target's requests/s over the
// proxy's across those bursts (the target with persistence on: ≥ 0.5).
//
//	go test ./bench -run '^$' -bench GatewayThroughput -benchtime 5000x
func BenchmarkGatewayThroughput(b *testing.B) {
	ts := targets(b)
	proxy := ts[1]
	for _, t := range ts[2:] {
		for _, c := range []int{16, 64} {
			b.Run(fmt.Sprintf("%s/c=%d", t.name, c), func(b *testing.B) {
				burst := max(20*c, 500)
				var proxyTime, targetTime, proxyCPU, targetCPU time.Duration
				proxyN := 0
				timed := func(t target, n int, wall, cpu *time.Duration) {
					c0 := cpuTime()
					*wall += sendBurst(b, t, c, n)
					*cpu += cpuTime() - c0
				}
				b.ResetTimer()
				for i, left := 0, b.N; left > 0; i++ {
					n := min(burst, left)
					left -= n
					if i%2 == 0 {
						timed(proxy, n, &proxyTime, &proxyCPU)
						timed(t, n, &targetTime, &targetCPU)
					} else {
						timed(t, n, &targetTime, &targetCPU)
						timed(proxy, n, &proxyTime, &proxyCPU)
					}
					proxyN += n
				}
				b.StopTimer()
				rps, proxyRPS := float64(b.N)/targetTime.Seconds(), float64(proxyN)/proxyTime.Seconds()
				b.ReportMetric(rps, "req/s")
				b.ReportMetric(proxyRPS, "proxy-req/s")
				b.ReportMetric(rps/proxyRPS, "x_proxy")
				// CPU of the whole process (load generator and fake provider included)
				// per request: what a saturated machine divides its cores by.
				b.ReportMetric(float64(targetCPU.Microseconds())/float64(b.N), "cpu-µs/req")
				b.ReportMetric(float64(proxyCPU.Microseconds())/float64(proxyN), "proxy-cpu-µs/req")
			})
		}
	}
	reportPeakRSS(b)
}

// sendBurst sends n requests to t from c clients, each sending its next request as
// soon as its last is answered, and returns how long they took.
func sendBurst(b *testing.B, t target, c, n int) time.Duration {
	work := make(chan struct{}, n)
	for range n {
		work <- struct{}{}
	}
	close(work)
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Go(func() {
			for range work {
				post(b, t)
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportPeakRSS logs the process's peak resident memory: the load generator, the
// fake provider and every target together, so an upper bound on Mirror's own.
func reportPeakRSS(b *testing.B) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	for line := range strings.Lines(string(status)) {
		if strings.HasPrefix(line, "VmHWM:") {
			b.Logf("peak RSS of the whole benchmark process: %s", strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:")))
		}
	}
}
