package auth_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"mirror/internal/apperr"
	"mirror/internal/auth"
	"mirror/internal/ratelimit"
	"mirror/internal/sqlstore"
	"mirror/internal/testenv"
)

const goodPassword = "plum orchard 7"

// TestRegistrationNeverGrantsAdmin is the penetration test's attack: with
// ADMIN_EMAILS=admin@example.com, registering the address first in another
// spelling, or with a KELVIN SIGN that folds to "k", gave the admin role.
func TestRegistrationNeverGrantsAdmin(t *testing.T) {
	ctx := context.Background()
	db := newStore(t)
	admins := []string{"admin@example.com"}
	s, err := auth.NewService(db, auth.Options{Secret: strings.Repeat("k", 40), Params: cheap, AdminEmails: admins})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.Register(ctx, auth.Registration{Email: "Admin@Example.com ", Password: goodPassword})
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "admin@example.com" || u.Role != auth.RoleUser {
		t.Fatalf("registered %+v, want the plain user admin@example.com", u)
	}
	sess, err := s.Login(ctx, "ADMIN@example.com", goodPassword, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := s.Authenticate(ctx, sess.Token); err != nil || p.Admin() {
		t.Fatalf("the registrant of an ADMIN_EMAILS address is admin: %+v, %v", p, err)
	}
	// Lookalikes that fold to ASCII are refused, not stored as their folding.
	for _, e := range []string{"\u212Aadmin@example.com", "\uff41dmin@example.com", "admin@ex\u0430mple.com", "adm\u0131n@example.com", "admin@example.com\u200b"} {
		_, err := s.Register(ctx, auth.Registration{Email: e, Password: goodPassword})
		if ae, ok := apperr.As(err); !ok || ae.Code != apperr.Invalid || ae.Fields[0].Field != "email" {
			t.Errorf("register %q: %v, want a validation error on email", e, err)
		}
	}
	if _, _, err := db.UserByEmail(ctx, "kadmin@example.com"); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("the Kelvin-sign address was stored as kadmin@: %v", err)
	}

	// The operator's grant is what makes an admin, and takes effect on the next request.
	if _, err := auth.GrantAdmin(ctx, db, " Admin@Example.COM", admins); err != nil {
		t.Fatal(err)
	}
	if p, err := s.Authenticate(ctx, sess.Token); err != nil || !p.Admin() {
		t.Fatalf("after grant: %+v, %v", p, err)
	}
	list, err := auth.Admins(ctx, db, admins)
	if err != nil || len(list) != 1 || list[0].Email != "admin@example.com" || list[0].Role != auth.RoleAdmin {
		t.Fatalf("admins: %+v, %v", list, err)
	}
	// ADMIN_EMAILS restricts: an unlisted address cannot be granted, and a stored
	// admin that the list no longer names is a user.
	if _, err := s.Register(ctx, auth.Registration{Email: "eve@example.com", Password: goodPassword}); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.GrantAdmin(ctx, db, "eve@example.com", admins); apperr.CodeOf(err) != apperr.Forbidden {
		t.Fatalf("grant outside ADMIN_EMAILS: %v, want forbidden", err)
	}
	if _, err := auth.GrantAdmin(ctx, db, "nobody@example.com", nil); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("grant to no account: %v, want not_found", err)
	}
	if _, err := auth.GrantAdmin(ctx, db, "\u212Aadmin@example.com", nil); apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("grant to a lookalike: %v, want validation_error", err)
	}
	narrowed, err := auth.NewService(db, auth.Options{Secret: strings.Repeat("k", 40), Params: cheap, AdminEmails: []string{"boss@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := narrowed.Authenticate(ctx, sess.Token); err != nil || p.Admin() {
		t.Fatalf("admin not in ADMIN_EMAILS: %+v, %v; want a user", p, err)
	}
	if _, err := auth.RevokeAdmin(ctx, db, "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	if p, err := s.Authenticate(ctx, sess.Token); err != nil || p.Admin() {
		t.Fatalf("after revoke: %+v, %v", p, err)
	}
	if _, err := auth.NewService(db, auth.Options{Secret: strings.Repeat("k", 40), AdminEmails: []string{"\u212Aadmin@example.com"}}); err == nil {
		t.Fatal("a non-ASCII ADMIN_EMAILS entry was accepted")
	}
}

func TestNormalizeEmail(t *testing.T) {
	cases := map[string]string{
		"a@example.com":                     "a@example.com",
		"  Ada@Example.COM\t":               "ada@example.com",
		"\u00a0a@example.com":               "a@example.com", // Unicode space around is trimmed, as any space
		"\u212Aa@example.com":               "",
		"a@xn--80ak6aa92e.com":              "a@xn--80ak6aa92e.com", // punycode is ASCII
		"a@\u0435xample.com":                "",
		"A <a@example.com>":                 "",
		"a@localhost":                       "",
		"a\x00@example.com":                 "",
		"":                                  "",
		strings.Repeat("a", 250) + "@x.com": "",
	}
	for in, want := range cases {
		got, ok := auth.NormalizeEmail(in)
		if got != want || ok != (want != "") {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestPasswordPolicy(t *testing.T) {
	s, _ := newService(t, auth.Options{})
	refused := []struct{ email, password string }{
		{"a@example.com", "        "},         // the eight spaces
		{"b@example.com", "   abc    def   "}, // six characters padded with spaces
		{"c@example.com", "aaaaaaaaaaaa"},     // one character repeated
		{"d@example.com", "password1"},        // common, whatever the case and spaces
		{"e@example.com", "Password1"},
		{"f@example.com", "pass word 1"},
		{"g@example.com", "qwertyuiop"},
		{"h@example.com", "iloveyou"},
		{"i@example.com", "1234567890"},
		{"someone@example.com", "Someone@Example.com"}, // the address or its local part
		{"longername@example.com", "longername"},
		{"j@example.com", strings.Repeat("x", 1025)},
	}
	for _, c := range refused {
		_, err := s.Register(context.Background(), auth.Registration{Email: c.email, Password: c.password})
		ae, ok := apperr.As(err)
		if !ok || ae.Code != apperr.Invalid || len(ae.Fields) != 1 || ae.Fields[0].Field != "password" {
			t.Errorf("password %q: %v, want a validation error on password", c.password, err)
		}
	}
	for i, pw := range []string{"correct horse battery", "plum orchard 7", "a b c d e f g h", "Tr0ub4dor&3x"} {
		if _, err := s.Register(context.Background(), auth.Registration{Email: fmt.Sprintf("ok%d@example.com", i), Password: pw}); err != nil {
			t.Errorf("password %q refused: %v", pw, err)
		}
	}
}

// loginLimits returns RATE_LIMIT_LOGIN and RATE_LIMIT_LOGIN_ACCOUNT limiters over
// store, on a fixed clock.
func loginLimits(t *testing.T, store ratelimit.Store, perClient, perAccount string) (*ratelimit.Limiter, *ratelimit.Limiter) {
	t.Helper()
	now := func() time.Time { return time.Date(2025, 3, 1, 12, 0, 10, 0, time.UTC) }
	mk := func(name, spec string) *ratelimit.Limiter {
		w, err := ratelimit.ParseSpec(spec)
		if err != nil {
			t.Fatal(err)
		}
		l, err := ratelimit.New(name, w, store, ratelimit.WithClock(now))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	return mk("login", perClient), mk("login-account", perAccount)
}

// TestLoginLockout is the reproduction (ten wrong passwords from one
// address, then the right one from another, gave 429), and the bounds on guessing
// that must hold instead, on both counter stores.
func TestLoginLockout(t *testing.T) {
	stores := map[string]func(t *testing.T) ratelimit.Store{
		"memory": func(*testing.T) ratelimit.Store { return ratelimit.NewMemoryStore(1000) },
		"redis": func(t *testing.T) ratelimit.Store {
			opts, err := redis.ParseURL(testenv.RedisURL(t))
			if err != nil {
				t.Fatal(err)
			}
			c := redis.NewClient(opts)
			prefix := testenv.Prefix(t)
			t.Cleanup(func() {
				ctx := context.Background()
				iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
				for iter.Next(ctx) {
					c.Del(ctx, iter.Val())
				}
				c.Close()
			})
			return ratelimit.NewRedisStore(c, prefix)
		},
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			// The defaults: 10/minute,50/hour per client; the account's cap higher.
			perClient, perAccount := loginLimits(t, newStore(t), "10/minute,50/hour", "30/minute,200/hour")
			s, _ := newService(t, auth.Options{LoginLimiter: perClient, AccountLimiter: perAccount})
			if _, err := s.Register(ctx, auth.Registration{Email: "victim@example.com", Password: goodPassword}); err != nil {
				t.Fatal(err)
			}
			for i := range 10 {
				if _, err := s.Login(ctx, "victim@example.com", fmt.Sprintf("guess %d", i), "198.51.100.7"); apperr.CodeOf(err) != apperr.InvalidCredentials {
					t.Fatalf("guess %d: %v", i, err)
				}
			}
			if _, err := s.Login(ctx, "victim@example.com", goodPassword, "203.0.113.9"); err != nil {
				t.Fatalf("the owner's correct login from a clean client after another's failures: %v", err)
			}
			// The guesser is bounded by its own limit.
			_, err := s.Login(ctx, "victim@example.com", "guess 10", "198.51.100.7")
			if ae, ok := apperr.As(err); !ok || ae.Code != apperr.RateLimited || ae.RetryAfter <= 0 {
				t.Fatalf("eleventh guess from one client: %v, want rate_limited", err)
			}

			// Many clients: the account's failure cap (30/minute) fills after the
			// first 10 above and 20 more; from then on a client that has failed here
			// is refused, even with the right password, and a fresh one gets one try.
			for i := range 20 {
				client := fmt.Sprintf("10.0.%d.1", i)
				if _, err := s.Login(ctx, "Victim@example.com", "wrong "+client, client); apperr.CodeOf(err) != apperr.InvalidCredentials {
					t.Fatalf("distributed guess %d: %v", i, err)
				}
			}
			_, err = s.Login(ctx, "victim@example.com", "second wrong", "10.0.0.1")
			if ae, ok := apperr.As(err); !ok || ae.Code != apperr.RateLimited || ae.RetryAfter <= 0 || ae.RetryAfter > 60 {
				t.Fatalf("a client that failed, over the account's cap: %v, want rate_limited within the minute", err)
			}
			if _, err := s.Login(ctx, "victim@example.com", "one more", "192.0.2.50"); apperr.CodeOf(err) != apperr.InvalidCredentials {
				t.Fatalf("a fresh client's first guess over the cap: %v, want invalid_credentials", err)
			}
			if _, err := s.Login(ctx, "victim@example.com", goodPassword, "192.0.2.50"); apperr.CodeOf(err) != apperr.RateLimited {
				t.Fatalf("that client's second try: %v, want rate_limited", err)
			}
			if _, err := s.Login(ctx, "victim@example.com", goodPassword, "192.0.2.77"); err != nil {
				t.Fatalf("the owner from a clean client over the account's cap: %v", err)
			}
			// Other accounts are untouched.
			if _, err := s.Register(ctx, auth.Registration{Email: "other@example.com", Password: goodPassword}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Login(ctx, "other@example.com", goodPassword, "10.0.0.1"); err != nil {
				t.Fatalf("another account from a client that failed on the first: %v", err)
			}
		})
	}
}

var _ auth.RoleStore = (*sqlstore.DB)(nil)
