package httpapi

import (
	"log/slog"
	"net/http"
	"slices"
	"testing"

	"github.com/go-chi/chi/v5"

	"mirror/internal/review"
)

// TestOpenAPIDocumentsEveryRoute walks the real router: every route of both halves
// is in /openapi.json with its method, and the document names no route that does
// not exist.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	s := New(Deps{Options: testOptions(), Log: slog.New(slog.DiscardHandler), MirrorScan: &MirrorScanDeps{}, Review: review.NewService(nil)})
	documented := documentedRoutes()
	served := map[string][]string{}
	err := chi.Walk(s.handler.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		served[route] = append(served[route], method)
		if !slices.Contains(documented[route], method) {
			t.Errorf("%s %s is served but not documented", method, route)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for route, methods := range documented {
		for _, m := range methods {
			if !slices.Contains(served[route], m) {
				t.Errorf("%s %s is documented but not served", m, route)
			}
		}
	}
}
