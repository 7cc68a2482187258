package httpapi

import (
	"bytes"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"mirror/internal/apperr"
	"mirror/internal/scan"
)

type targetBody struct {
	Kind       string  `json:"kind"`
	ModelID    string  `json:"model_id,omitempty"`
	URL        *string `json:"url,omitempty"` // present but empty is not a URL
	Model      string  `json:"model,omitempty"`
	Provider   string  `json:"provider,omitempty"`
	APIKey     string  `json:"api_key,omitempty"`
	ArtifactID string  `json:"artifact_id,omitempty"`
}

type createScanRequest struct {
	Target    *targetBody     `json:"target"`
	ScanTypes []string        `json:"scan_types"`
	Options   scan.JobOptions `json:"options"`
}

type createScanResponse struct {
	ScanID    string      `json:"scan_id"`
	Status    scan.Status `json:"status"`
	StatusURL string      `json:"status_url"`
}

func (s *Server) handleScanCreate(w http.ResponseWriter, r *http.Request) {
	req, err := decode[createScanRequest](r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if req.Target == nil {
		s.error(w, r, apperr.Validation(apperr.FieldError{Field: "target", Message: "is required"}))
		return
	}
	t := req.Target
	if t.URL != nil && *t.URL == "" {
		s.error(w, r, apperr.Validation(apperr.FieldError{Field: "target.url", Message: "must be a URL"}))
		return
	}
	j, err := s.ms.Scans.Create(r.Context(), actor(r), scan.CreateInput{
		Target: scan.Target{Kind: scan.TargetKind(t.Kind), ModelID: t.ModelID, URL: deref(t.URL), Model: t.Model,
			Provider: t.Provider, APIKey: t.APIKey, ArtifactID: t.ArtifactID},
		Types: req.ScanTypes, Options: req.Options,
	})
	if err != nil {
		s.error(w, r, err)
		return
	}
	url := "/api/v1/scans/status/" + j.ID
	w.Header().Set("Location", url)
	writeJSON(w, http.StatusAccepted, createScanResponse{ScanID: j.ID, Status: j.Status, StatusURL: url})
}

// targetView is a target as clients see it: never its API key.
type targetView struct {
	Kind       scan.TargetKind `json:"kind"`
	Key        string          `json:"key"`
	ModelID    string          `json:"model_id,omitempty"`
	URL        string          `json:"url,omitempty"`
	Model      string          `json:"model,omitempty"`
	Provider   string          `json:"provider,omitempty"`
	ArtifactID string          `json:"artifact_id,omitempty"`
}

type scanStatus struct {
	ScanID        string      `json:"scan_id"`
	Status        scan.Status `json:"status"`
	Progress      int         `json:"progress"`
	CurrentStep   string      `json:"current_step"`
	FindingsCount int         `json:"findings_count"`
	Target        targetView  `json:"target"`
	ScanTypes     []scan.Type `json:"scan_types"`
	CreatedAt     time.Time   `json:"created_at"`
	StartedAt     *time.Time  `json:"started_at"`
	CompletedAt   *time.Time  `json:"completed_at"`
	Error         *string     `json:"error"`
}

func statusBody(j scan.Job) scanStatus {
	t := j.Target
	out := scanStatus{ScanID: j.ID, Status: j.Status, Progress: j.Progress, CurrentStep: j.CurrentStep, FindingsCount: j.FindingsCount,
		Target:    targetView{Kind: t.Kind, Key: j.TargetKey, ModelID: t.ModelID, URL: t.URL, Model: t.Model, Provider: t.Provider, ArtifactID: t.ArtifactID},
		ScanTypes: j.Types, CreatedAt: j.CreatedAt, StartedAt: j.StartedAt, CompletedAt: j.CompletedAt}
	if j.Error != "" {
		out.Error = &j.Error
	}
	return out
}

// handleScanStatus answers the status, or with Accept: text/event-stream streams
// `progress` events as the scan moves and a final `done` event.
func (s *Server) handleScanStatus(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "scan_id")
	if !wantsEventStream(r) {
		j, err := s.ms.Scans.Status(r.Context(), actor(r), id)
		if err != nil {
			s.error(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, statusBody(j))
		return
	}
	es := newEventStream(w, r)
	defer es.stop()
	err := s.ms.Scans.Watch(r.Context(), actor(r), id, func(j scan.Job) error {
		event := "progress"
		if j.Status.Done() {
			event = "done"
		}
		return es.send(event, statusBody(j))
	})
	if err == nil || r.Context().Err() != nil {
		return
	}
	if !es.started() {
		s.error(w, r, err)
		return
	}
	e := toAppError(err)
	s.log.ErrorContext(r.Context(), "scan status stream failed", "error", err)
	_ = es.send("error", envelope(r, e))
}

// handleScanCancel cancels a queued or running scan (its owner or an admin) and
// answers its status; cancelling a cancelled scan answers the same again.
func (s *Server) handleScanCancel(w http.ResponseWriter, r *http.Request) {
	j, err := s.ms.Scans.Cancel(r.Context(), actor(r), chi.URLParam(r, "scan_id"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, statusBody(j))
}

// reportCSP lets the report's own inline style apply and nothing else: the page has
// no script, and sandbox keeps it from running any should a finding smuggle markup.
const reportCSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"

// handleScanReport answers one scan's self-contained HTML report, the same page as
// `mirror scan --format html` writes.
func (s *Server) handleScanReport(w http.ResponseWriter, r *http.Request) {
	rep, err := s.ms.Scans.Report(r.Context(), actor(r), chi.URLParam(r, "scan_id"),
		scan.Tool{Name: "mirror", Version: s.opts.Version})
	if err != nil {
		s.error(w, r, err)
		return
	}
	var buf bytes.Buffer
	if err := rep.WriteHTML(&buf); err != nil {
		s.error(w, r, err)
		return
	}
	overrideCSP(w.Header(), reportCSP)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) handleVulnerabilities(w http.ResponseWriter, r *http.Request) {
	l := &listQuery{q: r.URL.Query()}
	f := scan.FindingFilter{ScanID: l.q.Get("scan_id"), Target: l.q.Get("target"), Cursor: l.q.Get("cursor"),
		Severity: l.severity("severity"), MinSeverity: l.severity("min_severity"), Type: l.scanType("scan_type"), Limit: l.limit()}
	if err := l.err(); err != nil {
		s.error(w, r, err)
		return
	}
	items, next, err := s.ms.Scans.Findings(r.Context(), actor(r), f)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newPage(items, next))
}

func (s *Server) handleScanMetrics(w http.ResponseWriter, r *http.Request) {
	m, err := s.ms.Scans.Metrics(r.Context(), actor(r))
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

type containmentResponse struct {
	ScanID      string          `json:"scan_id"`
	Target      string          `json:"target"`
	TargetKind  scan.TargetKind `json:"target_kind"`
	Contained   bool            `json:"contained"`
	Actions     []string        `json:"actions"`
	FindingIDs  []string        `json:"finding_ids"`
	ContainedAt *time.Time      `json:"contained_at"`
	ContainedBy *string         `json:"contained_by"`
	ReleasedAt  *time.Time      `json:"released_at,omitempty"`
	ReleasedBy  *string         `json:"released_by,omitempty"`
}

func containmentBody(c scan.Containment) containmentResponse {
	out := containmentResponse{ScanID: c.ScanID, Target: c.TargetKey, TargetKind: c.TargetKind, Contained: c.Contained,
		Actions: c.Actions, FindingIDs: c.FindingIDs}
	if out.Actions == nil {
		out.Actions = []string{}
	}
	if out.FindingIDs == nil {
		out.FindingIDs = []string{}
	}
	if c.UpdatedBy != "" {
		at, by := c.UpdatedAt, c.UpdatedBy
		if c.Contained {
			out.ContainedAt, out.ContainedBy = &at, &by
		} else {
			out.ReleasedAt, out.ReleasedBy = &at, &by
		}
	}
	return out
}

func (s *Server) handleContain(w http.ResponseWriter, r *http.Request) {
	c, err := s.ms.Scans.Contain(r.Context(), actor(r), chi.URLParam(r, "scan_id"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, containmentBody(c))
}

func (s *Server) handleRelease(w http.ResponseWriter, r *http.Request) {
	c, err := s.ms.Scans.Release(r.Context(), actor(r), chi.URLParam(r, "scan_id"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, containmentBody(c))
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
