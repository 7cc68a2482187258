// Package storetest is the contract every store of Mirror's records must pass, split
// by concern as River's riverdriver/riverdrivertest is: generations, feedback, scans
// and their leases, users, containment, artifacts, probe packs and the paginated lists. Exercise
// runs all of it against the SQL store (SQLite, Postgres, Postgres through a
// transaction pooler: see OnEveryDB); ExerciseRecords runs the generations and
// feedback part, which is all the in-memory store used when persistence is off holds.
//
// Every case opens its own fresh, empty store and runs in parallel with the others:
// no case sees another's rows.
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"mirror/internal/auth"
	"mirror/internal/catalog"
	"mirror/internal/feedback"
	"mirror/internal/generate"
	"mirror/internal/review"
	"mirror/internal/scan"
)

// Records is the part of the contract every store holds: generations and their feedback.
type Records interface {
	generate.Store
	feedback.Store
}

// Store is the whole contract: what the SQL store implements for every domain package.
type Store interface {
	Records
	scan.Store
	auth.Store
	auth.RoleStore
	review.Store
	catalog.Containment
	// PurgeRevokedTokens deletes the revocations of tokens expired before now.
	PurgeRevokedTokens(ctx context.Context, now time.Time) (int64, error)
}

// Exercise runs the whole contract against the stores newStore returns (a fresh,
// empty one per call).
func Exercise(t *testing.T, newStore func(t *testing.T) Store) {
	t.Helper()
	ExerciseRecords(t, true, func(t *testing.T) Records { return newStore(t) })
	for _, concern := range []struct {
		name     string
		exercise func(t *testing.T, newStore func(t *testing.T) Store)
	}{
		{"scans", exerciseScans},
		{"users", exerciseUsers},
		{"containment", exerciseContainment},
		{"artifacts", exerciseArtifacts},
		{"lists", exerciseLists},
		{"probe packs", exerciseProbePacks},
	} {
		t.Run(concern.name, func(t *testing.T) {
			t.Parallel()
			concern.exercise(t, newStore)
		})
	}
}

// ExerciseRecords runs the generations and feedback contract against the stores
// newStore returns (a fresh, empty one per call). persisted is what the store
// reports in Generation.Persisted and Event.Persisted.
func ExerciseRecords(t *testing.T, persisted bool, newStore func(t *testing.T) Records) {
	t.Helper()
	t.Run("generations", func(t *testing.T) {
		t.Parallel()
		exerciseGenerations(t, persisted, newStore)
	})
	t.Run("feedback", func(t *testing.T) {
		t.Parallel()
		exerciseFeedback(t, persisted, newStore)
	})
}

func newID(t *testing.T) string {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

// must fails the test at once on err: a step the rest of the case builds on.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
