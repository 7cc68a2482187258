// Package testenv gives tests the real services of the machine: Postgres, PgBouncer
// and Redis, from MIRROR_TEST_POSTGRES_URL, MIRROR_TEST_PGBOUNCER_URL and
// MIRROR_TEST_REDIS_URL. A test whose service is not configured skips, saying so,
// unless MIRROR_REQUIRE_SERVICES=1 (CI), where it fails instead.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// Need returns the value of the environment variable name, or skips (or, with
// MIRROR_REQUIRE_SERVICES=1, fails) the test when it is unset.
func Need(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v != "" {
		return v
	}
	if os.Getenv("MIRROR_REQUIRE_SERVICES") == "1" {
		t.Fatalf("%s is not set and MIRROR_REQUIRE_SERVICES=1: this test needs the real service", name)
	}
	t.Skipf("%s is not set: skipping the test that needs the real service (bash .ci/run sets it)", name)
	return ""
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// PostgresDB creates a fresh, empty database on the test Postgres server, drops it
// when the test ends, and returns its URL. With pooler true the URL goes through
// PgBouncer (MIRROR_TEST_PGBOUNCER_URL, configured with a wildcard database entry).
func PostgresDB(t testing.TB, pooler bool) string {
	t.Helper()
	admin := Need(t, "MIRROR_TEST_POSTGRES_URL")
	base := admin
	if pooler {
		base = Need(t, "MIRROR_TEST_PGBOUNCER_URL")
	}
	name := randomName("mirror_test_")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("open test postgres: %v", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db, err := sql.Open("pgx", admin)
		if err != nil {
			return
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse test postgres url: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// RedisURL returns MIRROR_TEST_REDIS_URL (or skips). Tests must use their own key
// prefix (Prefix) and never flush the shared server.
func RedisURL(t testing.TB) string {
	t.Helper()
	return Need(t, "MIRROR_TEST_REDIS_URL")
}

// Prefix returns a key prefix unique to this test run.
func Prefix(t testing.TB) string {
	return fmt.Sprintf("mirror-test:%s:", randomName(""))
}
