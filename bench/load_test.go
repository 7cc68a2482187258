package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mirror/internal/inmem"
	"mirror/internal/llm/llmtest"
	"mirror/internal/storetest"
)

// loadConcurrency are the closed-loop client counts of BenchmarkLoad: 1 for the
// latency of an idle server, 16 for throughput and latency under load (on 2 cores,
// 16 is well past saturation for every route).
var loadConcurrency = []int{1, 16}

// loadCase is one route under load.
type loadCase struct {
	name   string
	method string
	url    string
	// body returns the i-th request's body ("" for none).
	body func(i int) string
	want int // expected status
}

// bareJSON is the ceiling: a trivial net/http JSON handler that reads the body, if
// any, and answers a small JSON object. Nothing a real server does can be faster.
func bareJSON() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			var v map[string]any
			if err := json.NewDecoder(r.Body).Decode(&v); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}` + "\n"))
	})
}

// seedGenerations posts n generations to a Mirror server and returns their ids, for
// feedback requests to point at.
func seedGenerations(b *testing.B, base string, n int) []string {
	b.Helper()
	ids := make([]string, 0, n)
	for range n {
		resp, err := client.Post(base+"/generate_response", "application/json", bytes.NewReader([]byte(body)))
		if err != nil {
			b.Fatal(err)
		}
		var out struct {
			GenerationID string `json:"generation_id"`
			Persisted    bool   `json:"persisted"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || !out.Persisted {
			b.Fatalf("seed generation: %d %+v %v", resp.StatusCode, out, err)
		}
		ids = append(ids, out.GenerationID)
	}
	return ids
}

func loadCases(b *testing.B) []loadCase {
	fake := llmtest.NewOpenAIServer(b, llmtest.Text("Mirrors reflect light."))
	serve := func(h http.Handler) string {
		s := httptest.NewServer(h)
		b.Cleanup(s.Close)
		return s.URL
	}
	gen := func(int) string { return body }
	thumbs := func(ids []string) func(int) string {
		return func(i int) string {
			return `{"generation_id":"` + ids[i%len(ids)] + `","thumb":"up"}`
		}
	}
	bare := serve(bareJSON())
	proxy := serve(bareProxy(fake.BaseURL, fake.Key))
	nopersist := serve(mirrorServer(b, fake.BaseURL, fake.Key, inmem.New(1<<20, time.Hour), false))
	sqlite := serve(mirrorServer(b, fake.BaseURL, fake.Key, storetest.Open(b, "sqlite://"+filepath.Join(b.TempDir(), "load.db")), true))
	cs := []loadCase{
		{"ceiling/GET", "GET", bare + "/", nil, 200},
		{"ceiling/POST", "POST", bare + "/", gen, 200},
		{"bare-proxy/generate", "POST", proxy + "/generate_response", gen, 200},
		{"models", "GET", nopersist + "/models", nil, 200},
		{"generate/nopersist", "POST", nopersist + "/generate_response", gen, 200},
		{"generate/sqlite", "POST", sqlite + "/generate_response", gen, 200},
		{"thumb/sqlite", "POST", sqlite + "/feedback/thumb", thumbs(seedGenerations(b, sqlite, 256)), 201},
	}
	if pg := testenvPostgres(b); pg != "" {
		postgres := serve(mirrorServer(b, fake.BaseURL, fake.Key, storetest.Open(b, pg), true))
		cs = append(cs,
			loadCase{"generate/postgres", "POST", postgres + "/generate_response", gen, 200},
			loadCase{"thumb/postgres", "POST", postgres + "/feedback/thumb", thumbs(seedGenerations(b, postgres, 256)), 201})
	}
	return cs
}

// do sends one request and returns its latency; any transport error or unexpected
// status fails the benchmark (a failed request would flatter the figures).
func (c loadCase) do(i int) (time.Duration, error) {
	var rd io.Reader
	if c.body != nil {
		rd = bytes.NewReader([]byte(c.body(i)))
	}
	req, err := http.NewRequest(c.method, c.url, rd)
	if err != nil {
		return 0, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != c.want {
		return 0, fmt.Errorf("%s: status %d, want %d", c.name, resp.StatusCode, c.want)
	}
	return d, nil
}

// closedLoop sends n requests from c clients, each sending its next request when
// its last one is answered, and returns every latency and the wall time.
func closedLoop(b *testing.B, lc loadCase, n, c int) ([]time.Duration, time.Duration) {
	var next atomic.Int64
	lats := make([][]time.Duration, c)
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	start := time.Now()
	for w := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := make([]time.Duration, 0, n/c+1)
			for {
				i := int(next.Add(1)) - 1
				if i >= n || failed.Load() != nil {
					break
				}
				d, err := lc.do(i)
				if err != nil {
					failed.CompareAndSwap(nil, &err)
					break
				}
				own = append(own, d)
			}
			lats[w] = own
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	return all, wall
}

// BenchmarkLoad is bounded closed-loop load on 127.0.0.1: b.N requests per case from
// 1 and from 16 concurrent clients, against the ceiling (a bare net/http JSON
// handler), the bare forwarding proxy, and Mirror's GET /models, POST
// /generate_response (persistence off, SQLite, Postgres) and POST /feedback/thumb
// (SQLite, Postgres), all in this process and this run. Mirror runs with rate limits
// off (they would measure the limiter) and the instant fake OpenAI provider. Each
// case reports req/s, p50-µs and p99-µs, and x_ceiling: its req/s over the ceiling's
// at the same concurrency and method, measured just before it; the generate cases
// also report x_proxy, their req/s over the bare proxy's.
//
//	go test ./bench -run '^$' -bench Load -benchtime 1s -count 3
func BenchmarkLoad(b *testing.B) {
	cases := loadCases(b)
	for _, c := range loadConcurrency {
		ceiling := map[string]float64{} // method → req/s of the ceiling
		var proxy float64               // req/s of the bare proxy
		for _, lc := range cases {
			b.Run(fmt.Sprintf("%s/c=%d", lc.name, c), func(b *testing.B) {
				for i := range 2 * c { // warm connections, caches and the database
					if _, err := lc.do(i); err != nil {
						b.Fatal(err)
					}
				}
				b.ResetTimer()
				lat, wall := closedLoop(b, lc, b.N, c)
				b.StopTimer()
				rps := float64(len(lat)) / wall.Seconds()
				b.ReportMetric(rps, "req/s")
				b.ReportMetric(float64(percentile(lat, 0.50).Microseconds()), "p50-µs")
				b.ReportMetric(float64(percentile(lat, 0.99).Microseconds()), "p99-µs")
				if lc.name == "ceiling/"+lc.method {
					ceiling[lc.method] = rps
				} else if base, ok := ceiling[lc.method]; ok {
					b.ReportMetric(rps/base, "x_ceiling")
				}
				switch {
				case lc.name == "bare-proxy/generate":
					proxy = rps
				case strings.HasPrefix(lc.name, "generate/") && proxy > 0:
					b.ReportMetric(rps/proxy, "x_proxy")
				}
			})
		}
	}
}
