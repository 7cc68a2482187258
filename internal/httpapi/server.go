// Package httpapi is Mirror's HTTP layer: routes, handlers, middleware and the one
// error envelope. Handlers are thin: they decode, call a domain service, and encode.
// Every route and its middleware is listed in routes.go.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mirror/internal/catalog"
	"mirror/internal/feedback"
	"mirror/internal/generate"
	"mirror/internal/reqid"
	"mirror/internal/review"
	"mirror/internal/web"
)

// Options are the settings the API reads; the wiring takes them from config.Config
// (the environment variable of each is named beside it).
type Options struct {
	ProjectName string // PROJECT_NAME: the health answer and the docs' title
	Version     string // VERSION
	// Development serves the developer pages (/docs, /redoc, /openapi.json) and lets
	// the session cookie go over plain HTTP (ENVIRONMENT=development, RUN_MODE not prod).
	Development bool
	// Production sends Strict-Transport-Security (RUN_MODE=prod or ENVIRONMENT=production).
	Production          bool
	CSPReportOnly       bool     // CSP_REPORT_ONLY: the CSP header only reports
	AllowedHosts        []string // ALLOWED_HOSTS: "*" allows any Host
	CORSOrigins         []string // CORS_ORIGINS: the frontends that may call and sign in
	TrustProxyHeaders   bool     // TRUST_PROXY_HEADERS: the client is in X-Forwarded-For
	TrustedProxyHops    int      // TRUSTED_PROXY_HOPS
	WriteAPIKeys        []string // WRITE_API_KEYS: empty needs no key for writes
	MaxRequestBodyBytes int64    // MAX_REQUEST_BODY_BYTES (uploads aside)
	MaxUploadBytes      int64    // MAX_UPLOAD_BYTES
	// MaxProbePackBytes (MAX_PROBE_PACK_BYTES) sets the body cap of a probe pack
	// upload: twice it and 64 KiB more (JSON escapes the content), or
	// MAX_REQUEST_BODY_BYTES if larger; 0: MAX_REQUEST_BODY_BYTES alone.
	MaxProbePackBytes int64
	BodyReadTimeout   time.Duration // BODY_READ_TIMEOUT_SECONDS; 0: no deadline
}

// Deps are the services the API serves.
type Deps struct {
	Options  Options
	Log      *slog.Logger
	Catalog  *catalog.Service
	Generate *generate.Service
	Feedback *feedback.Service
	// Ready reports whether the database answers (GET /health/ready).
	Ready func(ctx context.Context) error
	// Registry receives the API's metrics; nil makes a new one.
	Registry *prometheus.Registry
	// Limits are the rate limiters; the zero value limits nothing.
	Limits Limits
	// MirrorScan serves /api/v1; nil leaves it out (MirrorView-only tests).
	MirrorScan *MirrorScanDeps
	// Review serves the admins' feedback routes under /api/v1 (with MirrorScan,
	// whose accounts sign admins in); nil leaves them out.
	Review *review.Service
}

// Server is the HTTP API.
type Server struct {
	opts     Options
	log      *slog.Logger
	catalog  *catalog.Service
	generate *generate.Service
	feedback *feedback.Service
	ready    func(ctx context.Context) error
	metrics  *metrics
	handler  http.Handler
	ms       *MirrorScanDeps
	review   *review.Service
	web      *web.App
	limits   Limits
	// loginOrigins refuses cross-site browser logins (login CSRF); see handleLogin.
	loginOrigins *http.CrossOriginProtection
}

// New returns a Server whose routes are ready to serve.
func New(d Deps) *Server {
	reg := d.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s := &Server{
		opts: d.Options, log: slog.New(reqid.NewHandler(d.Log.Handler())), catalog: d.Catalog, generate: d.Generate, feedback: d.Feedback,
		ready: d.Ready, metrics: newMetrics(reg), ms: d.MirrorScan, limits: d.Limits, review: d.Review,
	}
	s.loginOrigins = http.NewCrossOriginProtection()
	for _, o := range s.opts.CORSOrigins {
		// The frontends allowed by CORS may sign users in; a pattern is not an origin.
		if err := s.loginOrigins.AddTrustedOrigin(o); err != nil {
			s.log.Debug("CORS origin not trusted for cookie logins", "origin", o, "error", err)
		}
	}
	if s.ms != nil && s.ms.Scans != nil {
		registerScanMetrics(reg, s.ms.Scans)
	}
	s.handler = s.routes()
	return s
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	markBusy(r) // see ServeEnvelopeErrors
	s.handler.ServeHTTP(w, r)
}
