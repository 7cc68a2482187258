// Package auth owns MirrorScan's accounts: users and their roles, password hashing
// (argon2id), signed access tokens with expiry, logout by revoking a token, the
// CSRF token of a cookie session, and login rate limits per account and per client.
//
// A user is an admin when their email is in ADMIN_EMAILS; the role is decided at
// every authentication, so removing an address from the list demotes at once.
package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"mirror/internal/apperr"
	"mirror/internal/ratelimit"
)

// Role is what a user may do.
type Role string

// The two roles of API.md.
const (
	RoleUser  Role = "user"
	RoleAdmin Role = "admin"
)

// User is an account. The password hash never leaves the store and this package.
type User struct {
	ID        string
	Email     string
	FullName  string
	Role      Role
	CreatedAt time.Time
}

// Principal is an authenticated request's user and the session it came with.
type Principal struct {
	User User
	// TokenID is the token's jti: logout revokes it.
	TokenID   string
	ExpiresAt time.Time
}

// Admin reports whether the principal has the admin role.
func (p Principal) Admin() bool { return p.User.Role == RoleAdmin }

// Store keeps users and revoked tokens.
type Store interface {
	// CreateUser stores u; a taken email is an apperr.Conflict.
	CreateUser(ctx context.Context, u User, passwordHash string) error
	// UserByEmail returns the user and password hash; unknown is apperr.NotFound.
	UserByEmail(ctx context.Context, email string) (User, string, error)
	// UserForToken returns the user and whether token jti was revoked, in one query.
	UserForToken(ctx context.Context, userID, jti string) (User, bool, error)
	// RevokeToken records jti as revoked until expires (after which it is dead anyway).
	RevokeToken(ctx context.Context, jti string, expires time.Time) error
}

// Limiter admits or refuses an attempt for a key (ratelimit.Limiter satisfies it).
type Limiter interface {
	Allow(ctx context.Context, key string) (ratelimit.Decision, error)
}

// Options configure a Service.
type Options struct {
	Secret        string        // SECRET_KEY
	TokenLifetime time.Duration // ACCESS_TOKEN_EXPIRE_MINUTES
	AdminEmails   []string      // ADMIN_EMAILS (lower-cased)
	Params        Params        // zero: DefaultParams
	MaxConcurrent int           // password hashes at once; 0: 4
	LoginLimiter  Limiter       // RATE_LIMIT_LOGIN, keyed per account and per client; nil: none
	Logger        *slog.Logger
	Now           func() time.Time // nil: time.Now
}

// Service registers users, signs them in and authenticates their tokens.
type Service struct {
	store   Store
	hasher  *hasher
	tokens  *tokens
	admins  []string
	limiter Limiter
	log     *slog.Logger
	now     func() time.Time
}

