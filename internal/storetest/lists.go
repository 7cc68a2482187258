package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"mirror/internal/apperr"
	"mirror/internal/feedback"
	"mirror/internal/generate"
	"mirror/internal/review"
	"mirror/internal/scan"
)

// collect pages through list with limit and returns the ids in order, failing on
// a repeated id.
func collect[T any](t *testing.T, limit int, list func(cursor string) ([]T, string, error), id func(T) string) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for range 100 {
		items, next, err := list(cursor)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) > limit || (next != "" && len(items) != limit) {
			t.Fatalf("page of %d with limit %d and next %q", len(items), limit, next)
		}
		for _, it := range items {
			if slices.Contains(ids, id(it)) {
				t.Fatalf("%s returned twice", id(it))
			}
			ids = append(ids, id(it))
		}
		if next == "" {
			return ids
		}
		cursor = next
	}
	t.Fatal("pagination does not end")
	return nil
}

// newestFirst sorts ids as the lists order rows: created_at, then id, descending.
func newestFirst(at map[string]time.Time) []string {
	var ids []string
	for id := range at {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int {
		if c := at[b].Compare(at[a]); c != 0 {
			return c
		}
		if a > b {
			return -1
		}
		return 1
	})
	return ids
}

// exerciseLists pages through scans, artifacts and generations with many rows
// sharing one timestamp: keyset pagination must return each row once, newest
// first, whatever the page size; and the lists' filters select what they say.
func exerciseLists(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	s := newStore(t)
	tie := time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond)
	later := tie.Add(time.Minute)
	alice, bob := newUser(t, s), newUser(t, s)

	// Scans: seven at one instant, three later, and two of Bob's.
	jobs := map[string]time.Time{}
	for i := range 10 {
		at := tie
		if i >= 7 {
			at = later
		}
		j := newJob(alice, at)
		if i%2 == 1 {
			j.Types = []scan.Type{scan.PIILeakage, scan.ModelInversion}
		}
		if err := s.CreateScan(ctx, j); err != nil {
			t.Fatal(err)
		}
		jobs[j.ID] = at
	}
	for range 2 {
		if err := s.CreateScan(ctx, newJob(bob, later)); err != nil {
			t.Fatal(err)
		}
	}
	for _, limit := range []int{1, 3, 10, 50} {
		got := collect(t, limit, func(c string) ([]scan.Job, string, error) {
			return s.Scans(ctx, scan.ScanFilter{OwnerID: alice, Limit: limit, Cursor: c})
		}, func(j scan.Job) string { return j.ID })
		if !slices.Equal(got, newestFirst(jobs)) {
			t.Errorf("scans with limit %d:\n got %v\nwant %v", limit, got, newestFirst(jobs))
		}
	}
	count := func(f scan.ScanFilter) int {
		f.OwnerID, f.Limit = alice, 200
		items, _, err := s.Scans(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return len(items)
	}
	for name, tc := range map[string]struct {
		f    scan.ScanFilter
		want int
	}{
		"jailbreak":           {scan.ScanFilter{Type: scan.Jailbreak}, 5},
		"model_inversion":     {scan.ScanFilter{Type: scan.ModelInversion}, 5},
		"self_modification":   {scan.ScanFilter{Type: scan.SelfModification}, 0},
		"queued":              {scan.ScanFilter{Status: scan.Queued}, 10},
		"running":             {scan.ScanFilter{Status: scan.Running}, 0},
		"created after tie":   {scan.ScanFilter{CreatedAfter: tie}, 3},
		"created after later": {scan.ScanFilter{CreatedAfter: later}, 0},
		"target":              {scan.ScanFilter{Target: newJob(alice, tie).TargetKey}, 10},
		"other target":        {scan.ScanFilter{Target: "catalog_model:x"}, 0},
	} {
		if got := count(tc.f); got != tc.want {
			t.Errorf("scans %s: %d, want %d", name, got, tc.want)
		}
	}
	if _, _, err := s.Scans(ctx, scan.ScanFilter{OwnerID: alice, Limit: 5, Cursor: "bm90IGEgY3Vyc29y"}); apperr.CodeOf(err) != apperr.Invalid {
		t.Errorf("a bad cursor: %v", err)
	}

	// Artifacts.
	arts := map[string]time.Time{}
	for i := range 6 {
		at := tie
		if i >= 4 {
			at = later
		}
		a := scan.Artifact{ID: uuid.NewString(), OwnerID: alice, Filename: "m.pkl", SHA256: "00", Size: 1, StoragePath: "/x", CreatedAt: at}
		if err := s.CreateArtifact(ctx, a, 0); err != nil {
			t.Fatal(err)
		}
		arts[a.ID] = at
	}
	if err := s.CreateArtifact(ctx, scan.Artifact{ID: uuid.NewString(), OwnerID: bob, Filename: "b", SHA256: "00", Size: 1, StoragePath: "/y", CreatedAt: later}, 0); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{1, 4, 50} {
		got := collect(t, limit, func(c string) ([]scan.Artifact, string, error) {
			return s.Artifacts(ctx, scan.ArtifactFilter{OwnerID: alice, Limit: limit, Cursor: c})
		}, func(a scan.Artifact) string { return a.ID })
		if !slices.Equal(got, newestFirst(arts)) {
			t.Errorf("artifacts with limit %d:\n got %v\nwant %v", limit, got, newestFirst(arts))
		}
	}

	// Generations with their feedback.
	gens := map[string]time.Time{}
	var withFeedback string
	for i := range 8 {
		at := tie
		if i >= 5 {
			at = later
		}
		id, _ := uuid.NewV7()
		g := generate.Generation{ID: id.String(), ModelID: "m-a", RequestedModelID: "m-a", Provider: "demo", Route: "demo/m-a",
			SessionID: "s1", Input: "q", Response: "a", Complete: true, CreatedAt: at}
		if i%2 == 1 {
			g.ModelID, g.SessionID = "m-b", "s2"
		}
		if err := s.CreateGeneration(ctx, g); err != nil {
			t.Fatal(err)
		}
		gens[g.ID] = at
		if i == 6 {
			withFeedback = g.ID
		}
	}
	for i, e := range []feedback.Event{{Kind: feedback.KindThumb, Thumb: "down"}, {Kind: feedback.KindEdit, EditedResponse: "better"}, {Kind: feedback.KindThumb, Thumb: "up"}} {
		e.ID, e.GenerationID, e.CreatedAt = uuid.NewString(), withFeedback, later.Add(time.Duration(i)*time.Second)
		if err := s.AddFeedback(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for _, limit := range []int{1, 3, 50} {
		got := collect(t, limit, func(c string) ([]review.Record, string, error) {
			return s.ListGenerations(ctx, review.Filter{Limit: limit, Cursor: c})
		}, func(r review.Record) string { return r.Generation.ID })
		if !slices.Equal(got, newestFirst(gens)) {
			t.Errorf("generations with limit %d:\n got %v\nwant %v", limit, got, newestFirst(gens))
		}
	}
	yes, no := true, false
	for name, tc := range map[string]struct {
		f    review.Filter
		want int
	}{
		"model m-b":       {review.Filter{ModelID: "m-b"}, 4},
		"session s1":      {review.Filter{SessionID: "s1"}, 4},
		"since later":     {review.Filter{Since: later}, 3},
		"with feedback":   {review.Filter{HasFeedback: &yes}, 1},
		"without":         {review.Filter{HasFeedback: &no}, 7},
		"s1 with":         {review.Filter{SessionID: "s1", HasFeedback: &yes}, 1},
		"unknown session": {review.Filter{SessionID: "nope"}, 0},
	} {
		tc.f.Limit = 200
		items, _, err := s.ListGenerations(ctx, tc.f)
		if err != nil || len(items) != tc.want {
			t.Errorf("generations %s: %d (%v), want %d", name, len(items), err, tc.want)
		}
	}
	items, _, err := s.ListGenerations(ctx, review.Filter{HasFeedback: &yes, Limit: 10})
	if err != nil || len(items) != 1 {
		t.Fatalf("with feedback: %v %v", items, err)
	}
	r := items[0]
	if len(r.Feedback) != 3 || r.LatestThumb() != "up" || r.Feedback[0].Thumb != "down" {
		t.Errorf("feedback %+v", r.Feedback)
	}
	if edit, ok := r.LatestEdit(); !ok || edit != "better" {
		t.Errorf("latest edit %q %v", edit, ok)
	}
}
