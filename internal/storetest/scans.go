package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"mirror/internal/apperr"
	"mirror/internal/auth"
	"mirror/internal/scan"
)

// newUser stores a user with a unique email and returns its id.
func newUser(t *testing.T, s Store) string {
	t.Helper()
	id := uuid.NewString()
	if err := s.CreateUser(context.Background(), auth.User{ID: id, Email: id + "@example.com", Role: auth.RoleUser, CreatedAt: time.Now().UTC()}, "x"); err != nil {
		t.Fatal(err)
	}
	return id
}

func newJob(owner string, at time.Time) scan.Job {
	t := scan.Target{Kind: scan.TargetEndpoint, URL: "http://model.example/v1", Model: "m"}
	return scan.Job{ID: uuid.NewString(), OwnerID: owner, Target: t, TargetKey: t.Key(), Types: []scan.Type{scan.Jailbreak},
		Status: scan.Queued, CurrentStep: "queued", Secret: "sealed", CreatedAt: at.UTC().Truncate(time.Microsecond)}
}

// claim claims a job the case has queued: there must be one.
func claim(t *testing.T, s Store, worker string, now time.Time, lease time.Duration, maxAttempts, maxPerOwner int) scan.Job {
	t.Helper()
	j, ok, err := s.ClaimScan(context.Background(), worker, now, lease, maxAttempts, maxPerOwner)
	if err != nil || !ok {
		t.Fatalf("claim by %s: ok=%v err=%v", worker, ok, err)
	}
	return j
}

func finding(id string, at time.Time, sev scan.Severity) scan.Finding {
	return scan.Finding{ID: id, ScanType: scan.Jailbreak, Severity: sev, Score: 7.5, Title: "t", Evidence: map[string]any{"probe_id": "p1"},
		Remediation: "r", Target: "endpoint:http://model.example/v1#m", CreatedAt: at.UTC().Truncate(time.Microsecond)}
}