// NewService returns a Service. It fails when the secret is empty.
func NewService(store Store, o Options) (*Service, error) {
	if o.Params == (Params{}) {
		o.Params = DefaultParams
	}
	if o.MaxConcurrent == 0 {
		o.MaxConcurrent = 4
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.TokenLifetime <= 0 {
		o.TokenLifetime = time.Hour
	}
	sign, err := DeriveKey(o.Secret, "access-token")
	if err != nil {
		return nil, err
	}
	csrf, err := DeriveKey(o.Secret, "csrf")
	if err != nil {
		return nil, err
	}
	h, err := newHasher(o.Params, o.MaxConcurrent)
	if err != nil {
		return nil, err
	}
	admins := make([]string, 0, len(o.AdminEmails))
	for _, e := range o.AdminEmails {
		admins = append(admins, strings.ToLower(strings.TrimSpace(e)))
	}
	return &Service{store: store, hasher: h, admins: admins, limiter: o.LoginLimiter, log: o.Logger, now: o.Now,
		tokens: &tokens{signKey: sign, csrfKey: csrf, lifetime: o.TokenLifetime, now: o.Now}}, nil
}

// TokenLifetime is how long an access token lives.
func (s *Service) TokenLifetime() time.Duration { return s.tokens.lifetime }

func (s *Service) roleOf(email string) Role {
	if slices.Contains(s.admins, strings.ToLower(email)) {
		return RoleAdmin
	}
	return RoleUser
}

// Registration is the input of Register.
type Registration struct {
	Email    string
	Password string
	FullName string
}

// Password length bounds: at least 8 characters (NIST SP 800-63B), at most 1 KiB so
// a huge password cannot be used to make hashing expensive.
const (
	minPassword = 8
	maxPassword = 1024
	maxFullName = 200
	maxEmail    = 254
)

// normalizeEmail checks e is a plain address (no display name) and lower-cases it.
func normalizeEmail(e string) (string, bool) {
	e = strings.ToLower(strings.TrimSpace(e))
	if e == "" || len(e) > maxEmail {
		return "", false
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || !strings.Contains(e[strings.LastIndexByte(e, '@'):], ".") {
		return "", false
	}
	return e, true
}

// Register creates an account. Errors: validation_error naming the fields,
// conflict when the email is taken.
func (s *Service) Register(ctx context.Context, r Registration) (User, error) {
	var bad []apperr.FieldError
	email, ok := normalizeEmail(r.Email)
	if !ok {
		bad = append(bad, apperr.FieldError{Field: "email", Message: "must be a valid email address"})
	}
	if n := utf8.RuneCountInString(r.Password); n < minPassword {
		bad = append(bad, apperr.FieldError{Field: "password", Message: fmt.Sprintf("must be at least %d characters", minPassword)})
	} else if len(r.Password) > maxPassword {
		bad = append(bad, apperr.FieldError{Field: "password", Message: fmt.Sprintf("must be at most %d bytes", maxPassword)})
	}
	name := strings.TrimSpace(r.FullName)
	if utf8.RuneCountInString(name) > maxFullName || !utf8.ValidString(name) {
		bad = append(bad, apperr.FieldError{Field: "full_name", Message: fmt.Sprintf("must be at most %d characters", maxFullName)})
	}
	if len(bad) > 0 {
		return User{}, apperr.Validation(bad...)
	}
	hash, err := s.hasher.hash(ctx, r.Password)
	if err != nil {
		return User{}, err
	}
	u := User{ID: uuid.NewString(), Email: email, FullName: name, Role: s.roleOf(email), CreatedAt: s.now().UTC().Truncate(time.Microsecond)}
	if err := s.store.CreateUser(ctx, u, hash); err != nil {
		if apperr.CodeOf(err) == apperr.Conflict {
			return User{}, apperr.Errorf(apperr.Conflict, "An account with this email already exists.")
		}
		return User{}, fmt.Errorf("register: %w", err)
	}
	return u, nil
}

// Session is a signed-in session: the bearer token (also the session cookie's
// value), when it expires, and its CSRF token for cookie-authenticated writes.
type Session struct {
	Token     string
	ExpiresAt time.Time
	CSRFToken string
	User      User
}

// errInvalidCredentials is the one answer to a wrong password and an unknown email.
var errInvalidCredentials = apperr.Errorf(apperr.InvalidCredentials, "Incorrect email or password.")

// accountKey is the login limiter's key for an email: a digest, so limiter keys
// (which may live in Redis) hold no addresses.
func accountKey(email string) string {
	d := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	return "acct:" + hex.EncodeToString(d[:12])
}

// Login checks credentials and opens a session. clientKey identifies the client
// (its address) for the per-client limit. An unknown email and a wrong password
// get the same error after the same work: the unknown email is verified against a
// dummy hash. Errors: invalid_credentials, rate_limited (with RetryAfter),
// rate_limiter_unavailable.
func (s *Service) Login(ctx context.Context, email, password, clientKey string) (Session, error) {
	if s.limiter != nil {
		for _, key := range []string{"ip:" + clientKey, accountKey(email)} {
			d, err := s.limiter.Allow(ctx, key)
			if err != nil {
				return Session{}, err
			}
			if !d.Allowed {
				s.log.WarnContext(ctx, "login rate limited", "key_kind", key[:strings.IndexByte(key, ':')])
				return Session{}, d.Err()
			}
		}
	}
	if len(password) > maxPassword {
		password = password[:maxPassword+1] // still wrong, still costs the same
	}
	norm, valid := normalizeEmail(email)
	var u User
	hash := s.hasher.dummy
	found := false
	if valid {
		var err error
		var stored string
		u, stored, err = s.store.UserByEmail(ctx, norm)
		switch {
		case err == nil:
			hash, found = stored, true
		case apperr.CodeOf(err) != apperr.NotFound:
			return Session{}, fmt.Errorf("login: %w", err)
		}
	}
	ok, err := s.hasher.verify(ctx, password, hash)
	if err != nil {
		return Session{}, fmt.Errorf("login: verify password: %w", err)
	}
	if !ok || !found {
		return Session{}, errInvalidCredentials
	}
	u.Role = s.roleOf(u.Email)
	token, jti, exp, err := s.tokens.issue(u.ID)
	if err != nil {
		return Session{}, err
	}
	return Session{Token: token, ExpiresAt: exp, CSRFToken: s.tokens.csrf(jti), User: u}, nil
}

// errUnauthorized is the answer to any token that is not good now.
var errUnauthorized = apperr.Errorf(apperr.Unauthorized, "Not authenticated: a valid bearer token or session is required.")

// Authenticate returns the principal of token. Errors: unauthorized when the token
// is malformed, forged, expired, revoked, or its user no longer exists.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	c, err := s.tokens.parse(token)
	if err != nil {
		return Principal{}, apperr.Wrap(err, apperr.Unauthorized, errUnauthorized.Message)
	}
	u, revoked, err := s.store.UserForToken(ctx, c.Subject, c.ID)
	if err != nil {
		if apperr.CodeOf(err) == apperr.NotFound {
			return Principal{}, errUnauthorized
		}
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	if revoked {
		return Principal{}, errUnauthorized
	}
	u.Role = s.roleOf(u.Email)
	return Principal{User: u, TokenID: c.ID, ExpiresAt: c.ExpiresAt.Time}, nil
}

// CheckCSRF reports whether got is the CSRF token of the principal's session.
func (s *Service) CheckCSRF(p Principal, got string) bool {
	want := s.tokens.csrf(p.TokenID)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// CSRFToken returns the CSRF token of the principal's session.
func (s *Service) CSRFToken(p Principal) string { return s.tokens.csrf(p.TokenID) }

// Logout revokes the principal's token, so neither the cookie nor the bearer copy
// of it works again.
func (s *Service) Logout(ctx context.Context, p Principal) error {
	if err := s.store.RevokeToken(ctx, p.TokenID, p.ExpiresAt); err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	return nil
}
