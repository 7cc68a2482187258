package engine

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"mirror/internal/auth"
	"mirror/internal/llm/llmtest"
	"mirror/internal/scan"
	"mirror/internal/scan/probe/probetest"
	"mirror/internal/sqlstore"
	"mirror/internal/storetest"
)

// TestScanKeepsItsPacks: a probe pack deleted while a scan that names it waits in
// the queue changes nothing: the scan took a copy when it was created, runs the
// pack's probes, and completes. On every database Mirror supports.
func TestScanKeepsItsPacks(t *testing.T) {
	pack, err := os.ReadFile("../../../docs/probe-packs/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	storetest.OnEveryDB(t, func(t *testing.T, newDB func(t *testing.T) *sqlstore.DB) {
		ctx := context.Background()
		db := newDB(t)
		srv := llmtest.NewOpenAIServer(t, probetest.New(probetest.All).Handle, llmtest.NoAuth())
		e := catalogEngine(t, `models:
  default: {default_model: kettle}
  catalog:
    kettle:
      provider: openai_compatible
      litellm_route: openai_compatible/kettle
      base_url: `+srv.BaseURL+`
      available: true
`, db)
		owner := uuid.NewString()
		if err := db.CreateUser(ctx, auth.User{ID: owner, Email: owner + "@example.com", Role: auth.RoleUser, CreatedAt: time.Now()}, "x"); err != nil {
			t.Fatal(err)
		}
		sealer, _ := scan.NewSealer(make([]byte, 32))
		svc := scan.NewService(scan.Options{Store: db, Engine: e, Checker: e, Packs: e, Sealer: sealer, ArtifactDir: t.TempDir(),
			Workers: 1, PollEvery: 20 * time.Millisecond})
		a := scan.Actor{ID: owner}
		p, err := svc.SaveProbePack(ctx, a, scan.PackInput{Name: "acme.yaml", Content: string(pack)})
		if err != nil {
			t.Fatal(err)
		}
		seed := int64(5)
		j, err := svc.Create(ctx, a, scan.CreateInput{Target: scan.Target{Kind: scan.TargetCatalogModel, ModelID: "kettle"},
			Types: []string{string(scan.PromptArtifacts), string(scan.Jailbreak)}, Options: scan.JobOptions{Seed: &seed, ProbePackIDs: []string{p.ID}, MaxRequests: 200}})
		if err != nil {
			t.Fatal(err)
		}
		// The workers have not started: the scan is queued when its pack goes.
		if err := svc.DeleteProbePack(ctx, a, p.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.ProbePack(ctx, a, p.ID); err == nil {
			t.Fatal("the pack outlived its deletion")
		}
		if queued, err := db.Scan(ctx, j.ID); err != nil || queued.Status != scan.Queued {
			t.Fatalf("queued scan %v: status %s", err, queued.Status)
		}
		svc.Start(ctx)
		defer svc.Stop(time.Second)
		wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		var done scan.Job
		if err := svc.Watch(wctx, a, j.ID, func(j scan.Job) error { done = j; return nil }); err != nil {
			t.Fatal(err)
		}
		if done.Status != scan.Completed {
			t.Fatalf("scan %s: %s", done.Status, done.Error)
		}
		ran := map[string]bool{}
		for _, typ := range []scan.Type{scan.PromptArtifacts, scan.Jailbreak} {
			items, _, err := svc.Findings(ctx, a, scan.FindingFilter{ScanID: j.ID, Type: typ, Severity: scan.Info, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range items {
				if f.Evidence["kind"] == "summary" {
					for id := range f.Evidence["by_probe"].(map[string]any) {
						ran[id] = true
					}
				}
			}
		}
		for _, id := range []string{"acme.discount.code_disclosure", "acme.refund.forged_manager"} {
			if !ran[id] {
				t.Errorf("the pack's probe %s did not run (ran %d probes)", id, len(ran))
			}
		}
	})
}

// packStore is a Store holding packs by id.
type packStore map[string]scan.ProbePack

func (s packStore) Artifact(context.Context, string) (scan.Artifact, error) {
	return scan.Artifact{}, errors.New("no artifacts")
}

func (s packStore) ProbePack(_ context.Context, id string) (scan.ProbePack, error) {
	p, ok := s[id]
	if !ok {
		return scan.ProbePack{}, errors.New("not found")
	}
	return p, nil
}

// TestPacksOfOlderJobs: a job queued before jobs kept copies of their packs (no
// Job.Packs) reads them from the store: its owner's pack runs, a deleted one or
// another owner's fails the scan; a job's own copies win over the store.
func TestPacksOfOlderJobs(t *testing.T) {
	pack, err := os.ReadFile("../../../docs/probe-packs/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st := packStore{"mine": {ID: "mine", OwnerID: "u1", Name: "acme.yaml", Content: string(pack)},
		"theirs": {ID: "theirs", OwnerID: "u2", Name: "acme.yaml", Content: string(pack)}}
	e := &Engine{store: st}
	job := func(ids ...string) scan.Job {
		return scan.Job{OwnerID: "u1", Options: scan.JobOptions{ProbePackIDs: ids}}
	}
	if ps, err := e.packs(t.Context(), job("mine")); err != nil || len(ps) != 2 {
		t.Errorf("the owner's pack from the store: %d probes, %v", len(ps), err)
	}
	for _, id := range []string{"gone", "theirs"} {
		if _, err := e.packs(t.Context(), job(id)); err == nil || !strings.Contains(err.Error(), "is gone") {
			t.Errorf("pack %s: %v, want it gone", id, err)
		}
	}
	kept := job("gone")
	kept.Packs = []scan.PackSnapshot{{ID: "gone", Name: "acme.yaml", Content: string(pack)}}
	if ps, err := e.packs(t.Context(), kept); err != nil || len(ps) != 2 {
		t.Errorf("the job's own copy of a deleted pack: %d probes, %v", len(ps), err)
	}
}
