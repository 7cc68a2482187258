package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"mirror/internal/apperr"
	"mirror/internal/auth"
)

// exerciseUsers: accounts, their roles and the revocation of their tokens.
func exerciseUsers(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	user := func(t *testing.T, email string, at time.Time) auth.User {
		return auth.User{ID: newID(t), Email: email, FullName: "Ada «L» 👋", Role: auth.RoleUser, CreatedAt: at.UTC().Truncate(time.Microsecond)}
	}

	t.Run("a user comes back by email with its hash, and an email is taken once", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		u := user(t, "ada@example.com", time.Now())
		if err := s.CreateUser(ctx, u, "hash-1"); err != nil {
			t.Fatal(err)
		}
		got, hash, err := s.UserByEmail(ctx, "ada@example.com")
		if err != nil || hash != "hash-1" {
			t.Fatalf("by email: %q %v", hash, err)
		}
		if d := cmp.Diff(u, got); d != "" {
			t.Errorf("stored user differs (-want +got):\n%s", d)
		}
		if err := s.CreateUser(ctx, user(t, "ada@example.com", time.Now()), "hash-2"); apperr.CodeOf(err) != apperr.Conflict {
			t.Errorf("a second user with a taken email: %v, want conflict", err)
		}
		if _, _, err := s.UserByEmail(ctx, "nobody@example.com"); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("unknown email: %v, want not_found", err)
		}
	})

	t.Run("a revoked token stays revoked until purged after its expiry", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		u := user(t, "bo@example.com", time.Now())
		if err := s.CreateUser(ctx, u, "h"); err != nil {
			t.Fatal(err)
		}
		got, revoked, err := s.UserForToken(ctx, u.ID, "jti-old")
		if err != nil || revoked || got.ID != u.ID || got.Email != u.Email {
			t.Fatalf("before revocation: %+v %v %v", got, revoked, err)
		}
		now := time.Now().UTC()
		for range 2 { // revoking twice is not an error
			if err := s.RevokeToken(ctx, "jti-old", now.Add(-time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.RevokeToken(ctx, "jti-live", now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		for _, jti := range []string{"jti-old", "jti-live"} {
			if _, revoked, err := s.UserForToken(ctx, u.ID, jti); err != nil || !revoked {
				t.Errorf("%s after revocation: %v %v", jti, revoked, err)
			}
		}
		if n, err := s.PurgeRevokedTokens(ctx, now); n != 1 || err != nil {
			t.Errorf("purged %d (%v), want the one expired", n, err)
		}
		if _, revoked, err := s.UserForToken(ctx, u.ID, "jti-live"); err != nil || !revoked {
			t.Errorf("an unexpired revocation was purged: %v %v", revoked, err)
		}
		if _, _, err := s.UserForToken(ctx, newID(t), "jti-live"); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("token of an unknown user: %v, want not_found", err)
		}
	})

	t.Run("roles are set per user and listed oldest first", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		at := time.Now().Add(-time.Hour)
		older, newer, plain := user(t, "old@example.com", at), user(t, "new@example.com", at.Add(time.Minute)), user(t, "u@example.com", at)
		for _, u := range []auth.User{newer, plain, older} {
			if err := s.CreateUser(ctx, u, "h"); err != nil {
				t.Fatal(err)
			}
		}
		for _, u := range []auth.User{newer, older} {
			if err := s.SetRole(ctx, u.ID, auth.RoleAdmin); err != nil {
				t.Fatal(err)
			}
		}
		admins, err := s.UsersWithRole(ctx, auth.RoleAdmin)
		if err != nil || len(admins) != 2 || admins[0].ID != older.ID || admins[1].ID != newer.ID || admins[0].Role != auth.RoleAdmin {
			t.Errorf("admins: %+v %v; want %s then %s", admins, err, older.ID, newer.ID)
		}
		if users, err := s.UsersWithRole(ctx, auth.RoleUser); err != nil || len(users) != 1 || users[0].ID != plain.ID {
			t.Errorf("users: %+v %v", users, err)
		}
		if err := s.SetRole(ctx, newID(t), auth.RoleAdmin); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("role of an unknown user: %v, want not_found", err)
		}
	})
}
