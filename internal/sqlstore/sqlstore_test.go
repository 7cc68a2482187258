package sqlstore_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"mirror/internal/sqlstore"
	"mirror/internal/storetest"
	"mirror/internal/testenv"
)

func open(t testing.TB, url string) *sqlstore.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, url, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// Migrating twice is a no-op (serve migrates at every start).
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

// onEveryDB runs contract, in parallel, on a fresh SQLite file, on Postgres and on
// Postgres through PgBouncer in transaction mode (the last two skip, saying so,
// without their URLs). newDB opens and migrates one more database of that kind.
func onEveryDB(t *testing.T, contract func(t *testing.T, newDB func(t *testing.T) *sqlstore.DB)) {
	t.Helper()
	dbs := map[string]func(t *testing.T) *sqlstore.DB{
		"sqlite":    func(t *testing.T) *sqlstore.DB { return open(t, "sqlite://"+filepath.Join(t.TempDir(), "s.db")) },
		"postgres":  func(t *testing.T) *sqlstore.DB { return open(t, testenv.PostgresDB(t, false)) },
		"pgbouncer": func(t *testing.T) *sqlstore.DB { return open(t, testenv.PostgresDB(t, true)) },
	}
	for name, newDB := range dbs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			contract(t, newDB)
		})
	}
}

func TestSQLiteContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, true, func(t *testing.T) storetest.Store {
		return open(t, "sqlite://"+filepath.Join(t.TempDir(), "mirror.db"))
	})
}

func TestPostgresContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, true, func(t *testing.T) storetest.Store {
		return open(t, testenv.PostgresDB(t, false))
	})
}

// TestPostgresThroughPgBouncer runs the suite through a transaction-mode pooler, as
// on Supabase: no server-side prepared statement may outlive its transaction.
func TestPostgresThroughPgBouncer(t *testing.T) {
	t.Parallel()
	storetest.Run(t, true, func(t *testing.T) storetest.Store {
		return open(t, testenv.PostgresDB(t, true))
	})
}

func TestSQLAlchemyURLAccepted(t *testing.T) {
	url := testenv.PostgresDB(t, false)
	// The spec's form: postgresql+asyncpg://…
	open(t, "postgresql+asyncpg://"+url[len("postgres://"):])
}
