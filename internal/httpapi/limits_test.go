package httpapi

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"mirror/internal/ratelimit"
	"mirror/internal/testenv"
)

func limiter(t *testing.T, name, spec string, store ratelimit.Store, opts ...ratelimit.Option) *ratelimit.Limiter {
	t.Helper()
	w, err := ratelimit.ParseSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ratelimit.New(name, w, store, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func withLimits(ts *testServer, l Limits) {
	ts.api.limits = l
	ts.api.handler = ts.api.routes()
}

// fixedClock keeps a test's requests in one window: on the wall clock, requests
// that straddle a minute's end would see a fresh fixed window and be admitted.
var fixedClock = ratelimit.WithClock(func() time.Time { return time.Date(2030, 1, 1, 12, 0, 30, 0, time.UTC) })

const thumbBody = `{"generation_id":"0193a4b2-0000-7000-8000-000000000000","thumb":"up"}`

func TestRateLimitedAnswer(t *testing.T) {
	ts := newTestServer(t, nil)
	withLimits(ts, Limits{FeedbackThumb: limiter(t, "feedback-thumb", "2/minute,10/hour", ratelimit.NewMemoryStore(100), fixedClock)})
	for i := range 2 {
		resp, _ := ts.do(t, "POST", "/feedback/thumb", thumbBody)
		if resp.StatusCode != 404 { // admitted: the generation is unknown
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
		if resp.Header.Get("RateLimit-Policy") == "" || resp.Header.Get("RateLimit") == "" {
			t.Errorf("admitted request lacks RateLimit headers: %v", resp.Header)
		}
	}
	resp, body := ts.do(t, "POST", "/feedback/thumb", thumbBody)
	e := checkEnvelope(t, resp, body, 429, "rate_limited")
	ra := resp.Header.Get("Retry-After")
	if ra == "" || ra == "0" {
		t.Errorf("Retry-After %q", ra)
	}
	// The body says how long to wait too, for clients that show the message.
	if msg := e["message"].(string); !strings.Contains(msg, "retry in "+ra+" second") {
		t.Errorf("429 message %q does not give the %s seconds of Retry-After", msg, ra)
	}
	if !strings.Contains(resp.Header.Get("RateLimit"), `"feedback-thumb-minute";r=0`) {
		t.Errorf("RateLimit %q", resp.Header.Get("RateLimit"))
	}
	// Other endpoints have their own limits.
	if resp, _ := ts.do(t, "GET", "/models", ""); resp.StatusCode != 200 {
		t.Errorf("models: %d", resp.StatusCode)
	}
}

func TestRateLimitFailsClosed(t *testing.T) {
	ts := newTestServer(t, nil)
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { dead.Close() })
	withLimits(ts, Limits{Generate: limiter(t, "generate", "100/minute", ratelimit.NewRedisStore(dead, "x:"))})
	resp, body := ts.do(t, "POST", "/generate_response", `{"submission":{"model_id":"offline-demo","text":"hi"}}`)
	checkEnvelope(t, resp, body, 503, "rate_limiter_unavailable")
}

func TestForgedForwardedForIsIgnored(t *testing.T) {
	for _, trust := range []bool{false, true} {
		ts := newTestServer(t, func(o *Options) { o.TrustProxyHeaders = trust })
		withLimits(ts, Limits{FeedbackThumb: limiter(t, "feedback-thumb", "3/minute", ratelimit.NewMemoryStore(100), fixedClock)})
		admitted := 0
		for i := range 10 {
			// The client forges a new address each time; the trusted proxy appends the
			// real one (the same), so the forged part must not create fresh keys.
			xff := "10.0.0." + string(rune('0'+i)) + ", 203.0.113.7"
			resp, _ := ts.do(t, "POST", "/feedback/thumb", thumbBody, "X-Forwarded-For", xff)
			if resp.StatusCode != 429 {
				admitted++
			}
		}
		if admitted != 3 {
			t.Errorf("trust=%v: %d admitted, want 3", trust, admitted)
		}
	}
}

func TestWriteAPIKeys(t *testing.T) {
	ts := newTestServer(t, func(o *Options) { o.WriteAPIKeys = []string{"k-one", "k-two"} })
	for _, key := range []string{"", "k-on", "k-one-x", "K-ONE"} {
		resp, body := ts.do(t, "POST", "/feedback/thumb", thumbBody, "X-API-Key", key)
		checkEnvelope(t, resp, body, 401, "unauthorized")
	}
	for _, key := range []string{"k-one", "k-two"} {
		if resp, _ := ts.do(t, "POST", "/feedback/thumb", thumbBody, "X-API-Key", key); resp.StatusCode != 404 {
			t.Errorf("key %q: %d, want to reach the handler (404)", key, resp.StatusCode)
		}
	}
	if resp, _ := ts.do(t, "GET", "/models", ""); resp.StatusCode != 200 {
		t.Error("reads need no key")
	}
}

// TestRedisLimitAcrossInstances: three servers share one Redis; together they admit
// exactly the limit, never more.
func TestRedisLimitAcrossInstances(t *testing.T) {
	url := testenv.RedisURL(t)
	prefix := testenv.Prefix(t)
	const limit = 25
	// One clock, mid-window, for all three: no window boundary can fall inside the test.
	now := time.Now().Truncate(time.Minute).Add(30 * time.Second)
	clock := ratelimit.WithClock(func() time.Time { return now })
	var servers []*testServer
	for range 3 {
		opts, err := redis.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		c := redis.NewClient(opts)
		t.Cleanup(func() { c.Close() })
		ts := newTestServer(t, nil)
		withLimits(ts, Limits{FeedbackThumb: limiter(t, "feedback-thumb", "25/minute", ratelimit.NewRedisStore(c, prefix), clock)})
		servers = append(servers, ts)
	}
	var admitted, denied atomic.Int64
	var wg sync.WaitGroup
	for i := range 90 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ts := servers[i%3]
			req, _ := http.NewRequest("POST", ts.URL+"/feedback/thumb", strings.NewReader(thumbBody))
			req.Header.Set("Content-Type", "application/json")
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			switch resp.StatusCode {
			case 429:
				denied.Add(1)
			case 404:
				admitted.Add(1)
			default:
				t.Errorf("status %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	if a := admitted.Load(); a != limit {
		t.Fatalf("admitted %d of 90 across three instances, want exactly %d", a, limit)
	}
}
