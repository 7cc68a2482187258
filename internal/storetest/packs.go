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

// exerciseProbePacks: packs are kept per owner up to a cap, listed newest first
// without their content, and only their owner deletes them.
func exerciseProbePacks(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	db := newStore(t)
	owner, other := newUser(t, db), newUser(t, db)
	at := time.Now().UTC().Truncate(time.Microsecond)
	pack := func(i int) scan.ProbePack {
		return scan.ProbePack{ID: uuid.NewString(), OwnerID: owner, Name: "pack «" + string(rune('a'+i)) + "»",
			Content: "schema: 1\n# " + strings.Repeat("é", 100), Size: 204, Probes: 2, SHA256: "ab", CreatedAt: at.Add(time.Duration(i) * time.Second)}
	}
	var ids []string
	for i := range 3 {
		p := pack(i)
		must(t, db.CreateProbePack(ctx, p, 3))
		ids = append(ids, p.ID)
	}
	if err := db.CreateProbePack(ctx, pack(4), 3); apperr.CodeOf(err) != apperr.Conflict {
		t.Errorf("fourth pack past a cap of 3: %v", err)
	}
	got, err := db.ProbePack(ctx, ids[0])
	if want := pack(0); err != nil || got.Content != want.Content || got.Name != want.Name || got.OwnerID != owner || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("round trip: %+v %v", got, err)
	}
	list, err := db.ProbePacks(ctx, owner)
	if err != nil || len(list) != 3 || list[0].ID != ids[2] || list[0].Content != "" {
		t.Errorf("list: %+v %v", list, err)
	}
	if list, _ := db.ProbePacks(ctx, other); len(list) != 0 {
		t.Errorf("another owner's list: %+v", list)
	}
	if err := db.DeleteProbePack(ctx, other, ids[0]); apperr.CodeOf(err) != apperr.NotFound {
		t.Errorf("delete by another owner: %v", err)
	}
	must(t, db.DeleteProbePack(ctx, owner, ids[0]))
	if _, err := db.ProbePack(ctx, ids[0]); apperr.CodeOf(err) != apperr.NotFound {
		t.Errorf("deleted pack: %v", err)
	}
	if err := db.CreateProbePack(ctx, scan.ProbePack{ID: uuid.NewString(), OwnerID: uuid.NewString(), Name: "x", Content: "x", CreatedAt: at}, 0); apperr.CodeOf(err) != apperr.NotFound {
		t.Errorf("pack of an unknown user: %v", err)
	}

	// A scan keeps the packs it names as they were when it was created, whatever
	// becomes of them; the claim that runs it reads them, status reads do not.
	kept := pack(1)
	kept.ID = ids[1]
	j := newJob(owner, at)
	j.Options = scan.JobOptions{ProbePackIDs: []string{kept.ID}, Purpose: "orders"}
	j.Packs = []scan.PackSnapshot{{ID: kept.ID, Name: kept.Name, Content: kept.Content, SHA256: kept.SHA256}}
	must(t, db.CreateScan(ctx, j))
	must(t, db.DeleteProbePack(ctx, owner, kept.ID))
	status, err := db.Scan(ctx, j.ID)
	if err != nil || len(status.Packs) != 0 || status.Options.Purpose != "orders" || len(status.Options.ProbePackIDs) != 1 {
		t.Errorf("status read of a scan with packs: %v %+v %d packs", err, status.Options, len(status.Packs))
	}
	claimed, ok, err := db.ClaimScan(ctx, "w", time.Now(), time.Minute, 3, 0)
	if err != nil || !ok || claimed.ID != j.ID || len(claimed.Packs) != 1 || claimed.Packs[0] != j.Packs[0] {
		t.Errorf("claimed scan: %v %v %+v", ok, err, claimed.Packs)
	}
}
