package httpapi

import "github.com/go-chi/chi/v5"

// MirrorScanDeps are the services behind /api/v1 (accounts, artifacts, scans).
type MirrorScanDeps struct{}

// mirrorScanRoutes registers /api/v1 and the docs pages.
func (s *Server) mirrorScanRoutes(r chi.Router) {}
