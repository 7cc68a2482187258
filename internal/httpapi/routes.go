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
	if len(s.cfg.CORSOrigins) > 0 {
		r.Use(cors.New(cors.Options{
			AllowedOrigins:   s.cfg.CORSOrigins,
			AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
			AllowedHeaders:   []string{"Content-Type", "Authorization", "X-API-Key", "X-Request-ID", "X-CSRF-Token", "Accept"},
			ExposedHeaders:   []string{"X-Request-ID", "Retry-After", "RateLimit", "RateLimit-Policy"},
			AllowCredentials: true,
			MaxAge:           600,
		}).Handler)
	}
	r.Use(s.limitBody(s.cfg.MaxRequestBodyBytes, isUpload))
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

	// MirrorScan: /api/v1 and the docs pages (mirrorscan.go and its neighbours).
	if s.ms != nil {
		r.Group(func(r chi.Router) {
			r.Use(s.rateLimitPrefix("/api/v1/", s.limits.API))
			s.mirrorScanRoutes(r)
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
