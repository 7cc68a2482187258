package httpapi

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"mirror/internal/scan"
)

type packRequest struct {
	Name    string `json:"name"`
	Content string `json:"content"`
}

// packResponse is a probe pack as its owner sees it; Content only on the GET of
// one pack.
type packResponse struct {
	PackID    string    `json:"pack_id"`
	Name      string    `json:"name"`
	Size      int       `json:"size"`
	Probes    int       `json:"probes"`
	SHA256    string    `json:"sha256"`
	CreatedAt time.Time `json:"created_at"`
	Content   *string   `json:"content,omitempty"`
}

func packBody(p scan.ProbePack, withContent bool) packResponse {
	out := packResponse{PackID: p.ID, Name: p.Name, Size: p.Size, Probes: p.Probes, SHA256: p.SHA256, CreatedAt: p.CreatedAt}
	if withContent {
		out.Content = &p.Content
	}
	return out
}

// handlePackCreate validates and keeps a probe pack: 201, or 422 whose details
// name the probe and field inside content.
func (s *Server) handlePackCreate(w http.ResponseWriter, r *http.Request) {
	req, err := decode[packRequest](r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	p, err := s.ms.Scans.SaveProbePack(r.Context(), actor(r), scan.PackInput{Name: req.Name, Content: req.Content})
	if err != nil {
		s.error(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/probe-packs/"+p.ID)
	writeJSON(w, http.StatusCreated, packBody(p, false))
}

func (s *Server) handlePackList(w http.ResponseWriter, r *http.Request) {
	ps, err := s.ms.Scans.ProbePacks(r.Context(), actor(r))
	if err != nil {
		s.error(w, r, err)
		return
	}
	items := make([]packResponse, len(ps))
	for i, p := range ps {
		items[i] = packBody(p, false)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *Server) handlePackGet(w http.ResponseWriter, r *http.Request) {
	p, err := s.ms.Scans.ProbePack(r.Context(), actor(r), chi.URLParam(r, "pack_id"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, packBody(p, true))
}

func (s *Server) handlePackDelete(w http.ResponseWriter, r *http.Request) {
	if err := s.ms.Scans.DeleteProbePack(r.Context(), actor(r), chi.URLParam(r, "pack_id")); err != nil {
		s.error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
