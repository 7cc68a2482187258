package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"mirror/internal/apperr"
	"mirror/internal/scan"
	"mirror/internal/sqlstore"
)

// TestScanStoreLimits runs the contract of what keeps one user from harming
// another (per-owner containment, fair claiming, cancel, artifact quota and
// delete) on every database Mirror supports.
func TestScanStoreLimits(t *testing.T) {
	t.Parallel()
	onEveryDB(t, limitsContract)
}

func limitsContract(t *testing.T, newDB func(t *testing.T) *sqlstore.DB) {
	ctx := context.Background()
	lease := time.Minute

	t.Run("containment of one target is each owner's own", func(t *testing.T) {
		db := newDB(t)
		key := "endpoint:http://model.example/v1#m"
		at := time.Now().UTC().Truncate(time.Microsecond)
		a := scan.Containment{OwnerID: "user-a", TargetKey: key, TargetKind: scan.TargetEndpoint, TargetID: "http://model.example/v1#m",
			Contained: true, ScanID: "scan-a", UpdatedBy: "user-a", UpdatedAt: at, Actions: []string{"target_quarantined"}, FindingIDs: []string{"finding-a"}}
		if err := db.SetContainment(ctx, a); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := db.Containment(ctx, "user-b", key); ok || err != nil {
			t.Fatalf("B sees A's containment: ok=%v err=%v", ok, err)
		}
		b := a
		b.OwnerID, b.ScanID, b.UpdatedBy, b.Contained, b.FindingIDs, b.Actions = "user-b", "scan-b", "user-b", false, []string{"finding-b"}, []string{"released"}
		if err := db.SetContainment(ctx, b); err != nil {
			t.Fatal(err)
		}
		gotA, ok, err := db.Containment(ctx, "user-a", key)
		if err != nil || !ok || !gotA.Contained || gotA.ScanID != "scan-a" || gotA.UpdatedBy != "user-a" || len(gotA.FindingIDs) != 1 || gotA.FindingIDs[0] != "finding-a" {
			t.Fatalf("B's release changed A's containment: %v %+v", err, gotA)
		}
		gotB, ok, err := db.Containment(ctx, "user-b", key)
		if err != nil || !ok || gotB.Contained || gotB.ScanID != "scan-b" || gotB.FindingIDs[0] != "finding-b" {
			t.Fatalf("B's own record: %v %+v", err, gotB)
		}
	})

	t.Run("claiming is fair between owners and capped per owner", func(t *testing.T) {
		db := newDB(t)
		a, b := newUser(t, db), newUser(t, db)
		now := time.Now()
		// A queued three scans before B queued one.
		for i, owner := range []string{a, a, a, b} {
			if err := db.CreateScan(ctx, newJob(owner, now.Add(time.Duration(i)*time.Millisecond))); err != nil {
				t.Fatal(err)
			}
		}
		first, ok, err := db.ClaimScan(ctx, "w1", time.Now(), lease, 3, 2)
		if err != nil || !ok || first.OwnerID != a {
			t.Fatalf("first claim: %v %v owner %s", ok, err, first.OwnerID)
		}
		// A runs one scan and B none: B's scan comes next though A's are older.
		second, ok, err := db.ClaimScan(ctx, "w2", time.Now(), lease, 3, 2)
		if err != nil || !ok || second.OwnerID != b {
			t.Fatalf("second claim went to %s (a=%s b=%s): %v %v", second.OwnerID, a, b, ok, err)
		}
		third, ok, err := db.ClaimScan(ctx, "w3", time.Now(), lease, 3, 2)
		if err != nil || !ok || third.OwnerID != a {
			t.Fatalf("third claim: %v %v owner %s", ok, err, third.OwnerID)
		}
		// A runs two, the cap: A's last scan waits though a worker is free.
		if j, ok, err := db.ClaimScan(ctx, "w4", time.Now(), lease, 3, 2); ok || err != nil {
			t.Fatalf("claim past the per-owner cap: %v %v %+v", ok, err, j)
		}
		if err := db.FinishScan(ctx, first.ID, "w1", scan.Result{Status: scan.Completed, At: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if j, ok, err := db.ClaimScan(ctx, "w4", time.Now(), lease, 3, 2); !ok || err != nil || j.OwnerID != a {
			t.Fatalf("claim after one of A's ended: %v %v %+v", ok, err, j)
		}
	})

	t.Run("cancel ends a queued scan and takes a running one from its worker", func(t *testing.T) {
		db := newDB(t)
		owner := newUser(t, db)
		queued, running := newJob(owner, time.Now()), newJob(owner, time.Now().Add(time.Millisecond))
		for _, j := range []scan.Job{running, queued} {
			if err := db.CreateScan(ctx, j); err != nil {
				t.Fatal(err)
			}
		}
		claimed, ok, err := db.ClaimScan(ctx, "w", time.Now(), lease, 3, 0)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		other := queued.ID
		if claimed.ID == queued.ID {
			other = running.ID
		}
		for _, id := range []string{claimed.ID, other, other} { // the last: idempotent
			if err := db.CancelScan(ctx, id, time.Now()); err != nil {
				t.Fatal(err)
			}
			if j, _ := db.Scan(ctx, id); j.Status != scan.Cancelled || j.CompletedAt == nil || j.Secret != "" {
				t.Fatalf("cancelled scan: %+v", j)
			}
		}
		if err := db.ReportProgress(ctx, claimed.ID, "w", 50, "probing", time.Now().Add(lease)); err != scan.ErrLeaseLost {
			t.Fatalf("the worker of a cancelled scan still holds it: %v", err)
		}
		if err := db.FinishScan(ctx, claimed.ID, "w", scan.Result{Status: scan.Completed, At: time.Now()}); err != scan.ErrLeaseLost {
			t.Fatalf("a cancelled scan was finished: %v", err)
		}
		if _, ok, err := db.ClaimScan(ctx, "w2", time.Now().Add(2*lease), lease, 3, 0); ok || err != nil {
			t.Fatalf("a cancelled scan was claimed: %v %v", ok, err)
		}
		done := newJob(owner, time.Now())
		db.CreateScan(ctx, done)
		db.ClaimScan(ctx, "w3", time.Now(), lease, 3, 0)
		db.FinishScan(ctx, done.ID, "w3", scan.Result{Status: scan.Completed, At: time.Now()})
		db.CancelScan(ctx, done.ID, time.Now())
		if j, _ := db.Scan(ctx, done.ID); j.Status != scan.Completed {
			t.Fatalf("cancel changed a completed scan: %s", j.Status)
		}
		if m, err := db.Metrics(ctx, owner); err != nil || m.ScansByStatus[scan.Cancelled] != 2 {
			t.Fatalf("metrics: %v %+v", err, m.ScansByStatus)
		}
	})

	t.Run("artifacts stay within the owner's quota and are deleted when idle", func(t *testing.T) {
		db := newDB(t)
		a, b := newUser(t, db), newUser(t, db)
		art := func(owner string, size int64) scan.Artifact {
			return scan.Artifact{ID: uuid.NewString(), OwnerID: owner, Filename: "m.bin", SHA256: "00", Size: size,
				StoragePath: "/nowhere", CreatedAt: time.Now().UTC()}
		}
		first := art(a, 600)
		if err := db.CreateArtifact(ctx, first, 1000); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateArtifact(ctx, art(a, 401), 1000); apperr.CodeOf(err) != apperr.QuotaExceeded {
			t.Fatalf("past the quota: %v", err)
		}
		if err := db.CreateArtifact(ctx, art(b, 1000), 1000); err != nil {
			t.Fatalf("another owner's quota is their own: %v", err)
		}
		if n, err := db.ArtifactBytes(ctx, a); n != 600 || err != nil {
			t.Fatalf("bytes of A: %d %v", n, err)
		}
		if err := db.DeleteArtifact(ctx, b, first.ID); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("B deleted A's artifact: %v", err)
		}
		// A scan of it is queued: refused.
		tgt := scan.Target{Kind: scan.TargetArtifact, ArtifactID: first.ID}
		j := newJob(a, time.Now())
		j.Target, j.TargetKey = tgt, tgt.Key()
		db.CreateScan(ctx, j)
		if err := db.DeleteArtifact(ctx, a, first.ID); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("delete while a scan of it is queued: %v", err)
		}
		db.CancelScan(ctx, j.ID, time.Now())
		// Contained: refused.
		c := scan.Containment{OwnerID: a, TargetKey: tgt.Key(), TargetKind: scan.TargetArtifact, TargetID: first.ID, Contained: true,
			ScanID: j.ID, UpdatedBy: a, UpdatedAt: time.Now().UTC()}
		db.SetContainment(ctx, c)
		if err := db.DeleteArtifact(ctx, a, first.ID); apperr.CodeOf(err) != apperr.ModelContained {
			t.Fatalf("delete while contained: %v", err)
		}
		c.Contained = false
		db.SetContainment(ctx, c)
		if err := db.DeleteArtifact(ctx, a, first.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Artifact(ctx, first.ID); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("deleted artifact: %v", err)
		}
		if err := db.CreateArtifact(ctx, art(a, 1000), 1000); err != nil {
			t.Fatalf("the quota freed by the delete: %v", err)
		}
	})
}
