package httpapi

import (
	"context"
	"net/http"
	"strings"

	"mirror/internal/apperr"
	"mirror/internal/auth"
	"mirror/internal/scan"
)

// MirrorScanDeps are the services behind /api/v1 (accounts, artifacts, scans).
type MirrorScanDeps struct {
	Auth  *auth.Service
	Scans *scan.Service
}

// Cookie names of the browser session (API.md).
const (
	sessionCookie = "mirror_session"
	csrfCookie    = "mirror_csrf"
	csrfHeader    = "X-CSRF-Token"
)

// uploadPath is the one route whose body is capped by MAX_UPLOAD_BYTES instead of
// MAX_REQUEST_BODY_BYTES.
const uploadPath = "/api/v1/artifacts"

func isUpload(r *http.Request) bool { return r.Method == http.MethodPost && r.URL.Path == uploadPath }

// packUploadPath is the route whose body is capped by packBodyLimit.
const packUploadPath = "/api/v1/probe-packs"

// packBodyLimit is the body cap of a probe pack upload: room for a pack of
// MAX_PROBE_PACK_BYTES as a JSON string (escapes at most double typical YAML) and
// its name, never below MAX_REQUEST_BODY_BYTES. The service checks the content
// itself against MAX_PROBE_PACK_BYTES.
func (s *Server) packBodyLimit() int64 {
	return max(s.opts.MaxRequestBodyBytes, 2*s.opts.MaxProbePackBytes+64<<10)
}

// bodyLimit is the body cap of r: 0 for the artifact upload (capped by its
// handler), packBodyLimit for a pack upload, else MAX_REQUEST_BODY_BYTES.
func (s *Server) bodyLimit(r *http.Request) int64 {
	switch {
	case isUpload(r):
		return 0
	case r.Method == http.MethodPost && r.URL.Path == packUploadPath:
		return s.packBodyLimit()
	}
	return s.opts.MaxRequestBodyBytes
}

type principalKey struct{}

// principal returns the signed-in user of an authenticated request.
func principal(ctx context.Context) auth.Principal {
	p, _ := ctx.Value(principalKey{}).(auth.Principal)
	return p
}

func actor(r *http.Request) scan.Actor {
	p := principal(r.Context())
	return scan.Actor{ID: p.User.ID, Admin: p.Admin()}
}

// authenticate admits a request with a valid bearer token, or with the session
// cookie; cookie-authenticated writes must also echo the CSRF token in
// X-CSRF-Token (double submit, checked against the session's own token), so a
// cross-site form or fetch that rides on the cookie is refused.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, fromCookie := bearer(r), false
		if token == "" {
			if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
				token, fromCookie = c.Value, true
			}
		}
		if token == "" {
			w.Header().Set("WWW-Authenticate", "Bearer")
			s.error(w, r, apperr.Errorf(apperr.Unauthorized, "Not authenticated: a valid bearer token or session is required."))
			return
		}
		p, err := s.ms.Auth.Authenticate(r.Context(), token)
		if err != nil {
			if apperr.CodeOf(err) == apperr.Unauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			}
			s.error(w, r, err)
			return
		}
		if fromCookie && !safeMethod(r.Method) && !s.ms.Auth.CheckCSRF(p, r.Header.Get(csrfHeader)) {
			s.error(w, r, apperr.Errorf(apperr.Forbidden, "This session-cookie request needs the X-CSRF-Token header (the mirror_csrf cookie's value)."))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
