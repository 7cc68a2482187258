package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"mirror/internal/apperr"
	"mirror/internal/auth"
	"mirror/internal/scan"
	"mirror/internal/sqlstore"
)

// TestScanStore runs the scan store's contract on every database Mirror supports.
func TestScanStore(t *testing.T) {
	t.Parallel()
	onEveryDB(t, scanContract)
}

func newUser(t *testing.T, db *sqlstore.DB) string {
	t.Helper()
	id := uuid.NewString()
	if err := db.CreateUser(context.Background(), auth.User{ID: id, Email: id + "@example.com", Role: auth.RoleUser, CreatedAt: time.Now().UTC()}, "x"); err != nil {
		t.Fatal(err)
	}
	return id
}

func newJob(owner string, at time.Time) scan.Job {
	t := scan.Target{Kind: scan.TargetEndpoint, URL: "http://model.example/v1", Model: "m"}
	return scan.Job{ID: uuid.NewString(), OwnerID: owner, Target: t, TargetKey: t.Key(), Types: []scan.Type{scan.Jailbreak},
		Status: scan.Queued, CurrentStep: "queued", Secret: "sealed", CreatedAt: at.UTC().Truncate(time.Microsecond)}
}

func finding(id string, at time.Time, sev scan.Severity) scan.Finding {
	return scan.Finding{ID: id, ScanType: scan.Jailbreak, Severity: sev, Score: 7.5, Title: "t", Evidence: map[string]any{"probe_id": "p1"},
		Remediation: "r", Target: "endpoint:http://model.example/v1#m", CreatedAt: at.UTC().Truncate(time.Microsecond)}
}

