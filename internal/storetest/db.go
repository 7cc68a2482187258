package storetest

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"mirror/internal/sqlstore"
	"mirror/internal/testenv"
)

// Open opens the database at url and migrates it, twice: serve migrates at every
// start, so a second run must change nothing. The database is closed when the test
// ends.
func Open(tb testing.TB, url string) *sqlstore.DB {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, url, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	for range 2 {
		if err := db.Migrate(ctx); err != nil {
			tb.Fatal(err)
		}
	}
	return db
}

// SQLite opens a fresh, migrated SQLite database in a temporary folder.
func SQLite(tb testing.TB) *sqlstore.DB {
	tb.Helper()
	return Open(tb, "sqlite://"+filepath.Join(tb.TempDir(), "mirror.db"))
}

// Postgres opens a fresh, migrated database on the test Postgres server, through
// PgBouncer in transaction mode when pooler is true. Without the server's URL the
// test skips (fails with MIRROR_REQUIRE_SERVICES=1): see testenv.PostgresDB.
func Postgres(tb testing.TB, pooler bool) *sqlstore.DB {
	tb.Helper()
	return Open(tb, testenv.PostgresDB(tb, pooler))
}

// OnEveryDB runs contract in parallel subtests, one per database Mirror supports:
// SQLite, Postgres, and Postgres through PgBouncer in transaction mode, as on
// Supabase, where no server-side prepared statement may outlive its transaction.
// newDB opens one more fresh, migrated database of that kind.
func OnEveryDB(t *testing.T, contract func(t *testing.T, newDB func(t *testing.T) *sqlstore.DB)) {
	t.Helper()
	for _, b := range []struct {
		name  string
		newDB func(t *testing.T) *sqlstore.DB
	}{
		{"sqlite", func(t *testing.T) *sqlstore.DB { return SQLite(t) }},
		{"postgres", func(t *testing.T) *sqlstore.DB { return Postgres(t, false) }},
		{"pgbouncer", func(t *testing.T) *sqlstore.DB { return Postgres(t, true) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			contract(t, b.newDB)
		})
	}
}
