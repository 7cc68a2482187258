package sqlstore_test

import (
	"testing"

	"mirror/internal/sqlstore"
	"mirror/internal/storetest"
	"mirror/internal/testenv"
)

// TestContract runs the whole store contract on every database Mirror supports.
func TestContract(t *testing.T) {
	t.Parallel()
	storetest.OnEveryDB(t, func(t *testing.T, newDB func(t *testing.T) *sqlstore.DB) {
		storetest.Exercise(t, func(t *testing.T) storetest.Store { return newDB(t) })
	})
}

func TestSQLAlchemyURLAccepted(t *testing.T) {
	t.Parallel()
	url := testenv.PostgresDB(t, false)
	// The spec's form: postgresql+asyncpg://…
	storetest.Open(t, "postgresql+asyncpg://"+url[len("postgres://"):])
}