// exerciseScans: the queue (each job claimed once, fairly between owners), the
// leases that keep a dead worker's writes out, cancel, and the findings a scan records.
func exerciseScans(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	lease := time.Minute

	t.Run("each job is claimed by one worker", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		owner := newUser(t, s)
		now := time.Now()
		const jobs = 20
		for i := range jobs {
			if err := s.CreateScan(ctx, newJob(owner, now.Add(time.Duration(i)*time.Millisecond))); err != nil {
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
					j, ok, err := s.ClaimScan(ctx, worker, time.Now(), lease, 3, 0)
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
		t.Parallel()
		s := newStore(t)
		owner := newUser(t, s)
		j := newJob(owner, time.Now())
		if err := s.CreateScan(ctx, j); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		first, ok, err := s.ClaimScan(ctx, "dead", now, lease, 3, 0)
		if err != nil || !ok || first.Status != scan.Running || first.Attempts != 1 || first.Secret != "sealed" {
			t.Fatalf("claim: %v %v %+v", ok, err, first)
		}
		if _, ok, _ := s.ClaimScan(ctx, "live", now.Add(lease/2), lease, 3, 0); ok {
			t.Fatal("a job with a live lease was claimed")
		}
		second, ok, err := s.ClaimScan(ctx, "live", now.Add(lease+time.Second), lease, 3, 0)
		if err != nil || !ok || second.ID != j.ID || second.Attempts != 2 {
			t.Fatalf("reclaim: %v %v %+v", ok, err, second)
		}
		if err := s.ReportProgress(ctx, j.ID, "dead", 50, "x", now.Add(2*lease)); !errors.Is(err, scan.ErrLeaseLost) {
			t.Fatalf("dead worker's progress: %v", err)
		}
		must(t, s.ReportProgress(ctx, j.ID, "live", 40, "probing", now.Add(2*lease)))
		must(t, s.ReportProgress(ctx, j.ID, "live", 10, "probing", now.Add(2*lease)))
		if cur, _ := s.Scan(ctx, j.ID); cur.Progress != 40 {
			t.Fatalf("progress went back to %d", cur.Progress)
		}
		at := time.Now()
		r := scan.Result{Status: scan.Completed, At: at, Findings: []scan.Finding{finding(uuid.NewString(), at, scan.High), finding(uuid.NewString(), at, scan.Low)}}
		if err := s.FinishScan(ctx, j.ID, "live", r); err != nil {
			t.Fatal(err)
		}
		late := scan.Result{Status: scan.Completed, At: at, Findings: []scan.Finding{finding(uuid.NewString(), at, scan.High)}}
		if err := s.FinishScan(ctx, j.ID, "dead", late); !errors.Is(err, scan.ErrLeaseLost) {
			t.Fatalf("dead worker's result: %v", err)
		}
		got, err := s.Scan(ctx, j.ID)
		if err != nil || got.Status != scan.Completed || got.Progress != 100 || got.FindingsCount != 2 || got.Secret != "" || got.CompletedAt == nil {
			t.Fatalf("finished job: %v %+v", err, got)
		}
		items, _, err := s.Findings(ctx, scan.FindingFilter{OwnerID: owner, ScanID: j.ID, Limit: 10})
		if err != nil || len(items) != 2 {
			t.Fatalf("findings: %v %d", err, len(items))
		}
	})
	t.Run("a job whose workers keep dying fails", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		owner := newUser(t, s)
		j := newJob(owner, time.Now())
		must(t, s.CreateScan(ctx, j))
		now := time.Now()
		for i := range 3 {
			if _, ok, err := s.ClaimScan(ctx, "dead", now.Add(time.Duration(i)*2*lease), lease, 3, 0); !ok || err != nil {
				t.Fatalf("claim %d: %v %v", i, ok, err)
			}
		}
		if _, ok, err := s.ClaimScan(ctx, "w", now.Add(10*lease), lease, 3, 0); ok || err != nil {
			t.Fatalf("claimed past the attempt limit: %v %v", ok, err)
		}
		got, _ := s.Scan(ctx, j.ID)
		if got.Status != scan.Failed || got.Error == "" || got.Secret != "" {
			t.Fatalf("abandoned job: %+v", got)
		}
	})
	t.Run("requeue gives the attempt back", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		owner := newUser(t, s)
		j := newJob(owner, time.Now())
		must(t, s.CreateScan(ctx, j))
		claim(t, s, "w", time.Now(), lease, 3, 0)
		if err := s.RequeueScan(ctx, j.ID, "w"); err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.ClaimScan(ctx, "w2", time.Now(), lease, 3, 0)
		if !ok || err != nil || got.Attempts != 1 {
			t.Fatalf("after requeue: %v %v %+v", ok, err, got)
		}
	})
	t.Run("findings pages and filters", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		owner, other := newUser(t, s), newUser(t, s)
		j := newJob(owner, time.Now())
		must(t, s.CreateScan(ctx, j))
		claim(t, s, "w", time.Now(), lease, 3, 0)
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
		if err := s.FinishScan(ctx, j.ID, "w", scan.Result{Status: scan.Completed, At: at, Findings: fs}); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		cursor := ""
		for {
			items, next, err := s.Findings(ctx, scan.FindingFilter{OwnerID: owner, Limit: 4, Cursor: cursor})
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
		crit, _, _ := s.Findings(ctx, scan.FindingFilter{OwnerID: owner, Severity: scan.Critical, Limit: 100})
		if len(crit) != 5 {
			t.Errorf("critical filter: %d", len(crit))
		}
		if none, _, _ := s.Findings(ctx, scan.FindingFilter{OwnerID: other, Limit: 100}); len(none) != 0 {
			t.Errorf("another owner sees %d findings", len(none))
		}
		if _, _, err := s.Findings(ctx, scan.FindingFilter{OwnerID: owner, Limit: 4, Cursor: "!!"}); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("bad cursor: %v", err)
		}
		m, err := s.Metrics(ctx, owner)
		if err != nil || m.FindingsTotal != 25 || m.FindingsBySeverity[scan.Critical] != 5 || m.ScansByStatus[scan.Completed] != 1 ||
			len(m.RiskByTarget) != 1 || m.RiskByTarget[0].MaxSeverity != scan.Critical || m.MeanTimeToDetect == nil {
			t.Errorf("metrics: %v %+v", err, m)
		}
		if m.RiskByTarget[0].Contained || m.MeanTimeToContain != nil {
			t.Errorf("metrics before containment: %+v", m)
		}
		// Contained a second after its findings: the target says so, and the mean time to contain is that second.
		c := scan.Containment{OwnerID: owner, TargetKey: fs[0].Target, TargetKind: scan.TargetEndpoint, TargetID: "http://model.example/v1#m",
			Contained: true, ScanID: j.ID, UpdatedBy: owner, UpdatedAt: at.Add(time.Second)}
		if err := s.SetContainment(ctx, c); err != nil {
			t.Fatal(err)
		}
		m, err = s.Metrics(ctx, other)
		if err != nil || len(m.RiskByTarget) != 0 || m.MeanTimeToContain != nil {
			t.Errorf("another owner's metrics: %v %+v", err, m)
		}
		m, err = s.Metrics(ctx, owner)
		if err != nil || len(m.RiskByTarget) != 1 || !m.RiskByTarget[0].Contained || m.MeanTimeToContain == nil || math.Abs(*m.MeanTimeToContain-1) > 0.001 {
			t.Errorf("metrics after containment: %v %+v", err, m)
		}
	})
	t.Run("claiming is fair between owners and capped per owner", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		a, b := newUser(t, s), newUser(t, s)
		now := time.Now()
		// A queued three scans before B queued one.
		for i, owner := range []string{a, a, a, b} {
			if err := s.CreateScan(ctx, newJob(owner, now.Add(time.Duration(i)*time.Millisecond))); err != nil {
				t.Fatal(err)
			}
		}
		first, ok, err := s.ClaimScan(ctx, "w1", time.Now(), lease, 3, 2)
		if err != nil || !ok || first.OwnerID != a {
			t.Fatalf("first claim: %v %v owner %s", ok, err, first.OwnerID)
		}
		// A runs one scan and B none: B's scan comes next though A's are older.
		second, ok, err := s.ClaimScan(ctx, "w2", time.Now(), lease, 3, 2)
		if err != nil || !ok || second.OwnerID != b {
			t.Fatalf("second claim went to %s (a=%s b=%s): %v %v", second.OwnerID, a, b, ok, err)
		}
		third, ok, err := s.ClaimScan(ctx, "w3", time.Now(), lease, 3, 2)
		if err != nil || !ok || third.OwnerID != a {
			t.Fatalf("third claim: %v %v owner %s", ok, err, third.OwnerID)
		}
		// A runs two, the cap: A's last scan waits though a worker is free.
		if j, ok, err := s.ClaimScan(ctx, "w4", time.Now(), lease, 3, 2); ok || err != nil {
			t.Fatalf("claim past the per-owner cap: %v %v %+v", ok, err, j)
		}
		if err := s.FinishScan(ctx, first.ID, "w1", scan.Result{Status: scan.Completed, At: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if j, ok, err := s.ClaimScan(ctx, "w4", time.Now(), lease, 3, 2); !ok || err != nil || j.OwnerID != a {
			t.Fatalf("claim after one of A's ended: %v %v %+v", ok, err, j)
		}
	})
	t.Run("cancel ends a queued scan and takes a running one from its worker", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		owner := newUser(t, s)
		queued, running := newJob(owner, time.Now()), newJob(owner, time.Now().Add(time.Millisecond))
		for _, j := range []scan.Job{running, queued} {
			if err := s.CreateScan(ctx, j); err != nil {
				t.Fatal(err)
			}
		}
		claimed, ok, err := s.ClaimScan(ctx, "w", time.Now(), lease, 3, 0)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		other := queued.ID
		if claimed.ID == queued.ID {
			other = running.ID
		}
		for _, id := range []string{claimed.ID, other, other} { // the last: idempotent
			if err := s.CancelScan(ctx, id, time.Now()); err != nil {
				t.Fatal(err)
			}
			if j, _ := s.Scan(ctx, id); j.Status != scan.Cancelled || j.CompletedAt == nil || j.Secret != "" {
				t.Fatalf("cancelled scan: %+v", j)
			}
		}
		if err := s.ReportProgress(ctx, claimed.ID, "w", 50, "probing", time.Now().Add(lease)); err != scan.ErrLeaseLost {
			t.Fatalf("the worker of a cancelled scan still holds it: %v", err)
		}
		if err := s.FinishScan(ctx, claimed.ID, "w", scan.Result{Status: scan.Completed, At: time.Now()}); err != scan.ErrLeaseLost {
			t.Fatalf("a cancelled scan was finished: %v", err)
		}
		if _, ok, err := s.ClaimScan(ctx, "w2", time.Now().Add(2*lease), lease, 3, 0); ok || err != nil {
			t.Fatalf("a cancelled scan was claimed: %v %v", ok, err)
		}
		done := newJob(owner, time.Now())
		must(t, s.CreateScan(ctx, done))
		claim(t, s, "w3", time.Now(), lease, 3, 0)
		must(t, s.FinishScan(ctx, done.ID, "w3", scan.Result{Status: scan.Completed, At: time.Now()}))
		must(t, s.CancelScan(ctx, done.ID, time.Now()))
		if j, _ := s.Scan(ctx, done.ID); j.Status != scan.Completed {
			t.Fatalf("cancel changed a completed scan: %s", j.Status)
		}
		if m, err := s.Metrics(ctx, owner); err != nil || m.ScansByStatus[scan.Cancelled] != 2 {
			t.Fatalf("metrics: %v %+v", err, m.ScansByStatus)
		}
	})
}
