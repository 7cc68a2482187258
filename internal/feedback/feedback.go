// Package feedback records what users think of a generation: a thumb up or down, or
// an edited response. Events are append-only: a later thumb does not erase an
// earlier one, so the history of opinions is kept.
package feedback

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"mirror/internal/apperr"
)

// Kinds of feedback event.
const (
	KindThumb = "thumb"
	KindEdit  = "edit"
)

// MaxEditRunes bounds an edited response.
const MaxEditRunes = 64000

// Event is one piece of feedback on a generation.
type Event struct {
	ID             string
	GenerationID   string
	Kind           string
	Thumb          string // "up" or "down", for KindThumb
	EditedResponse string // for KindEdit
	CreatedAt      time.Time
	Persisted      bool
}

// Store appends and lists events. AddFeedback returns an *apperr.Error with code
// NotFound when the generation does not exist.
type Store interface {
	AddFeedback(ctx context.Context, e Event) error
	ListFeedback(ctx context.Context, generationID string) ([]Event, error)
}

// Service records feedback.
type Service struct {
	store     Store
	persisted bool
	now       func() time.Time
}

// NewService returns a Service; persisted says whether store is the database.
func NewService(store Store, persisted bool) *Service {
	return &Service{store: store, persisted: persisted, now: time.Now}
}

func checkGenerationID(id string) *apperr.FieldError {
	if strings.TrimSpace(id) == "" {
		return &apperr.FieldError{Field: "generation_id", Message: "is required"}
	}
	if _, err := uuid.Parse(id); err != nil {
		return &apperr.FieldError{Field: "generation_id", Message: "must be a generation id (UUID)"}
	}
	return nil
}

// Thumb records a thumb ("up" or "down") on a generation.
func (s *Service) Thumb(ctx context.Context, generationID, thumb string) (Event, error) {
	var f []apperr.FieldError
	if fe := checkGenerationID(generationID); fe != nil {
		f = append(f, *fe)
	}
	if thumb != "up" && thumb != "down" {
		f = append(f, apperr.FieldError{Field: "thumb", Message: `must be "up" or "down"`})
	}
	if len(f) > 0 {
		return Event{}, apperr.Validation(f...)
	}
	return s.add(ctx, Event{GenerationID: generationID, Kind: KindThumb, Thumb: thumb})
}

// Edit records a user's edited version of a generation's response.
func (s *Service) Edit(ctx context.Context, generationID, edited string) (Event, error) {
	var f []apperr.FieldError
	if fe := checkGenerationID(generationID); fe != nil {
		f = append(f, *fe)
	}
	switch n := utf8.RuneCountInString(edited); {
	case strings.TrimSpace(edited) == "":
		f = append(f, apperr.FieldError{Field: "edited_response", Message: "is required and must not be blank"})
	case n > MaxEditRunes:
		f = append(f, apperr.FieldError{Field: "edited_response", Message: fmt.Sprintf("must be at most %d characters (got %d)", MaxEditRunes, n)})
	}
	if len(f) > 0 {
		return Event{}, apperr.Validation(f...)
	}
	return s.add(ctx, Event{GenerationID: generationID, Kind: KindEdit, EditedResponse: edited})
}

func (s *Service) add(ctx context.Context, e Event) (Event, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return Event{}, fmt.Errorf("new feedback id: %w", err)
	}
	e.ID, e.CreatedAt, e.Persisted = id.String(), s.now().UTC(), s.persisted
	if err := s.store.AddFeedback(context.WithoutCancel(ctx), e); err != nil {
		return Event{}, fmt.Errorf("store feedback: %w", err)
	}
	return e, nil
}

// List returns a generation's feedback, oldest first.
func (s *Service) List(ctx context.Context, generationID string) ([]Event, error) {
	return s.store.ListFeedback(ctx, generationID)
}
