package storetest

import (
	"context"
	"testing"
	"time"

	"mirror/internal/scan"
)

// exerciseContainment: a target's containment, its audit, and that each owner's is
// their own.
func exerciseContainment(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()

	t.Run("containment and its audit", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		key := "catalog_model:gpt-5-nano"
		if _, ok, err := s.Containment(ctx, "", key); ok || err != nil {
			t.Fatalf("never contained: %v %v", ok, err)
		}
		c := scan.Containment{TargetKey: key, TargetKind: scan.TargetCatalogModel, TargetID: "gpt-5-nano", Contained: true,
			ScanID: "s1", UpdatedBy: "u1", UpdatedAt: time.Now().UTC().Truncate(time.Microsecond), Actions: []string{"a"}, FindingIDs: []string{"f1"}}
		if err := s.SetContainment(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.Containment(ctx, "", key)
		if err != nil || !ok || !got.Contained || got.UpdatedBy != "u1" || len(got.FindingIDs) != 1 || !got.UpdatedAt.Equal(c.UpdatedAt) {
			t.Fatalf("contained: %v %+v", err, got)
		}
		if ids, _ := s.ContainedModels(ctx); len(ids) != 1 || ids[0] != "gpt-5-nano" {
			t.Fatalf("contained models: %v", ids)
		}
		c.Contained, c.Actions = false, []string{"released"}
		must(t, s.SetContainment(ctx, c))
		if ids, _ := s.ContainedModels(ctx); len(ids) != 0 {
			t.Fatalf("released, still contained: %v", ids)
		}
	})
	t.Run("containment of one target is each owner's own", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		key := "endpoint:http://model.example/v1#m"
		at := time.Now().UTC().Truncate(time.Microsecond)
		a := scan.Containment{OwnerID: "user-a", TargetKey: key, TargetKind: scan.TargetEndpoint, TargetID: "http://model.example/v1#m",
			Contained: true, ScanID: "scan-a", UpdatedBy: "user-a", UpdatedAt: at, Actions: []string{"target_quarantined"}, FindingIDs: []string{"finding-a"}}
		if err := s.SetContainment(ctx, a); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := s.Containment(ctx, "user-b", key); ok || err != nil {
			t.Fatalf("B sees A's containment: ok=%v err=%v", ok, err)
		}
		b := a
		b.OwnerID, b.ScanID, b.UpdatedBy, b.Contained, b.FindingIDs, b.Actions = "user-b", "scan-b", "user-b", false, []string{"finding-b"}, []string{"released"}
		if err := s.SetContainment(ctx, b); err != nil {
			t.Fatal(err)
		}
		gotA, ok, err := s.Containment(ctx, "user-a", key)
		if err != nil || !ok || !gotA.Contained || gotA.ScanID != "scan-a" || gotA.UpdatedBy != "user-a" || len(gotA.FindingIDs) != 1 || gotA.FindingIDs[0] != "finding-a" {
			t.Fatalf("B's release changed A's containment: %v %+v", err, gotA)
		}
		gotB, ok, err := s.Containment(ctx, "user-b", key)
		if err != nil || !ok || gotB.Contained || gotB.ScanID != "scan-b" || gotB.FindingIDs[0] != "finding-b" {
			t.Fatalf("B's own record: %v %+v", err, gotB)
		}
	})
}