func scanContract(t *testing.T, newDB func(t *testing.T) *sqlstore.DB) {
	ctx := context.Background()
	lease := time.Minute

	t.Run("each job is claimed by one worker", func(t *testing.T) {
		db := newDB(t)
		owner := newUser(t, db)
		now := time.Now()
		const jobs = 20
		for i := range jobs {
			if err := db.CreateScan(ctx, newJob(owner, now.Add(time.Duration(i)*time.Millisecond))); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		claimed := map[string]string{}
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				worker := fmt.Sprint("w", w)
				for {
					j, ok, err := db.ClaimScan(ctx, worker, time.Now(), lease, 3, 0)
					if err != nil {
						t.Error(err)
						return
					}
					if !ok {
						return
					}
					mu.Lock()
					if prev, dup := claimed[j.ID]; dup {
						t.Errorf("job %s claimed by %s and %s", j.ID, prev, worker)
					}
					claimed[j.ID] = worker
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(claimed) != jobs {
			t.Fatalf("claimed %d of %d jobs", len(claimed), jobs)
		}
	})

	t.Run("a dead worker's job is claimed again and recorded once", func(t *testing.T) {
		db := newDB(t)
		owner := newUser(t, db)
		j := newJob(owner, time.Now())
		if err := db.CreateScan(ctx, j); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		first, ok, err := db.ClaimScan(ctx, "dead", now, lease, 3, 0)
		if err != nil || !ok || first.Status != scan.Running || first.Attempts != 1 || first.Secret != "sealed" {
			t.Fatalf("claim: %v %v %+v", ok, err, first)
		}
		if _, ok, _ := db.ClaimScan(ctx, "live", now.Add(lease/2), lease, 3, 0); ok {
			t.Fatal("a job with a live lease was claimed")
		}
		second, ok, err := db.ClaimScan(ctx, "live", now.Add(lease+time.Second), lease, 3, 0)
		if err != nil || !ok || second.ID != j.ID || second.Attempts != 2 {
			t.Fatalf("reclaim: %v %v %+v", ok, err, second)
		}
		if err := db.ReportProgress(ctx, j.ID, "dead", 50, "x", now.Add(2*lease)); !errors.Is(err, scan.ErrLeaseLost) {
			t.Fatalf("dead worker's progress: %v", err)
		}
		db.ReportProgress(ctx, j.ID, "live", 40, "probing", now.Add(2*lease))
		db.ReportProgress(ctx, j.ID, "live", 10, "probing", now.Add(2*lease))
		if cur, _ := db.Scan(ctx, j.ID); cur.Progress != 40 {
			t.Fatalf("progress went back to %d", cur.Progress)
		}
		at := time.Now()
		r := scan.Result{Status: scan.Completed, At: at, Findings: []scan.Finding{finding(uuid.NewString(), at, scan.High), finding(uuid.NewString(), at, scan.Low)}}
		if err := db.FinishScan(ctx, j.ID, "live", r); err != nil {
			t.Fatal(err)
		}
		late := scan.Result{Status: scan.Completed, At: at, Findings: []scan.Finding{finding(uuid.NewString(), at, scan.High)}}
		if err := db.FinishScan(ctx, j.ID, "dead", late); !errors.Is(err, scan.ErrLeaseLost) {
			t.Fatalf("dead worker's result: %v", err)
		}
		got, err := db.Scan(ctx, j.ID)
		if err != nil || got.Status != scan.Completed || got.Progress != 100 || got.FindingsCount != 2 || got.Secret != "" || got.CompletedAt == nil {
			t.Fatalf("finished job: %v %+v", err, got)
		}
		items, _, err := db.Findings(ctx, scan.FindingFilter{OwnerID: owner, ScanID: j.ID, Limit: 10})
		if err != nil || len(items) != 2 {
			t.Fatalf("findings: %v %d", err, len(items))
		}
	})

	t.Run("a job whose workers keep dying fails", func(t *testing.T) {
		db := newDB(t)
		owner := newUser(t, db)
		j := newJob(owner, time.Now())
		db.CreateScan(ctx, j)
		now := time.Now()
		for i := range 3 {
			if _, ok, err := db.ClaimScan(ctx, "dead", now.Add(time.Duration(i)*2*lease), lease, 3, 0); !ok || err != nil {
				t.Fatalf("claim %d: %v %v", i, ok, err)
			}
		}
		if _, ok, err := db.ClaimScan(ctx, "w", now.Add(10*lease), lease, 3, 0); ok || err != nil {
			t.Fatalf("claimed past the attempt limit: %v %v", ok, err)
		}
		got, _ := db.Scan(ctx, j.ID)
		if got.Status != scan.Failed || got.Error == "" || got.Secret != "" {
			t.Fatalf("abandoned job: %+v", got)
		}
	})

	t.Run("requeue gives the attempt back", func(t *testing.T) {
		db := newDB(t)
		owner := newUser(t, db)
		j := newJob(owner, time.Now())
		db.CreateScan(ctx, j)
		db.ClaimScan(ctx, "w", time.Now(), lease, 3, 0)
		if err := db.RequeueScan(ctx, j.ID, "w"); err != nil {
			t.Fatal(err)
		}
		got, ok, err := db.ClaimScan(ctx, "w2", time.Now(), lease, 3, 0)
		if !ok || err != nil || got.Attempts != 1 {
			t.Fatalf("after requeue: %v %v %+v", ok, err, got)
		}
	})

	t.Run("findings pages and filters", func(t *testing.T) {
		db := newDB(t)
		owner, other := newUser(t, db), newUser(t, db)
		j := newJob(owner, time.Now())
		db.CreateScan(ctx, j)
		db.ClaimScan(ctx, "w", time.Now(), lease, 3, 0)
		at := time.Now()
		var fs []scan.Finding
		for i := range 25 {
			sev := scan.Low
			if i%5 == 0 {
				sev = scan.Critical
			}
			// Several share a timestamp: the id breaks ties.
			fs = append(fs, finding(uuid.NewString(), at.Add(time.Duration(i/3)*time.Millisecond), sev))
		}
		if err := db.FinishScan(ctx, j.ID, "w", scan.Result{Status: scan.Completed, At: at, Findings: fs}); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		cursor := ""
		for {
			items, next, err := db.Findings(ctx, scan.FindingFilter{OwnerID: owner, Limit: 4, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range items {
				if seen[f.ID] {
					t.Fatalf("finding %s twice", f.ID)
				}
				seen[f.ID] = true
				if f.Evidence["probe_id"] != "p1" {
					t.Fatalf("evidence lost: %v", f.Evidence)
				}
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if len(seen) != 25 {
			t.Fatalf("paged %d of 25", len(seen))
		}
		crit, _, _ := db.Findings(ctx, scan.FindingFilter{OwnerID: owner, Severity: scan.Critical, Limit: 100})
		if len(crit) != 5 {
			t.Errorf("critical filter: %d", len(crit))
		}
		if none, _, _ := db.Findings(ctx, scan.FindingFilter{OwnerID: other, Limit: 100}); len(none) != 0 {
			t.Errorf("another owner sees %d findings", len(none))
		}
		if _, _, err := db.Findings(ctx, scan.FindingFilter{OwnerID: owner, Limit: 4, Cursor: "!!"}); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("bad cursor: %v", err)
		}
		m, err := db.Metrics(ctx, owner)
		if err != nil || m.FindingsTotal != 25 || m.FindingsBySeverity[scan.Critical] != 5 || m.ScansByStatus[scan.Completed] != 1 ||
			len(m.RiskByTarget) != 1 || m.RiskByTarget[0].MaxSeverity != scan.Critical || m.MeanTimeToDetect == nil {
			t.Errorf("metrics: %v %+v", err, m)
		}
	})

	t.Run("containment and its audit", func(t *testing.T) {
		db := newDB(t)
		key := "catalog_model:gpt-5-nano"
		if _, ok, err := db.Containment(ctx, "", key); ok || err != nil {
			t.Fatalf("never contained: %v %v", ok, err)
		}
		c := scan.Containment{TargetKey: key, TargetKind: scan.TargetCatalogModel, TargetID: "gpt-5-nano", Contained: true,
			ScanID: "s1", UpdatedBy: "u1", UpdatedAt: time.Now().UTC().Truncate(time.Microsecond), Actions: []string{"a"}, FindingIDs: []string{"f1"}}
		if err := db.SetContainment(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, ok, err := db.Containment(ctx, "", key)
		if err != nil || !ok || !got.Contained || got.UpdatedBy != "u1" || len(got.FindingIDs) != 1 || !got.UpdatedAt.Equal(c.UpdatedAt) {
			t.Fatalf("contained: %v %+v", err, got)
		}
		if ids, _ := db.ContainedModels(ctx); len(ids) != 1 || ids[0] != "gpt-5-nano" {
			t.Fatalf("contained models: %v", ids)
		}
		c.Contained, c.Actions = false, []string{"released"}
		db.SetContainment(ctx, c)
		if ids, _ := db.ContainedModels(ctx); len(ids) != 0 {
			t.Fatalf("released, still contained: %v", ids)
		}
	})
}
