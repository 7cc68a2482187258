package httpapi

import (
	"fmt"
	"net/http"
	"time"

	"mirror/internal/apperr"
	"mirror/internal/review"
)

// requireAdmin lets only admins through (after authenticate).
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !principal(r.Context()).Admin() {
			s.error(w, r, apperr.Errorf(apperr.Forbidden, "This needs an admin."))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// reviewFilter reads the generation filters the review routes share.
func reviewFilter(l *listQuery) review.Filter {
	f := review.Filter{ModelID: l.q.Get("model_id"), SessionID: l.q.Get("session_id"), Since: l.time("since")}
	f.HasFeedback = l.boolean("has_feedback")
	return f
}

// handleGenerationList lists stored generations with their feedback (admins).
func (s *Server) handleGenerationList(w http.ResponseWriter, r *http.Request) {
	l := &listQuery{q: r.URL.Query()}
	f := reviewFilter(l)
	f.Limit, f.Cursor = l.limit(), l.q.Get("cursor")
	if err := l.err(); err != nil {
		s.error(w, r, err)
		return
	}
	recs, next, err := s.review.List(r.Context(), f)
	if err != nil {
		s.error(w, r, err)
		return
	}
	items := make([]review.GenerationJSON, len(recs))
	for i, rec := range recs {
		items[i] = rec.JSON()
	}
	writeJSON(w, http.StatusOK, newPage(items, next))
}

type statsResponse struct {
	Models []review.ModelStats `json:"models"`
}

// handleFeedbackStats answers per-model feedback statistics (admins).
func (s *Server) handleFeedbackStats(w http.ResponseWriter, r *http.Request) {
	l := &listQuery{q: r.URL.Query()}
	f := reviewFilter(l)
	if err := l.err(); err != nil {
		s.error(w, r, err)
		return
	}
	stats, err := s.review.Stats(r.Context(), f)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, statsResponse{Models: stats})
}

// handleFeedbackExport streams every selected generation in the asked format
// (admins). Nothing is sent before the first page is read, so a database that
// fails at once gets the error envelope; one that fails mid-stream aborts the
// response, so the client sees a broken download, never a short one that looks
// whole.
func (s *Server) handleFeedbackExport(w http.ResponseWriter, r *http.Request) {
	l := &listQuery{q: r.URL.Query()}
	f := reviewFilter(l)
	format := review.JSONL // when absent; present, it must be valid ("?format=" too)
	var err error
	if l.q.Has("format") {
		if format, err = review.ParseFormat(l.q.Get("format")); err != nil {
			s.error(w, r, err)
			return
		}
	}
	if err := l.err(); err != nil {
		s.error(w, r, err)
		return
	}
	out := &exportWriter{w: w, start: func(h http.Header) {
		h.Set("Content-Type", format.ContentType())
		h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="mirror-feedback-%s-%s.%s"`, format, time.Now().UTC().Format("20060102T150405Z"), format.Ext()))
		h.Set("Cache-Control", "no-store")
	}}
	rc := http.NewResponseController(w)
	_, err = s.review.Export(r.Context(), f, format, out, func() { _ = rc.Flush() })
	switch {
	case err == nil:
		if !out.started {
			out.start(w.Header()) // an empty export is still a file
			w.WriteHeader(http.StatusOK)
		}
	case !out.started:
		s.error(w, r, err)
	case r.Context().Err() == nil:
		s.log.ErrorContext(r.Context(), "feedback export failed mid-stream", "error", err)
		panic(http.ErrAbortHandler)
	}
}

// exportWriter sets the export's headers on its first write.
type exportWriter struct {
	w       http.ResponseWriter
	start   func(http.Header)
	started bool
}

func (e *exportWriter) Write(p []byte) (int, error) {
	if !e.started {
		e.started = true
		e.start(e.w.Header())
	}
	return e.w.Write(p)
}
