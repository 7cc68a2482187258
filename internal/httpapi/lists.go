package httpapi

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"mirror/internal/apperr"
	"mirror/internal/scan"
)

// listQuery reads the query parameters the list routes share, collecting each
// invalid one as a field error. A filter that is present must be valid: "?severity="
// is not "any severity" (the document's enums have no empty value, and FastAPI answers
// it 422 as well).
type listQuery struct {
	q   url.Values
	bad []apperr.FieldError
}

func (l *listQuery) fail(field, msg string) {
	l.bad = append(l.bad, apperr.FieldError{Field: field, Message: msg})
}

// limit is the page size: 1 to 200, 0 when absent (the service's default).
func (l *listQuery) limit() int {
	if !l.q.Has("limit") {
		return 0
	}
	v := l.q.Get("limit")
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 200 {
		l.fail("limit", "must be a whole number from 1 to 200")
	}
	return n
}

// time reads an RFC 3339 timestamp (or a date, taken as midnight UTC).
func (l *listQuery) time(name string) time.Time {
	if !l.q.Has(name) {
		return time.Time{}
	}
	v := l.q.Get(name)
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t
	}
	l.fail(name, "must be an RFC 3339 timestamp (2026-01-31T12:00:00Z) or a date (2026-01-31)")
	return time.Time{}
}

// boolean reads true or false (the document's boolean; "?x=" and "1" are invalid),
// nil when absent.
func (l *listQuery) boolean(name string) *bool {
	if !l.q.Has(name) {
		return nil
	}
	switch l.q.Get(name) {
	case "true":
		return new(true)
	case "false":
		return new(false)
	}
	l.fail(name, "must be true or false")
	return nil
}

func (l *listQuery) severity(name string) scan.Severity {
	if !l.q.Has(name) {
		return ""
	}
	v := l.q.Get(name)
	sev, err := scan.ParseSeverity(v)
	if err != nil {
		l.fail(name, "must be critical, high, medium, low or info")
	}
	return sev
}

func (l *listQuery) scanType(name string) scan.Type {
	if !l.q.Has(name) {
		return ""
	}
	v := l.q.Get(name)
	typ, err := scan.ParseType(v)
	if err != nil {
		l.fail(name, "must be a scan type id")
	}
	return typ
}

func (l *listQuery) err() error {
	if len(l.bad) > 0 {
		return apperr.Validation(l.bad...)
	}
	return nil
}

// pageOf is the shape of every list: items and the cursor of the next page (null
// on the last).
type pageOf[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func newPage[T any](items []T, next string) pageOf[T] {
	p := pageOf[T]{Items: items}
	if p.Items == nil {
		p.Items = []T{}
	}
	if next != "" {
		p.NextCursor = &next
	}
	return p
}

// handleScanList lists the signed-in user's scans, newest first.
func (s *Server) handleScanList(w http.ResponseWriter, r *http.Request) {
	l := &listQuery{q: r.URL.Query()}
	f := scan.ScanFilter{Target: l.q.Get("target"), Cursor: l.q.Get("cursor"), Type: l.scanType("scan_type"),
		CreatedAfter: l.time("created_after"), Limit: l.limit()}
	if l.q.Has("status") {
		f.Status = scan.Status(l.q.Get("status"))
		if !f.Status.Done() && f.Status != scan.Queued && f.Status != scan.Running {
			l.fail("status", "must be queued, running, completed, failed or cancelled")
		}
	}
	if err := l.err(); err != nil {
		s.error(w, r, err)
		return
	}
	jobs, next, err := s.ms.Scans.Scans(r.Context(), actor(r), f)
	if err != nil {
		s.error(w, r, err)
		return
	}
	items := make([]scanStatus, len(jobs))
	for i, j := range jobs {
		items[i] = statusBody(j)
	}
	writeJSON(w, http.StatusOK, newPage(items, next))
}

// handleArtifactList lists the signed-in user's uploads, newest first.
func (s *Server) handleArtifactList(w http.ResponseWriter, r *http.Request) {
	l := &listQuery{q: r.URL.Query()}
	f := scan.ArtifactFilter{Cursor: l.q.Get("cursor"), Limit: l.limit()}
	if err := l.err(); err != nil {
		s.error(w, r, err)
		return
	}
	arts, next, err := s.ms.Scans.Artifacts(r.Context(), actor(r), f)
	if err != nil {
		s.error(w, r, err)
		return
	}
	items := make([]artifactResponse, len(arts))
	for i, a := range arts {
		items[i] = artifactBody(a.Artifact, a.Contained)
	}
	writeJSON(w, http.StatusOK, newPage(items, next))
}
