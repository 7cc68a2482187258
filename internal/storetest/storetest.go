// Package storetest is the one contract suite every store of MirrorView's records
// must pass: the SQLite and Postgres stores (also through a transaction pooler), and
// the in-memory store used when persistence is off.
package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"mirror/internal/apperr"
	"mirror/internal/feedback"
	"mirror/internal/generate"
	"mirror/internal/llm"
)

// Store is what the suite exercises.
type Store interface {
	generate.Store
	feedback.Store
}

func newID(t *testing.T) string {
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

func sampleGeneration(t *testing.T, persisted bool) generate.Generation {
	return generate.Generation{
		ID: newID(t), ModelID: "claude-haiku-4-5", RequestedModelID: "gpt-5-nano", Provider: "anthropic",
		Route: "anthropic/claude-haiku-4-5", SessionID: "s-1", Input: "Hello, «world» 👋", Response: "Hi!\nSecond line.",
		Complete: true, FinishReason: llm.FinishStop, Usage: llm.Usage{InputTokens: 12, OutputTokens: 34}, CostUSD: 0.000182, LatencyMS: 321,
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond), Persisted: persisted,
	}
}

// Run runs the suite against the stores newStore returns (a fresh, empty one per call).
// persisted is what the store reports in Generation.Persisted / Event.Persisted.
func Run(t *testing.T, persisted bool, newStore func(t *testing.T) Store) {
	ctx := context.Background()

	// Every generation comes back as it was stored, whatever its state.
	for _, tc := range []struct {
		name   string
		mutate func(g *generate.Generation)
	}{
		{"generation round trip", func(*generate.Generation) {}},
		{"incomplete generation keeps its state and error", func(g *generate.Generation) {
			g.Complete, g.Error, g.SessionID, g.FinishReason = false, "anthropic: incomplete: stream ended early", "", ""
		}},
		{"an answer cut by the token cap is incomplete with its reason", func(g *generate.Generation) {
			g.Complete, g.FinishReason = false, llm.FinishLength
		}},
		{"a broken answer keeps its usage and says it is estimated", func(g *generate.Generation) {
			g.Complete, g.FinishReason, g.Error = false, "", "openai: incomplete"
			g.Usage = llm.Usage{InputTokens: 40, OutputTokens: 7, Estimated: true}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			g := sampleGeneration(t, persisted)
			tc.mutate(&g)
			if err := s.CreateGeneration(ctx, g); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetGeneration(ctx, g.ID)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(g, got); d != "" {
				t.Errorf("stored generation differs (-want +got):\n%s", d)
			}
		})
	}

	t.Run("unknown generation is not found", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.GetGeneration(ctx, newID(t)); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("get: %v, want not_found", err)
		}
		err := s.AddFeedback(ctx, feedback.Event{ID: newID(t), GenerationID: newID(t), Kind: feedback.KindThumb, Thumb: "up", CreatedAt: time.Now().UTC()})
		if apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("feedback on unknown generation: %v, want not_found", err)
		}
		if evs, err := s.ListFeedback(ctx, newID(t)); err != nil && apperr.CodeOf(err) != apperr.NotFound || len(evs) != 0 {
			t.Errorf("list on unknown generation: %v %v", evs, err)
		}
	})

	t.Run("feedback is append-only and ordered", func(t *testing.T) {
		s := newStore(t)
		g := sampleGeneration(t, persisted)
		if err := s.CreateGeneration(ctx, g); err != nil {
			t.Fatal(err)
		}
		base := time.Now().UTC().Truncate(time.Microsecond)
		want := []feedback.Event{
			{ID: newID(t), GenerationID: g.ID, Kind: feedback.KindThumb, Thumb: "up", CreatedAt: base, Persisted: persisted},
			{ID: newID(t), GenerationID: g.ID, Kind: feedback.KindThumb, Thumb: "down", CreatedAt: base.Add(time.Millisecond), Persisted: persisted},
			{ID: newID(t), GenerationID: g.ID, Kind: feedback.KindEdit, EditedResponse: "Better answer ✓", CreatedAt: base.Add(2 * time.Millisecond), Persisted: persisted},
		}
		for _, e := range want {
			if err := s.AddFeedback(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.ListFeedback(ctx, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("feedback (-want +got):\n%s", d)
		}
	})

	t.Run("concurrent writes are all stored", func(t *testing.T) {
		s := newStore(t)
		const n = 64
		ids := make([]string, n)
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for i := range n {
			g := sampleGeneration(t, persisted)
			ids[i] = g.ID
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.CreateGeneration(ctx, g); err != nil {
					errs <- err
					return
				}
				// One bad write in the same batch must not fail the good ones.
				bad := feedback.Event{ID: newID(t), GenerationID: newID(t), Kind: feedback.KindThumb, Thumb: "up", CreatedAt: time.Now().UTC()}
				if err := s.AddFeedback(ctx, bad); apperr.CodeOf(err) != apperr.NotFound {
					errs <- errors.Join(errors.New("bad feedback not refused"), err)
				}
				good := feedback.Event{ID: newID(t), GenerationID: g.ID, Kind: feedback.KindThumb, Thumb: "up", CreatedAt: time.Now().UTC()}
				if err := s.AddFeedback(ctx, good); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for _, id := range ids {
			if _, err := s.GetGeneration(ctx, id); err != nil {
				t.Errorf("acknowledged generation %s missing: %v", id, err)
			}
			if evs, err := s.ListFeedback(ctx, id); err != nil || len(evs) != 1 {
				t.Errorf("generation %s: %d feedback events, %v; want 1", id, len(evs), err)
			}
		}
	})
}
