package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"mirror/internal/apperr"
	"mirror/internal/scan"
)

// exerciseProbePacks: an owner's probe packs, capped in number, listed without
// their content, deleted only by their owner.
func exerciseProbePacks(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	s := newStore(t)
	owner, other := newUser(t, s), newUser(t, s)
	at := time.Now().UTC().Truncate(time.Microsecond)
	pack := func(i int) scan.ProbePack {
		return scan.ProbePack{ID: uuid.NewString(), OwnerID: owner, Name: "pack «" + string(rune('a'+i)) + "»",
			Content: "schema: 1\n# " + strings.Repeat("é", 100), Size: 204, Probes: 2, SHA256: "ab", CreatedAt: at.Add(time.Duration(i) * time.Second)}
	}
	var ids []string
	for i := range 3 {
		p := pack(i)
		if err := s.CreateProbePack(ctx, p, 3); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	if err := s.CreateProbePack(ctx, pack(4), 3); apperr.CodeOf(err) != apperr.Conflict {
		t.Errorf("fourth pack past a cap of 3: %v", err)
	}
	got, err := s.ProbePack(ctx, ids[0])
	if want := pack(0); err != nil || got.Content != want.Content || got.Name != want.Name || got.OwnerID != owner || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("round trip: %+v %v", got, err)
	}
	list, err := s.ProbePacks(ctx, owner)
	if err != nil || len(list) != 3 || list[0].ID != ids[2] || list[0].Content != "" {
		t.Errorf("list: %+v %v", list, err)
	}
	if list, _ := s.ProbePacks(ctx, other); len(list) != 0 {
		t.Errorf("another owner's list: %+v", list)
	}
	if err := s.DeleteProbePack(ctx, other, ids[0]); apperr.CodeOf(err) != apperr.NotFound {
		t.Errorf("delete by another owner: %v", err)
	}
	if err := s.DeleteProbePack(ctx, owner, ids[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ProbePack(ctx, ids[0]); apperr.CodeOf(err) != apperr.NotFound {
		t.Errorf("deleted pack: %v", err)
	}
	if err := s.CreateProbePack(ctx, scan.ProbePack{ID: uuid.NewString(), OwnerID: uuid.NewString(), Name: "x", Content: "x", CreatedAt: at}, 0); apperr.CodeOf(err) != apperr.NotFound {
		t.Errorf("pack of an unknown user: %v", err)
	}
}
