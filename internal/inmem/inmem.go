// Package inmem keeps MirrorView's generations and feedback in memory, bounded in
// count and age, for PERSISTENCE_ENABLED=false: feedback can still be checked against
// a recent generation, but nothing survives a restart and every answer says
// "persisted": false.
package inmem

import (
	"container/list"
	"context"
	"sync"
	"time"

	"mirror/internal/apperr"
	"mirror/internal/feedback"
	"mirror/internal/generate"
)

// Store is a bounded LRU of generations with their feedback.
type Store struct {
	mu      sync.Mutex
	max     int
	ttl     time.Duration
	now     func() time.Time
	order   *list.List // front: newest
	entries map[string]*list.Element
}

type entry struct {
	gen      generate.Generation
	feedback []feedback.Event
}

var (
	_ generate.Store = (*Store)(nil)
	_ feedback.Store = (*Store)(nil)
)

// maxFeedbackPerGeneration bounds one generation's events, so a client thumbing the
// same generation in a loop cannot grow memory without limit.
const maxFeedbackPerGeneration = 256

// New returns a Store holding at most max generations, each for at most ttl.
func New(max int, ttl time.Duration) *Store {
	return &Store{max: max, ttl: ttl, now: time.Now, order: list.New(), entries: map[string]*list.Element{}}
}

// CreateGeneration keeps g, evicting the oldest generation when full.
func (s *Store) CreateGeneration(_ context.Context, g generate.Generation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries[g.ID] = s.order.PushFront(&entry{gen: g})
	for s.order.Len() > s.max {
		last := s.order.Back()
		delete(s.entries, last.Value.(*entry).gen.ID)
		s.order.Remove(last)
	}
	return nil
}

func (s *Store) get(id string) (*entry, error) {
	el, ok := s.entries[id]
	if !ok {
		return nil, apperr.Errorf(apperr.NotFound, "Generation not found.")
	}
	e := el.Value.(*entry)
	if s.now().Sub(e.gen.CreatedAt) > s.ttl {
		delete(s.entries, id)
		s.order.Remove(el)
		return nil, apperr.Errorf(apperr.NotFound, "Generation not found (not persisted, and no longer kept in memory).")
	}
	return e, nil
}

// GetGeneration returns a kept generation.
func (s *Store) GetGeneration(_ context.Context, id string) (generate.Generation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.get(id)
	if err != nil {
		return generate.Generation{}, err
	}
	return e.gen, nil
}

// AddFeedback appends fb to its generation's events.
func (s *Store) AddFeedback(_ context.Context, fb feedback.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.get(fb.GenerationID)
	if err != nil {
		return err
	}
	if len(e.feedback) >= maxFeedbackPerGeneration {
		return apperr.Errorf(apperr.Conflict, "This generation has reached the limit of %d feedback events kept in memory.", maxFeedbackPerGeneration)
	}
	e.feedback = append(e.feedback, fb)
	return nil
}

// ListFeedback returns a generation's events, oldest first.
func (s *Store) ListFeedback(_ context.Context, generationID string) ([]feedback.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.get(generationID)
	if err != nil {
		return nil, err
	}
	return append([]feedback.Event(nil), e.feedback...), nil
}
