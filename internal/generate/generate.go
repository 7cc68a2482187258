// Package generate is MirrorView's core use case: answer a user's submission with a
// model of the catalog, falling back to the model's fallbacks on retryable failures,
// and record the generation.
package generate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"mirror/internal/apperr"
	"mirror/internal/catalog"
	"mirror/internal/llm"
)

// Generation is one answer to a submission, as stored.
type Generation struct {
	ID               string
	ModelID          string // the model that answered
	RequestedModelID string // the model the user picked; differs when a fallback answered
	Provider         string
	Route            string
	SessionID        string
	Input            string
	Response         string
	// Complete is false when the answer was cut off: by the output token cap
	// (FinishReason "length"), or a stream that broke (Response then holds what was
	// sent, and Error why).
	Complete bool
	// FinishReason is why the model stopped, normalized across providers
	// (llm.NormalizeFinishReason): stop, length, content_filter, tool_calls, or
	// "" when the answer never finished.
	FinishReason string
	Usage        llm.Usage
	CostUSD      float64
	LatencyMS    int64
	Error        string
	CreatedAt    time.Time
	// Persisted reports whether the generation is in the database (PERSISTENCE_ENABLED).
	Persisted bool
}

// FallbackUsed reports whether a fallback model answered instead of the requested one.
func (g Generation) FallbackUsed() bool { return g.ModelID != g.RequestedModelID }

// Store keeps generations. Implementations return an *apperr.Error with code
// NotFound for an unknown id.
type Store interface {
	CreateGeneration(ctx context.Context, g Generation) error
	GetGeneration(ctx context.Context, id string) (Generation, error)
}

// Providers returns the Provider that serves a model (llm.Registry satisfies it).
type Providers interface {
	Provider(provider, baseURL string) (llm.Provider, error)
}

// Models resolves catalog models (catalog.Service satisfies it).
type Models interface {
	Resolve(ctx context.Context, id string) (catalog.Model, error)
	Servable(ctx context.Context, id string) bool
}

// Input is a submission.
type Input struct {
	ModelID         string
	Text            string
	SessionID       string
	SystemPrompt    string // appended to the model's own system prompt
	MaxOutputTokens int
	Temperature     *float64
}

// Limits on a submission, checked before any provider is called.
const (
	MaxTextRunes      = 32000
	MaxSessionIDRunes = 128
	MaxSystemRunes    = 8000
	MaxOutputTokens   = 32768
)

// Validate checks in and lists every invalid field, named as in the request body.
func (in Input) Validate() error {
	var f []apperr.FieldError
	if strings.TrimSpace(in.ModelID) == "" {
		f = append(f, apperr.FieldError{Field: "submission.model_id", Message: "is required"})
	}
	switch n := utf8.RuneCountInString(in.Text); {
	case strings.TrimSpace(in.Text) == "":
		f = append(f, apperr.FieldError{Field: "submission.text", Message: "is required and must not be blank"})
	case n > MaxTextRunes:
		f = append(f, apperr.FieldError{Field: "submission.text", Message: fmt.Sprintf("must be at most %d characters (got %d)", MaxTextRunes, n)})
	}
	if utf8.RuneCountInString(in.SessionID) > MaxSessionIDRunes {
		f = append(f, apperr.FieldError{Field: "submission.session_id", Message: fmt.Sprintf("must be at most %d characters", MaxSessionIDRunes)})
	}
	if utf8.RuneCountInString(in.SystemPrompt) > MaxSystemRunes {
		f = append(f, apperr.FieldError{Field: "submission.system_prompt", Message: fmt.Sprintf("must be at most %d characters", MaxSystemRunes)})
	}
	if in.MaxOutputTokens < 0 || in.MaxOutputTokens > MaxOutputTokens {
		f = append(f, apperr.FieldError{Field: "submission.max_output_tokens", Message: fmt.Sprintf("must be between 1 and %d", MaxOutputTokens)})
	}
	if in.Temperature != nil && (*in.Temperature < 0 || *in.Temperature > 2) {
		f = append(f, apperr.FieldError{Field: "submission.temperature", Message: "must be between 0 and 2"})
	}
	if len(f) > 0 {
		return apperr.Validation(f...)
	}
	return nil
}

// Service generates responses.
type Service struct {
	models    Models
	providers Providers
	store     Store
	persisted bool
	log       *slog.Logger
	now       func() time.Time
}

// NewService returns a Service. persisted says whether store is the database (true)
// or the bounded in-memory store used when persistence is off.
func NewService(models Models, providers Providers, store Store, persisted bool, log *slog.Logger) *Service {
	return &Service{models: models, providers: providers, store: store, persisted: persisted, log: log, now: time.Now}
}

// Get returns a stored generation.
func (s *Service) Get(ctx context.Context, id string) (Generation, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Generation{}, apperr.Errorf(apperr.NotFound, "Generation not found.")
	}
	return s.store.GetGeneration(ctx, id)
}

// Generate answers in and stores the generation before returning it: a generation
// that could not be stored is an error, never a success.
func (s *Service) Generate(ctx context.Context, in Input) (Generation, error) {
	return s.run(ctx, in, nil)
}

// Stream is Generate that sends text to onDelta as it arrives. If the stream breaks
// after text was sent, the partial generation is stored as incomplete and returned
// with the error (its ID is empty if it could not be stored), so the client can find
// what it was sent; if it breaks before, fallbacks are tried as in Generate.
func (s *Service) Stream(ctx context.Context, in Input, onDelta func(string) error) (Generation, error) {
	return s.run(ctx, in, onDelta)
}

