package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"mirror/internal/apperr"
	"mirror/internal/feedback"
	"mirror/internal/generate"
	"mirror/internal/llm"
)

func sampleGeneration(t *testing.T, persisted bool) generate.Generation {
	return generate.Generation{
		ID: newID(t), ModelID: "claude-haiku-4-5", RequestedModelID: "gpt-5-nano", Provider: "anthropic",
		Route: "anthropic/claude-haiku-4-5", SessionID: "s-1", Input: "Hello, «world» 👋", Response: "Hi!\nSecond line.",
		Complete: true, FinishReason: llm.FinishStop, Usage: llm.Usage{InputTokens: 12, OutputTokens: 34}, CostUSD: 0.000182, LatencyMS: 321,
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond), Persisted: persisted,
	}
}

func exerciseGenerations(t *testing.T, persisted bool, newStore func(t *testing.T) Records) {
	ctx := context.Background()

	// Every generation comes back as it was stored, whatever its state.
	for _, tc := range []struct {
		name   string
		mutate func(g *generate.Generation)
	}{
		{"round trip", func(*generate.Generation) {}},
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
			t.Parallel()
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
		t.Parallel()
		s := newStore(t)
		if _, err := s.GetGeneration(ctx, newID(t)); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("get: %v, want not_found", err)
		}
	})

	t.Run("concurrent writes are all stored", func(t *testing.T) {
		t.Parallel()
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
