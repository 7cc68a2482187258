package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"mirror/internal/apperr"
	"mirror/internal/scan"
)

// exerciseArtifacts: uploads within each owner's quota, deleted only when idle.
func exerciseArtifacts(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()

	t.Run("artifacts stay within the owner's quota and are deleted when idle", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		a, b := newUser(t, s), newUser(t, s)
		art := func(owner string, size int64) scan.Artifact {
			return scan.Artifact{ID: uuid.NewString(), OwnerID: owner, Filename: "m.bin", SHA256: "00", Size: size,
				StoragePath: "/nowhere", CreatedAt: time.Now().UTC()}
		}
		first := art(a, 600)
		if err := s.CreateArtifact(ctx, first, 1000); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateArtifact(ctx, art(a, 401), 1000); apperr.CodeOf(err) != apperr.QuotaExceeded {
			t.Fatalf("past the quota: %v", err)
		}
		if err := s.CreateArtifact(ctx, art(b, 1000), 1000); err != nil {
			t.Fatalf("another owner's quota is their own: %v", err)
		}
		if n, err := s.ArtifactBytes(ctx, a); n != 600 || err != nil {
			t.Fatalf("bytes of A: %d %v", n, err)
		}
		if err := s.DeleteArtifact(ctx, b, first.ID); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("B deleted A's artifact: %v", err)
		}
		// A scan of it is queued: refused.
		tgt := scan.Target{Kind: scan.TargetArtifact, ArtifactID: first.ID}
		j := newJob(a, time.Now())
		j.Target, j.TargetKey = tgt, tgt.Key()
		must(t, s.CreateScan(ctx, j))
		if err := s.DeleteArtifact(ctx, a, first.ID); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("delete while a scan of it is queued: %v", err)
		}
		must(t, s.CancelScan(ctx, j.ID, time.Now()))
		// Contained: refused.
		c := scan.Containment{OwnerID: a, TargetKey: tgt.Key(), TargetKind: scan.TargetArtifact, TargetID: first.ID, Contained: true,
			ScanID: j.ID, UpdatedBy: a, UpdatedAt: time.Now().UTC()}
		must(t, s.SetContainment(ctx, c))
		if err := s.DeleteArtifact(ctx, a, first.ID); apperr.CodeOf(err) != apperr.ModelContained {
			t.Fatalf("delete while contained: %v", err)
		}
		c.Contained = false
		must(t, s.SetContainment(ctx, c))
		if err := s.DeleteArtifact(ctx, a, first.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Artifact(ctx, first.ID); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("deleted artifact: %v", err)
		}
		if err := s.CreateArtifact(ctx, art(a, 1000), 1000); err != nil {
			t.Fatalf("the quota freed by the delete: %v", err)
		}
	})
}
