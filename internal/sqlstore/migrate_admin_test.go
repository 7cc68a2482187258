package sqlstore

import (
	"context"
	"io/fs"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"mirror/internal/auth"
	"mirror/internal/testenv"
)

// TestMigrationResetsUnprovenAdmins: before migration 00005, registering an
// ADMIN_EMAILS address stored role admin for whoever registered it first. The
// migration resets those roles, on both stores, so only `mirror admin grant` makes
// an admin after the upgrade.
func TestMigrationResetsUnprovenAdmins(t *testing.T) {
	urls := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "m.db") },
		"postgres": func(t *testing.T) string { return testenv.PostgresDB(t, false) },
	}
	for name, url := range urls {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db, err := Open(ctx, url(t), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			sub, err := fs.Sub(migrations, "migrations/"+string(db.dialect))
			if err != nil {
				t.Fatal(err)
			}
			gd := goose.DialectSQLite3
			if db.dialect == Postgres {
				gd = goose.DialectPostgres
			}
			p, err := goose.NewProvider(gd, db.sql, sub)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.UpTo(ctx, 4); err != nil {
				t.Fatal(err)
			}
			squatter := auth.User{ID: "u1", Email: "admin@example.com", Role: auth.RoleAdmin, CreatedAt: time.Now().UTC()}
			if err := db.CreateUser(ctx, squatter, "hash"); err != nil {
				t.Fatal(err)
			}
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			u, _, err := db.UserByEmail(ctx, "admin@example.com")
			if err != nil || u.Role != auth.RoleUser {
				t.Fatalf("after the upgrade: %+v, %v; want role user", u, err)
			}
			if err := db.SetRole(ctx, u.ID, auth.RoleAdmin); err != nil {
				t.Fatal(err)
			}
			if err := db.Migrate(ctx); err != nil { // applied once: a grant stays
				t.Fatal(err)
			}
			if admins, err := db.UsersWithRole(ctx, auth.RoleAdmin); err != nil || len(admins) != 1 || admins[0].ID != "u1" {
				t.Fatalf("admins after the grant: %+v, %v", admins, err)
			}
			if err := db.SetRole(ctx, "nobody", auth.RoleAdmin); err == nil {
				t.Fatal("SetRole of an unknown user succeeded")
			}
		})
	}
}
