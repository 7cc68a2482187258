package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"mirror/internal/apperr"
	"mirror/internal/clientip"
	"mirror/internal/ratelimit"
)

// Limits are the per-endpoint rate limiters; a nil one does not limit.
type Limits struct {
	Generate      *ratelimit.Limiter // RATE_LIMIT_GENERATE
	FeedbackThumb *ratelimit.Limiter // RATE_LIMIT_FEEDBACK_THUMB
	FeedbackEdit  *ratelimit.Limiter // RATE_LIMIT_FEEDBACK_EDIT
	API           *ratelimit.Limiter // RATE_LIMIT_PER_MINUTE, for /api/v1/*
	Login         *ratelimit.Limiter // RATE_LIMIT_LOGIN, every attempt per client (auth.Service)
	LoginAccount  *ratelimit.Limiter // RATE_LIMIT_LOGIN_ACCOUNT, failures per account (auth.Service)
}

// clientKey is the rate-limit key of a request: the socket address, or, behind a
// trusted proxy, the address that proxy appended to X-Forwarded-For. IPv6 clients
// are keyed by their /64.
func (s *Server) clientKey(r *http.Request) string {
	key, err := clientip.Key(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), s.opts.TrustProxyHeaders, s.opts.TrustedProxyHops)
	if err != nil {
		// The socket address itself is unparseable (not a TCP peer): one shared key,
		// so such requests are limited together rather than not at all.
		return "unknown"
	}
	return key
}

// rateLimit admits a request only if every window of l admits its client. Over the
// limit: 429 with Retry-After and the RateLimit headers; store down: 503 (fail
// closed, logged and counted).
func (s *Server) rateLimit(l *ratelimit.Limiter) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if l == nil {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			d, err := l.Allow(r.Context(), s.clientKey(r))
			if err != nil {
				s.metrics.limiter.WithLabelValues(l.Name(), "error").Inc()
				s.error(w, r, err)
				return
			}
			d.WriteHeaders(w.Header())
			if !d.Allowed {
				s.metrics.limiter.WithLabelValues(l.Name(), "denied").Inc()
				s.error(w, r, d.Err())
				return
			}
			s.metrics.limiter.WithLabelValues(l.Name(), "allowed").Inc()
			next.ServeHTTP(w, r)
		})
	}
}

// requireWriteKey enforces WRITE_API_KEYS on MirrorView's writes: the X-API-Key
// header must equal one of the keys. Keys are compared as SHA-256 digests in
// constant time, so neither a key's bytes nor its length leak through timing.
func (s *Server) requireWriteKey(next http.Handler) http.Handler {
	if len(s.opts.WriteAPIKeys) == 0 {
		return next
	}
	digests := make([][32]byte, len(s.opts.WriteAPIKeys))
	for i, k := range s.opts.WriteAPIKeys {
		digests[i] = sha256.Sum256([]byte(k))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := sha256.Sum256([]byte(r.Header.Get("X-API-Key")))
		ok := 0
		for _, d := range digests {
			ok |= subtle.ConstantTimeCompare(got[:], d[:])
		}
		if ok != 1 || r.Header.Get("X-API-Key") == "" {
			s.error(w, r, apperr.Errorf(apperr.Unauthorized, "A valid X-API-Key header is required for this endpoint."))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func newLimiterMetric(reg *prometheus.Registry) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mirror_ratelimit_decisions_total", Help: "Rate-limit decisions by limiter and outcome (allowed, denied, error).",
	}, []string{"limiter", "outcome"})
	reg.MustRegister(c)
	return c
}

// rateLimitPrefix applies l to the requests whose path starts with prefix; the docs
// pages registered beside /api/v1 are not limited.
func (s *Server) rateLimitPrefix(prefix string, l *ratelimit.Limiter) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		limited := s.rateLimit(l)(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if len(r.URL.Path) >= len(prefix) && r.URL.Path[:len(prefix)] == prefix {
				limited.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
