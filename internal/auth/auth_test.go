package auth_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"mirror/internal/apperr"
	"mirror/internal/auth"
	"mirror/internal/sqlstore"
	"mirror/internal/storetest"
)

// cheap keeps tests fast; DefaultParams are exercised by the benchmark.
var cheap = auth.Params{Memory: 64, Time: 1, Threads: 1}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newStore(t *testing.T) *sqlstore.DB {
	t.Helper()
	return storetest.SQLite(t)
}

func newService(t *testing.T, o auth.Options) (*auth.Service, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	if o.Secret == "" {
		o.Secret = strings.Repeat("k", 40)
	}
	o.Params, o.Now = cheap, c.now
	s, err := auth.NewService(newStore(t), o)
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func TestRegisterLoginAuthenticate(t *testing.T) {
	ctx := context.Background()
	s, c := newService(t, auth.Options{AdminEmails: []string{"Boss@Example.com"}, TokenLifetime: time.Hour})
	u, err := s.Register(ctx, auth.Registration{Email: " Ada@Example.com ", Password: "correct horse", FullName: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "ada@example.com" || u.Role != auth.RoleUser {
		t.Fatalf("registered %+v", u)
	}
	if _, err := s.Register(ctx, auth.Registration{Email: "ada@example.com", Password: "another one"}); apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("duplicate email: %v, want conflict", err)
	}
	sess, err := s.Login(ctx, "ADA@example.com", "correct horse", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Authenticate(ctx, sess.Token)
	if err != nil || p.User.ID != u.ID {
		t.Fatalf("authenticate: %+v, %v", p, err)
	}
	if !s.CheckCSRF(p, sess.CSRFToken) || s.CheckCSRF(p, "") || s.CheckCSRF(p, sess.CSRFToken+"x") {
		t.Fatal("CSRF token check is wrong")
	}
	// Expiry.
	c.add(time.Hour + time.Second)
	if _, err := s.Authenticate(ctx, sess.Token); apperr.CodeOf(err) != apperr.Unauthorized {
		t.Fatalf("expired token: %v", err)
	}
}

func TestSameAnswerForUnknownEmailAndWrongPassword(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t, auth.Options{})
	if _, err := s.Register(ctx, auth.Registration{Email: "a@example.com", Password: "plum orchard 7"}); err != nil {
		t.Fatal(err)
	}
	_, e1 := s.Login(ctx, "a@example.com", "wrong password", "k")
	_, e2 := s.Login(ctx, "nobody@example.com", "wrong password", "k")
	_, e3 := s.Login(ctx, "not an email", "wrong password", "k")
	for _, e := range []error{e1, e2, e3} {
		ae, ok := apperr.As(e)
		if !ok || ae.Code != apperr.InvalidCredentials || ae.Message != "Incorrect email or password." {
			t.Fatalf("login error %v, want the one invalid_credentials answer", e)
		}
	}
}

func TestRegisterValidation(t *testing.T) {
	s, _ := newService(t, auth.Options{})
	cases := []struct {
		r     auth.Registration
		field string
	}{
		{auth.Registration{Email: "x", Password: "plum orchard 7"}, "email"},
		{auth.Registration{Email: "A <a@example.com>", Password: "plum orchard 7"}, "email"},
		{auth.Registration{Email: "a@localhost", Password: "plum orchard 7"}, "email"},
		{auth.Registration{Email: "a@example.com", Password: "short"}, "password"},
		{auth.Registration{Email: "a@example.com", Password: strings.Repeat("p", 1025)}, "password"},
		{auth.Registration{Email: "a@example.com", Password: "plum orchard 7", FullName: strings.Repeat("n", 201)}, "full_name"},
	}
	for _, c := range cases {
		_, err := s.Register(context.Background(), c.r)
		ae, ok := apperr.As(err)
		if !ok || ae.Code != apperr.Invalid || len(ae.Fields) == 0 || ae.Fields[0].Field != c.field {
			t.Errorf("Register(%+v) = %v, want validation error on %s", c.r, err, c.field)
		}
	}
}

func TestForgedAndRevokedTokens(t *testing.T) {
	ctx := context.Background()
	s, c := newService(t, auth.Options{})
	other, _ := newService(t, auth.Options{Secret: strings.Repeat("z", 40)})
	s.Register(ctx, auth.Registration{Email: "a@example.com", Password: "plum orchard 7"})
	other.Register(ctx, auth.Registration{Email: "a@example.com", Password: "plum orchard 7"})
	good, _ := s.Login(ctx, "a@example.com", "plum orchard 7", "k")
	foreign, _ := other.Login(ctx, "a@example.com", "plum orchard 7", "k")
	none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": "x", "jti": "y", "iss": "mirror", "aud": "mirror-api",
		"exp": c.now().Add(time.Hour).Unix()})
	noneTok, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	parts := strings.Split(good.Token, ".")
	tampered := parts[0] + "." + parts[1] + "x." + parts[2]
	for name, tok := range map[string]string{"other secret": foreign.Token, "alg none": noneTok, "tampered": tampered, "garbage": "abc", "empty": ""} {
		if _, err := s.Authenticate(ctx, tok); apperr.CodeOf(err) != apperr.Unauthorized {
			t.Errorf("%s token: %v, want unauthorized", name, err)
		}
	}
	p, err := s.Authenticate(ctx, good.Token)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Logout(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := s.Logout(ctx, p); err != nil {
		t.Fatalf("second logout: %v", err)
	}
	if _, err := s.Authenticate(ctx, good.Token); apperr.CodeOf(err) != apperr.Unauthorized {
		t.Fatalf("revoked token: %v", err)
	}
}

func BenchmarkVerifyDefaultParams(b *testing.B) {
	ctx := context.Background()
	db := storetest.SQLite(b)
	s, err := auth.NewService(db, auth.Options{Secret: strings.Repeat("k", 40)})
	if err != nil {
		b.Fatal(err)
	}
	s.Register(ctx, auth.Registration{Email: "a@example.com", Password: "plum orchard 7"})
	for b.Loop() {
		s.Login(ctx, "a@example.com", "wrong password", "k")
	}
}
