package auth

import (
	"context"
	"strings"
	"testing"
	"time"

	"mirror/internal/apperr"
)

// memStore is the auth.Store of this test: users by email.
type memStore struct {
	users map[string]struct {
		u    User
		hash string
	}
}

func (m *memStore) CreateUser(_ context.Context, u User, hash string) error {
	m.users[u.Email] = struct {
		u    User
		hash string
	}{u, hash}
	return nil
}

func (m *memStore) UserByEmail(_ context.Context, email string) (User, string, error) {
	r, ok := m.users[email]
	if !ok {
		return User{}, "", apperr.Errorf(apperr.NotFound, "User not found.")
	}
	return r.u, r.hash, nil
}

func (m *memStore) UserForToken(context.Context, string, string) (User, bool, error) {
	return User{}, false, apperr.Errorf(apperr.NotFound, "User not found.")
}

func (m *memStore) RevokeToken(context.Context, string, time.Time) error { return nil }

// TestLegacyNonASCIIAccountsStillSignIn: an account stored with a non-ASCII address
// before such addresses were refused still signs in with its password, while an
// address that Unicode lower-casing turns into ASCII (the Kelvin sign) is not looked
// up as the ASCII account.
func TestLegacyNonASCIIAccountsStillSignIn(t *testing.T) {
	ctx := context.Background()
	st := &memStore{users: map[string]struct {
		u    User
		hash string
	}{}}
	s, err := NewService(st, Options{Secret: strings.Repeat("k", 40), Params: Params{Memory: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	hash, err := s.hasher.hash(ctx, "plum orchard 7")
	if err != nil {
		t.Fatal(err)
	}
	st.CreateUser(ctx, User{ID: "1", Email: "jörg@example.com", Role: RoleUser}, hash)
	st.CreateUser(ctx, User{ID: "2", Email: "kadmin@example.com", Role: RoleUser}, hash)
	if _, err := s.Login(ctx, " JÖRG@example.com", "plum orchard 7", "c"); err != nil {
		t.Fatalf("legacy non-ASCII account: %v", err)
	}
	if _, err := s.Login(ctx, "\u212Aadmin@example.com", "plum orchard 7", "c"); apperr.CodeOf(err) != apperr.InvalidCredentials {
		t.Fatalf("Kelvin-sign login to kadmin@: %v, want invalid_credentials", err)
	}
	if _, err := s.Register(ctx, Registration{Email: "jörg2@example.com", Password: "plum orchard 7"}); apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("registering a non-ASCII address: %v, want validation_error", err)
	}
}
