package scan_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"mirror/internal/apperr"
	"mirror/internal/auth"
	"mirror/internal/scan"
	"mirror/internal/sqlstore"
	"mirror/internal/storetest"
)

// fakeEngine reports progress and returns n findings; with block set it runs until
// its context ends (a scan that outlives a shutdown).
type fakeEngine struct {
	n     int
	block bool
	runs  atomic.Int32
	key   atomic.Value
}

func (e *fakeEngine) Run(ctx context.Context, j scan.Job, key string, progress scan.ProgressFunc) ([]scan.Finding, []scan.NotScanned, error) {
	e.runs.Add(1)
	e.key.Store(key)
	for i := range 4 {
		progress(i, 4, "probing")
	}
	if e.block {
		<-ctx.Done()
		return nil, nil, ctx.Err()
	}
	var out []scan.Finding
	for i := range e.n {
		out = append(out, scan.Finding{ScanType: scan.Jailbreak, Severity: scan.High, Score: 8, Title: fmt.Sprint("f", i), Remediation: "r"})
	}
	return out, []scan.NotScanned{{Path: "weights.bin", Reason: "unsupported format"}}, nil
}

type allowAll struct{}

func (allowAll) CheckModel(context.Context, string) error { return nil }
func (allowAll) CheckJudge(context.Context, string) error { return nil }
func (allowAll) CheckURL(context.Context, string) error   { return nil }

func setup(t *testing.T, eng scan.Engine, lease time.Duration) (*sqlstore.DB, func() *scan.Service, string) {
	t.Helper()
	ctx := context.Background()
	db := storetest.SQLite(t)
	owner := uuid.NewString()
	if err := db.CreateUser(ctx, auth.User{ID: owner, Email: "o@example.com", Role: auth.RoleUser, CreatedAt: time.Now()}, "x"); err != nil {
		t.Fatal(err)
	}
	sealer, _ := scan.NewSealer(make([]byte, 32))
	mk := func() *scan.Service {
		return scan.NewService(scan.Options{Store: db, Engine: eng, Checker: allowAll{}, Sealer: sealer, ArtifactDir: t.TempDir(),
			Workers: 2, Lease: lease, PollEvery: 20 * time.Millisecond})
	}
	return db, mk, owner
}

func waitDone(t *testing.T, svc *scan.Service, a scan.Actor, id string) scan.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var last scan.Job
	if err := svc.Watch(ctx, a, id, func(j scan.Job) error { last = j; return nil }); err != nil {
		t.Fatalf("watch: %v", err)
	}
	return last
}

var endpoint = scan.CreateInput{Target: scan.Target{Kind: scan.TargetEndpoint, URL: "http://model.example/v1", Model: "m", APIKey: "sk-test-secret"}}

