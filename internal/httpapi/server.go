// Package httpapi is Mirror's HTTP layer: routes, handlers, middleware and the one
// error envelope. Handlers are thin: they decode, call a domain service, and encode.
// Every route and its middleware is listed in routes.go.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"mirror/internal/catalog"
	"mirror/internal/config"
	"mirror/internal/feedback"
	"mirror/internal/generate"
	"mirror/internal/reqid"
	"mirror/internal/review"
	"mirror/internal/web"
)

// Deps are the services the API serves.
type Deps struct {
	Config   config.Config
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
	cfg      config.Config
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
		cfg: d.Config, log: slog.New(reqid.NewHandler(d.Log.Handler())), catalog: d.Catalog, generate: d.Generate, feedback: d.Feedback,
		ready: d.Ready, metrics: newMetrics(reg), ms: d.MirrorScan, limits: d.Limits, review: d.Review,
	}
	s.loginOrigins = http.NewCrossOriginProtection()
	for _, o := range s.cfg.CORSOrigins {
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
