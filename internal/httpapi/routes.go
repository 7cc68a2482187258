package httpapi

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/cors"

	"mirror/internal/apperr"
	"mirror/internal/web"
)

// routes lists the whole API surface and its middleware.
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	// Outermost first: every response, including 404/405, preflights and panics,
	// gets the request id and the security headers.
	r.Use(s.bodyDeadline, withRequestID, s.securityHeaders, s.recoverer, s.observe, s.trustedHosts, s.rejectNUL)
	if len(s.opts.CORSOrigins) > 0 {
		r.Use(cors.New(cors.Options{
			AllowedOrigins:   s.opts.CORSOrigins,
			AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
			AllowedHeaders:   []string{"Content-Type", "Authorization", "X-API-Key", "X-Request-ID", "X-CSRF-Token", "Accept"},
			ExposedHeaders:   []string{"X-Request-ID", "Retry-After", "RateLimit", "RateLimit-Policy"},
			AllowCredentials: true,
			MaxAge:           600,
		}).Handler)
	}
	r.Use(s.limitBody(s.bodyLimit))
	r.Use(s.compress)

	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.error(w, r, apperr.Errorf(apperr.NotFound, "No route for %s %s.", r.Method, r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, req *http.Request) {
		// RFC 9110: a 405 lists the methods the resource has. chi only adds Allow
		// in its own 405 handler, so ask the router which methods match the path.
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if r.Match(chi.NewRouteContext(), m, req.URL.Path) {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
		}
		s.error(w, req, apperr.Errorf(apperr.MethodNotAllowed, "Method %s is not allowed on %s.", req.Method, req.URL.Path))
	})

	// MirrorView.
	r.Get("/health", s.handleHealth)
	r.Get("/health/ready", s.handleReady)
	r.Get("/metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}).ServeHTTP)
	r.Get("/models", s.handleModels)
	r.Get("/generations/{generation_id}", s.handleGenerationGet)
	r.With(s.rateLimit(s.limits.Generate), s.requireWriteKey).Post("/generate_response", s.handleGenerate)
	r.With(s.rateLimit(s.limits.FeedbackThumb), s.requireWriteKey).Post("/feedback/thumb", s.handleFeedbackThumb)
	r.With(s.rateLimit(s.limits.FeedbackEdit), s.requireWriteKey).Post("/feedback/edit", s.handleFeedbackEdit)

	// MirrorScan: the docs pages (development only) and /api/v1, where every scan and
	// artifact route needs a signed-in user.
	if s.ms != nil {
		r.Group(func(r chi.Router) {
			r.Use(s.rateLimitPrefix("/api/v1/", s.limits.API))
			if d := s.newDocsSite(); d != nil {
				r.Get("/openapi.json", d.openAPI)
				r.Get("/docs", d.swagger)
				r.Get("/redoc", d.redoc)
				r.Get("/docs/assets/{name}", d.asset)
			}
			r.Post("/api/v1/auth/register", s.handleRegister)
			r.Post("/api/v1/auth/login", s.handleLogin)
			r.Group(func(r chi.Router) {
				r.Use(s.authenticate)
				r.Post("/api/v1/auth/logout", s.handleLogout)
				r.Get("/api/v1/auth/me", s.handleMe)

				r.Post(uploadPath, s.handleArtifactUpload)
				r.Get(uploadPath, s.handleArtifactList)
				r.Get("/api/v1/artifacts/{artifact_id}", s.handleArtifactGet)
				r.Get("/api/v1/artifacts/{artifact_id}/download", s.handleArtifactDownload)
				r.Delete("/api/v1/artifacts/{artifact_id}", s.handleArtifactDelete)

				r.Post("/api/v1/probe-packs", s.handlePackCreate)
				r.Get("/api/v1/probe-packs", s.handlePackList)
				r.Get("/api/v1/probe-packs/{pack_id}", s.handlePackGet)
				r.Delete("/api/v1/probe-packs/{pack_id}", s.handlePackDelete)

				r.Get("/api/v1/scans", s.handleScanList)
				r.Post("/api/v1/scans/analyze", s.handleScanCreate)
				r.Get("/api/v1/scans/status/{scan_id}", s.handleScanStatus)
				r.Post("/api/v1/scans/{scan_id}/cancel", s.handleScanCancel)
				r.Get("/api/v1/scans/{scan_id}/report", s.handleScanReport)
				r.Get("/api/v1/scans/vulnerabilities", s.handleVulnerabilities)
				r.Get("/api/v1/scans/metrics", s.handleScanMetrics)
				r.Post("/api/v1/scans/containment/{scan_id}", s.handleContain)
				r.Post("/api/v1/scans/containment/{scan_id}/release", s.handleRelease)

				if s.review != nil {
					r.With(s.requireAdmin).Get("/api/v1/generations", s.handleGenerationList)
					r.With(s.requireAdmin).Get("/api/v1/feedback/stats", s.handleFeedbackStats)
					r.With(s.requireAdmin).Get("/api/v1/feedback/export", s.handleFeedbackExport)
				}
			})
		})
	}

	// The web app (internal/web), which offers what this router serves.
	r.Get("/", func(w http.ResponseWriter, req *http.Request) { s.web.ServeIndex(w, req) })
	r.Get("/app/{name}", func(w http.ResponseWriter, req *http.Request) {
		if !s.web.ServeAsset(w, req, chi.URLParam(req, "name")) {
			s.error(w, req, apperr.Errorf(apperr.NotFound, "No asset %q.", chi.URLParam(req, "name")))
		}
	})
	has := func(method, path string) bool { return r.Match(chi.NewRouteContext(), method, path) }
	s.web = web.New(web.Features{
		Scans:          s.ms != nil,
		Review:         has(http.MethodGet, "/api/v1/feedback/stats"),
		Cancel:         has(http.MethodPost, "/api/v1/scans/x/cancel"),
		DeleteArtifact: has(http.MethodDelete, "/api/v1/artifacts/x"),
		Report:         has(http.MethodGet, "/api/v1/scans/x/report"),
		Docs:           has(http.MethodGet, "/docs"),
	})
	return r
}
