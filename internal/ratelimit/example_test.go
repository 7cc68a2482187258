package ratelimit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"mirror/internal/apperr"
	"mirror/internal/clientip"
	"mirror/internal/ratelimit"
)

// Example shows the wiring of a rate-limit middleware: the client key, one
// decision, the headers, and the two ways to deny (429 over the limit, 503 when the
// store is down). The real middleware writes errors through the API's envelope.
func Example() {
	windows, err := ratelimit.ParseSpec("2/minute,30/hour") // RATE_LIMIT_GENERATE
	if err != nil {
		panic(err)
	}
	clock := func() time.Time { return time.Date(2030, 1, 1, 12, 0, 30, 0, time.UTC) }
	limiter, err := ratelimit.New("generate", windows, ratelimit.NewMemoryStore(0), ratelimit.WithClock(clock))
	if err != nil {
		panic(err)
	}
	middleware := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key, err := clientip.Key(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), true, 1)
			if err != nil {
				key = "unknown" // no IP: share one bucket, never skip the limit
			}
			d, err := limiter.Allow(r.Context(), key)
			d.WriteHeaders(w.Header())
			if err == nil {
				err = d.Err()
			}
			if err != nil {
				status := http.StatusTooManyRequests
				if apperr.CodeOf(err) == apperr.RateLimiterDown {
					status = http.StatusServiceUnavailable
				}
				http.Error(w, string(apperr.CodeOf(err)), status)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	h := middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for range 3 {
		req := httptest.NewRequestWithContext(context.Background(), "POST", "/generate_response", nil)
		req.RemoteAddr = "10.0.0.2:5555"                            // the trusted proxy
		req.Header.Set("X-Forwarded-For", "6.6.6.6, 198.51.100.20") // forged, then real
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Printf("%d %s retry-after=%q\n", rec.Code, rec.Header().Get("RateLimit"), rec.Header().Get("Retry-After"))
	}
	// Output:
	// 200 "generate-minute";r=1;t=30, "generate-hour";r=29;t=3570 retry-after=""
	// 200 "generate-minute";r=0;t=30, "generate-hour";r=28;t=3570 retry-after=""
	// 429 "generate-minute";r=0;t=30, "generate-hour";r=28;t=3570 retry-after="30"
}
