package httpapi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/klauspost/compress/gzhttp"

	"mirror/internal/apperr"
	"mirror/internal/reqid"
)

func requestID(ctx context.Context) string { return reqid.From(ctx) }

// saneRequestID accepts an incoming X-Request-ID only if it is short and plain, so a
// client cannot inject into logs or headers through it.
var saneRequestID = regexp.MustCompile(`^[A-Za-z0-9._:\-]{1,128}$`)

// withRequestID gives every request an id: the client's X-Request-ID if sane, else a
// new UUID. It is echoed in the response header, logs and error envelopes.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !saneRequestID.MatchString(id) {
			id = uuid.NewString()
		}
		w.Header().Set("X-Request-ID", id)
		next.ServeHTTP(w, r.WithContext(reqid.With(r.Context(), id)))
	})
}

// securityHeaders sets the spec's headers on every response, errors and preflights
// included, before anything else can answer.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	cspHeader := "Content-Security-Policy-Report-Only"
	if !s.opts.CSPReportOnly {
		cspHeader = "Content-Security-Policy"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set(cspHeader, csp)
		if s.opts.Production {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// csp allows only same-origin resources: the API serves JSON, and its docs pages
// load their scripts and styles from this server, never a CDN.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// recoverer turns a panic into a 500 in the envelope, logged with its value; the
// stack never reaches the client.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				// The stack goes to the log only; the client gets the generic 500.
				s.log.ErrorContext(r.Context(), "handler panicked", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				s.error(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// statusWriter records the status for logs and metrics. It keeps Flush and Unwrap so
// streaming (SSE) works through it.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := w.ResponseWriter.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, errors.New("hijack not supported")
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe logs each request once and feeds the request metrics.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		s.metrics.inflight.Inc()
		defer s.metrics.inflight.Dec()
		next.ServeHTTP(sw, r)
		route := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		elapsed := time.Since(start)
		s.metrics.requests.WithLabelValues(route, r.Method, strconv.Itoa(status)).Inc()
		s.metrics.latency.WithLabelValues(route, r.Method).Observe(elapsed.Seconds())
		s.log.LogAttrs(r.Context(), levelFor(status), "request", slog.String("method", r.Method), slog.String("route", route),
			slog.Int("status", status), slog.Int64("bytes", sw.bytes), slog.Duration("duration", elapsed))
	})
}

// limitBody caps request bodies at limitOf(r) (MAX_REQUEST_BODY_BYTES, or a pack
// upload's own cap) before any handler parses them: a declared Content-Length over
// the cap is refused at once, and a chunked body fails with 413 when the cap is
// crossed while reading. A limit of 0 skips the route: the artifact upload sets its
// own cap (MAX_UPLOAD_BYTES).
func (s *Server) limitBody(limitOf func(*http.Request) int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			limit := limitOf(r)
			if limit <= 0 {
				next.ServeHTTP(w, r)
				return
			}
			if r.ContentLength > limit {
				s.error(w, r, apperr.Errorf(apperr.PayloadTooLarge, "Request body is larger than %d bytes.", limit))
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			next.ServeHTTP(w, r)
		})
	}
}

// trustedHosts refuses requests whose Host is not in ALLOWED_HOSTS ("*" allows any;
// "*.example.com" allows subdomains), as Starlette's TrustedHostMiddleware does.
func (s *Server) trustedHosts(next http.Handler) http.Handler {
	allowed := s.opts.AllowedHosts
	any := false
	for _, h := range allowed {
		if h == "*" {
			any = true
		}
	}
	if any {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.ToLower(strings.TrimSuffix(host, "."))
		for _, a := range allowed {
			a = strings.ToLower(a)
			if host == a || (strings.HasPrefix(a, "*.") && strings.HasSuffix(host, a[1:])) {
				next.ServeHTTP(w, r)
				return
			}
		}
		s.error(w, r, apperr.Errorf(apperr.BadHost, "Invalid host header."))
	})
}

// levelFor logs server errors at error level, everything else at info.
func levelFor(status int) slog.Level {
	if status >= 500 {
		return slog.LevelError
	}
	return slog.LevelInfo
}

// compress gzips responses worth it: at least 1 KiB (smaller bodies gain nothing and
// cost CPU) of a compressible type. Event streams are never buffered or compressed.
func (s *Server) compress(next http.Handler) http.Handler {
	wrap, err := gzhttp.NewWrapper(
		gzhttp.MinSize(1024),
		gzhttp.ContentTypes([]string{"application/json", "text/html", "text/css", "text/javascript", "application/javascript", "text/plain", "application/yaml"}),
	)
	if err != nil {
		panic(err) // only for invalid options, fixed above
	}
	return wrap(next)
}
