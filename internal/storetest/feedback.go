package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"mirror/internal/apperr"
	"mirror/internal/feedback"
)

func exerciseFeedback(t *testing.T, persisted bool, newStore func(t *testing.T) Records) {
	ctx := context.Background()

	t.Run("feedback on an unknown generation is not found", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		err := s.AddFeedback(ctx, feedback.Event{ID: newID(t), GenerationID: newID(t), Kind: feedback.KindThumb, Thumb: "up", CreatedAt: time.Now().UTC()})
		if apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("feedback on unknown generation: %v, want not_found", err)
		}
		if evs, err := s.ListFeedback(ctx, newID(t)); err != nil && apperr.CodeOf(err) != apperr.NotFound || len(evs) != 0 {
			t.Errorf("list on unknown generation: %v %v", evs, err)
		}
	})

	t.Run("feedback is append-only and ordered", func(t *testing.T) {
		t.Parallel()
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
}