func (s *Service) run(ctx context.Context, in Input, onDelta func(string) error) (Generation, error) {
	if err := in.Validate(); err != nil {
		return Generation{}, err
	}
	first, err := s.models.Resolve(ctx, in.ModelID)
	if err != nil {
		return Generation{}, err
	}
	start := s.now()
	candidates := append([]string{first.ID}, first.Fallbacks...)
	var lastErr error
	for i, id := range candidates {
		m := first
		if i > 0 {
			// A fallback is used only if it can be served now: never a contained model.
			if !s.models.Servable(ctx, id) {
				continue
			}
			if m, err = s.models.Resolve(ctx, id); err != nil {
				continue
			}
			s.log.WarnContext(ctx, "falling back to another model", "requested_model", first.ID, "fallback_model", id, "error", lastErr)
		}
		g, sent, err := s.attempt(ctx, m, in, onDelta)
		if err == nil {
			g.RequestedModelID = first.ID
			g.LatencyMS = s.now().Sub(start).Milliseconds()
			return s.save(ctx, g)
		}
		lastErr = err
		if sent {
			// Text already reached the client: record what it got, marked incomplete.
			g.RequestedModelID, g.Complete, g.Error = first.ID, false, err.Error()
			g.LatencyMS = s.now().Sub(start).Milliseconds()
			saved, serr := s.save(ctx, g)
			if serr != nil {
				s.log.ErrorContext(ctx, "store incomplete generation", "error", serr)
			}
			return saved, err
		}
		var le *llm.Error
		if !errors.As(err, &le) || !le.Retryable() || ctx.Err() != nil {
			break
		}
	}
	// Provider failures stay *llm.Error; the HTTP layer maps them with llm.AppError.
	return Generation{}, lastErr
}

// attempt calls one model. sent reports whether any text reached onDelta.
func (s *Service) attempt(ctx context.Context, m catalog.Model, in Input, onDelta func(string) error) (g Generation, sent bool, err error) {
	p, err := s.providers.Provider(m.Provider, m.BaseURL)
	if err != nil {
		return Generation{}, false, err
	}
	req := llm.Request{Model: m.Route.Model, MaxOutputTokens: m.MaxOutputTokens, Temperature: m.Temperature}
	if in.MaxOutputTokens > 0 {
		req.MaxOutputTokens = in.MaxOutputTokens
	}
	if in.Temperature != nil {
		req.Temperature = in.Temperature
	}
	if sys := strings.TrimSpace(m.SystemPrompt + "\n\n" + in.SystemPrompt); sys != "" {
		req.Messages = append(req.Messages, llm.Message{Role: "system", Content: sys})
	}
	req.Messages = append(req.Messages, llm.Message{Role: "user", Content: in.Text})

	if m.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.Timeout)
		defer cancel()
	}
	g = Generation{ModelID: m.ID, Provider: m.Provider, Route: m.Route.String(), SessionID: in.SessionID, Input: in.Text, Complete: true}
	var resp llm.Response
	if onDelta == nil {
		resp, err = p.Complete(ctx, req)
	} else {
		var partial strings.Builder
		resp, err = p.Stream(ctx, req, func(t string) error {
			sent = true
			partial.WriteString(t)
			return onDelta(t)
		})
		if err != nil {
			g.Response = partial.String()
		}
	}
	if err != nil {
		if sent {
			g.Usage = partialUsage(err, req, g.Response)
			g.CostUSD = m.Cost(g.Usage)
		}
		return g, sent, err
	}
	g.FinishReason = llm.NormalizeFinishReason(resp.FinishReason)
	if resp.Text == "" && (g.FinishReason == llm.FinishStop || g.FinishReason == "") {
		// Every provider alike: an answer that ends normally with no text is the
		// provider's failure, not a reply to pass on (a filtered or cut answer
		// says why in its finish reason and stays an answer).
		return g, sent, &llm.Error{Provider: m.Provider, Kind: llm.KindMalformed, Message: "the answer has no text"}
	}
	g.Response, g.Usage, g.CostUSD = resp.Text, resp.Usage, m.Cost(resp.Usage)
	g.Complete = g.FinishReason != llm.FinishLength
	return g, sent, nil
}

// partialUsage is the usage of an answer that broke off after text was sent: what
// the provider reported before the break, with each count it did not report
// estimated from the text (and marked Estimated).
func partialUsage(err error, req llm.Request, sent string) llm.Usage {
	var u llm.Usage
	var le *llm.Error
	if errors.As(err, &le) && le.Usage != nil {
		u = *le.Usage
	}
	if u.InputTokens == 0 {
		var in strings.Builder
		for _, m := range req.Messages {
			in.WriteString(m.Content)
		}
		u.InputTokens, u.Estimated = llm.EstimateTokens(in.String()), true
	}
	if u.OutputTokens == 0 && sent != "" {
		u.OutputTokens, u.Estimated = llm.EstimateTokens(sent), true
	}
	return u
}

func (s *Service) save(ctx context.Context, g Generation) (Generation, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return Generation{}, fmt.Errorf("new generation id: %w", err)
	}
	g.ID, g.CreatedAt, g.Persisted = id.String(), s.now().UTC(), s.persisted
	// The client may have gone; the generation is still recorded.
	if err := s.store.CreateGeneration(context.WithoutCancel(ctx), g); err != nil {
		return Generation{}, fmt.Errorf("store generation: %w", err)
	}
	return g, nil
}
