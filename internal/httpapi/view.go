package httpapi

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"mirror/internal/feedback"
	"mirror/internal/generate"
)

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "service": s.opts.ProjectName, "version": s.opts.Version})
}

// handleReady also checks the database, for load balancers that should stop sending
// traffic to an instance that cannot store anything.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if s.ready != nil {
		if err := s.ready(r.Context()); err != nil {
			s.log.WarnContext(r.Context(), "readiness check failed", "error", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

type modelItem struct {
	ModelID     string `json:"model_id"`
	DisplayName string `json:"display_name"`
	Provider    string `json:"provider"`
}

type modelsResponse struct {
	DefaultModelID string      `json:"default_model_id"`
	Models         []modelItem `json:"models"`
}

func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	models, def, err := s.catalog.List(r.Context())
	if err != nil {
		s.error(w, r, err)
		return
	}
	resp := modelsResponse{DefaultModelID: def, Models: make([]modelItem, 0, len(models))}
	for _, m := range models {
		resp.Models = append(resp.Models, modelItem{ModelID: m.ID, DisplayName: m.DisplayName, Provider: m.Provider})
	}
	writeJSON(w, http.StatusOK, resp)
}

// generateRequest is the body of POST /generate_response.
type generateRequest struct {
	Submission *submission `json:"submission"`
}

type submission struct {
	ModelID         string   `json:"model_id"`
	Text            string   `json:"text"`
	SessionID       string   `json:"session_id"`
	SystemPrompt    string   `json:"system_prompt"`
	MaxOutputTokens int      `json:"max_output_tokens"`
	Temperature     *float64 `json:"temperature"`
}

type generationResponse struct {
	GenerationID     string    `json:"generation_id"`
	ModelID          string    `json:"model_id"`
	RequestedModelID string    `json:"requested_model_id"`
	FallbackUsed     bool      `json:"fallback_used"`
	Response         string    `json:"response"`
	Provider         string    `json:"provider"`
	Route            string    `json:"route"`
	Usage            usage     `json:"usage"`
	CostUSD          float64   `json:"cost_usd"`
	LatencyMS        int64     `json:"latency_ms"`
	Complete         bool      `json:"complete"`
	FinishReason     string    `json:"finish_reason,omitempty"`
	SessionID        string    `json:"session_id,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
	Persisted        bool      `json:"persisted"`
}

type usage struct {
	InputTokens  int  `json:"input_tokens"`
	OutputTokens int  `json:"output_tokens"`
	Estimated    bool `json:"estimated,omitempty"`
}

func toGenerationResponse(g generate.Generation) generationResponse {
	return generationResponse{
		GenerationID: g.ID, ModelID: g.ModelID, RequestedModelID: g.RequestedModelID, FallbackUsed: g.FallbackUsed(),
		Response: g.Response, Provider: g.Provider, Route: g.Route, Usage: usage(g.Usage), CostUSD: g.CostUSD,
		LatencyMS: g.LatencyMS, Complete: g.Complete, FinishReason: g.FinishReason, SessionID: g.SessionID, CreatedAt: g.CreatedAt, Persisted: g.Persisted,
	}
}

func (req generateRequest) input() generate.Input {
	sub := req.Submission
	if sub == nil {
		sub = &submission{}
	}
	return generate.Input{ModelID: sub.ModelID, Text: sub.Text, SessionID: sub.SessionID, SystemPrompt: sub.SystemPrompt,
		MaxOutputTokens: sub.MaxOutputTokens, Temperature: sub.Temperature}
}

func (s *Server) handleGenerate(w http.ResponseWriter, r *http.Request) {
	req, err := decode[generateRequest](r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if wantsEventStream(r) {
		s.streamGenerate(w, r, req.input())
		return
	}
	g, err := s.generate.Generate(r.Context(), req.input())
	s.metrics.observeGeneration(g, err)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toGenerationResponse(g))
}

func (s *Server) streamGenerate(w http.ResponseWriter, r *http.Request, in generate.Input) {
	sse := newEventStream(w, r)
	defer sse.stop()
	g, err := s.generate.Stream(r.Context(), in, func(text string) error {
		return sse.send("delta", map[string]string{"text": text})
	})
	s.metrics.observeGeneration(g, err)
	if err != nil {
		if !sse.started() || clientGone(r, err) {
			s.error(w, r, err) // nothing sent yet: an ordinary error response
			return
		}
		e := toAppError(err)
		s.log.WarnContext(r.Context(), "generation stream failed", "code", e.Code, "error", err)
		s.metrics.errors.WithLabelValues(string(e.Code)).Inc()
		body := envelope(r, e)
		body.GenerationID = g.ID
		_ = sse.send("error", body)
		return
	}
	_ = sse.send("done", toGenerationResponse(g))
}

type feedbackThumbRequest struct {
	GenerationID string `json:"generation_id"`
	Thumb        string `json:"thumb"`
}

type feedbackEditRequest struct {
	GenerationID   string `json:"generation_id"`
	EditedResponse string `json:"edited_response"`
}

type feedbackResponse struct {
	FeedbackID     string    `json:"feedback_id"`
	GenerationID   string    `json:"generation_id"`
	Kind           string    `json:"kind"`
	Thumb          string    `json:"thumb,omitempty"`
	EditedResponse *string   `json:"edited_response,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	Persisted      bool      `json:"persisted"`
}

func toFeedbackResponse(e feedback.Event) feedbackResponse {
	resp := feedbackResponse{FeedbackID: e.ID, GenerationID: e.GenerationID, Kind: e.Kind, Thumb: e.Thumb, CreatedAt: e.CreatedAt, Persisted: e.Persisted}
	if e.Kind == feedback.KindEdit {
		resp.EditedResponse = &e.EditedResponse
	}
	return resp
}

// feedbackStatus is 201 when the event is in the database and 202 when persistence
// is off (accepted, kept in memory only), as API.md says.
func feedbackStatus(e feedback.Event) int {
	if e.Persisted {
		return http.StatusCreated
	}
	return http.StatusAccepted
}

func (s *Server) handleFeedbackThumb(w http.ResponseWriter, r *http.Request) {
	req, err := decode[feedbackThumbRequest](r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	e, err := s.feedback.Thumb(r.Context(), req.GenerationID, req.Thumb)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, feedbackStatus(e), toFeedbackResponse(e))
}

func (s *Server) handleFeedbackEdit(w http.ResponseWriter, r *http.Request) {
	req, err := decode[feedbackEditRequest](r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	e, err := s.feedback.Edit(r.Context(), req.GenerationID, req.EditedResponse)
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, feedbackStatus(e), toFeedbackResponse(e))
}

type generationDetail struct {
	generationResponse
	Text     string             `json:"text"`
	Error    string             `json:"error,omitempty"`
	Feedback []feedbackResponse `json:"feedback"`
}

func (s *Server) handleGenerationGet(w http.ResponseWriter, r *http.Request) {
	g, err := s.generate.Get(r.Context(), chi.URLParam(r, "generation_id"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	events, err := s.feedback.List(r.Context(), g.ID)
	if err != nil {
		s.error(w, r, err)
		return
	}
	resp := generationDetail{generationResponse: toGenerationResponse(g), Text: g.Input, Error: g.Error, Feedback: []feedbackResponse{}}
	for _, e := range events {
		resp.Feedback = append(resp.Feedback, toFeedbackResponse(e))
	}
	writeJSON(w, http.StatusOK, resp)
}