func TestScanRunsOnceAfterItsWorkerDied(t *testing.T) {
	eng := &fakeEngine{n: 3}
	db, mk, owner := setup(t, eng, 300*time.Millisecond)
	a := scan.Actor{ID: owner}
	svc := mk()
	j, err := svc.Create(context.Background(), a, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	// A worker claims the job and dies without a word: no heartbeat, no result.
	if _, ok, err := db.ClaimScan(context.Background(), "dead-worker", time.Now().UTC(), 300*time.Millisecond, 3, 0); !ok || err != nil {
		t.Fatalf("claim: %v %v", ok, err)
	}
	svc.Start(context.Background())
	defer svc.Stop(time.Second)
	done := waitDone(t, svc, a, j.ID)
	if done.Status != scan.Completed || done.Attempts != 2 || done.FindingsCount != 4 || done.Progress != 100 {
		t.Fatalf("after the dead worker: %+v", done)
	}
	if got := eng.key.Load(); got != "sk-test-secret" {
		t.Errorf("engine got key %v", got)
	}
	items, _, _ := svc.Findings(context.Background(), a, scan.FindingFilter{ScanID: j.ID})
	if len(items) != 4 || eng.runs.Load() != 1 {
		t.Fatalf("%d findings after %d runs, want 4 after 1", len(items), eng.runs.Load())
	}
	notScanned := false
	for _, f := range items {
		if f.Evidence["not_scanned"] == true && f.Severity != scan.Info {
			notScanned = true
		}
		if f.Target != j.TargetKey || f.ScanID != j.ID || f.ID == "" {
			t.Errorf("finding lacks its identity: %+v", f)
		}
	}
	if !notScanned {
		t.Error("what could not be scanned is not reported above info")
	}
	stored, _ := db.Scan(context.Background(), j.ID)
	if stored.Secret != "" {
		t.Error("the sealed key outlived the job")
	}
}

func TestShutdownRequeuesRunningScans(t *testing.T) {
	eng := &fakeEngine{block: true}
	db, mk, owner := setup(t, eng, time.Minute)
	a := scan.Actor{ID: owner}
	svc := mk()
	svc.Start(context.Background())
	j, err := svc.Create(context.Background(), a, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		cur, _ := db.Scan(context.Background(), j.ID)
		if cur.Status == scan.Running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("scan never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	svc.Stop(50 * time.Millisecond)
	cur, _ := db.Scan(context.Background(), j.ID)
	if cur.Status != scan.Queued || cur.Attempts != 0 {
		t.Fatalf("after shutdown: %+v", cur)
	}
	// The next instance runs it to the end.
	eng.block, eng.n = false, 1
	next := mk()
	next.Start(context.Background())
	defer next.Stop(time.Second)
	if done := waitDone(t, next, a, j.ID); done.Status != scan.Completed {
		t.Fatalf("after restart: %+v", done)
	}
}

func TestCreateValidates(t *testing.T) {
	_, mk, owner := setup(t, &fakeEngine{}, time.Minute)
	svc := mk()
	a := scan.Actor{ID: owner}
	tests := []struct {
		name  string
		in    scan.CreateInput
		field string
	}{
		{"no kind", scan.CreateInput{}, "target.kind"},
		{"bad kind", scan.CreateInput{Target: scan.Target{Kind: "satellite"}}, "target.kind"},
		{"endpoint without url", scan.CreateInput{Target: scan.Target{Kind: scan.TargetEndpoint, Model: "m"}}, "target.url"},
		{"bad provider", scan.CreateInput{Target: scan.Target{Kind: scan.TargetEndpoint, URL: "http://x/v1", Model: "m", Provider: "cohere"}}, "target.provider"},
		{"unknown type", scan.CreateInput{Target: scan.Target{Kind: scan.TargetCatalogModel, ModelID: "m"}, Types: []string{"telepathy"}}, "scan_types[0]"},
		{"type that does not apply", scan.CreateInput{Target: scan.Target{Kind: scan.TargetEmbeddings, URL: "http://x/v1", Model: "m"}, Types: []string{"jailbreak"}}, "scan_types[0]"},
		{"negative budget", scan.CreateInput{Target: scan.Target{Kind: scan.TargetCatalogModel, ModelID: "m"}, Options: scan.JobOptions{MaxRequests: -1}}, "options.max_requests"},
	}
	for _, tt := range tests {
		_, err := svc.Create(context.Background(), a, tt.in)
		e, ok := apperr.As(err)
		if !ok || e.Code != apperr.Invalid || len(e.Fields) == 0 || e.Fields[0].Field != tt.field {
			t.Errorf("%s: %v, want validation_error on %s", tt.name, err, tt.field)
		}
	}
	if _, err := svc.Create(context.Background(), a, scan.CreateInput{Target: scan.Target{Kind: scan.TargetArtifact, ArtifactID: "nope"}}); apperr.CodeOf(err) != apperr.NotFound {
		t.Errorf("unknown artifact: %v", err)
	}
	j, err := svc.Create(context.Background(), a, scan.CreateInput{Target: scan.Target{Kind: scan.TargetCatalogModel, ModelID: "m"}})
	if err != nil || len(j.Types) != 5 {
		t.Errorf("omitted scan_types means every type that applies: %v %v", err, j.Types)
	}
	if _, err := svc.Status(context.Background(), scan.Actor{ID: "someone-else"}, j.ID); apperr.CodeOf(err) != apperr.NotFound {
		t.Errorf("another user's scan: %v", err)
	}
}

func TestSealerBindsToJob(t *testing.T) {
	s, _ := scan.NewSealer(make([]byte, 32))
	sealed, err := s.Seal("job-1", "sk-live-123")
	if err != nil || sealed == "" || sealed == "sk-live-123" {
		t.Fatalf("seal: %q %v", sealed, err)
	}
	if plain, err := s.Open("job-1", sealed); err != nil || plain != "sk-live-123" {
		t.Fatalf("open: %q %v", plain, err)
	}
	if _, err := s.Open("job-2", sealed); err == nil {
		t.Fatal("a sealed key opened for another job")
	}
}
