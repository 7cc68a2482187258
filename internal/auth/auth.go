// Package auth owns MirrorScan's accounts: users and their roles, password hashing
// (argon2id), signed access tokens with expiry, logout by revoking a token, the
// CSRF token of a cookie session, and login rate limits per client and per account.
//
// Registration never grants admin: nothing proves that whoever registers an address
// owns it, so the first to register "admin@…" would otherwise be its admin. The
// admin role is stored with the account and changed only by the operator
// (GrantAdmin, RevokeAdmin: the `mirror admin` command). ADMIN_EMAILS, when set, only
// restricts it: an account whose email is not listed is never an admin, whatever is
// stored, so removing an address from the list demotes at once.
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

// FailureLimiter counts only failed attempts: Peek before the attempt, Allow after
// a failure (ratelimit.Limiter satisfies it).
type FailureLimiter interface {
	Limiter
	Peek(ctx context.Context, key string) (ratelimit.Decision, error)
}

// Options configure a Service.
type Options struct {
	Secret        string        // SECRET_KEY
	TokenLifetime time.Duration // ACCESS_TOKEN_EXPIRE_MINUTES
	AdminEmails   []string      // ADMIN_EMAILS: when set, only these may hold the admin role
	Params        Params        // zero: DefaultParams
	MaxConcurrent int           // password hashes at once; 0: 4
	// LoginLimiter is RATE_LIMIT_LOGIN: every attempt, per client; nil: none.
	LoginLimiter Limiter
	// AccountLimiter is RATE_LIMIT_LOGIN_ACCOUNT: failed attempts per account, and per
	// (account, client) pair; nil: none. See Login.
	AccountLimiter FailureLimiter
	Logger         *slog.Logger
	Now            func() time.Time // nil: time.Now
}

// Service registers users, signs them in and authenticates their tokens.
type Service struct {
	store   Store
	hasher  *hasher
	tokens  *tokens
	admins  []string
	limiter Limiter
	account FailureLimiter
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
	admins, err := NormalizeAdminEmails(o.AdminEmails)
	if err != nil {
		return nil, err
	}
	return &Service{store: store, hasher: h, admins: admins, limiter: o.LoginLimiter, account: o.AccountLimiter, log: o.Logger, now: o.Now,
		tokens: &tokens{signKey: sign, csrfKey: csrf, lifetime: o.TokenLifetime, now: o.Now}}, nil
}

// TokenLifetime is how long an access token lives.
func (s *Service) TokenLifetime() time.Duration { return s.tokens.lifetime }

// roleOf is u's role in effect: the stored one, except that an admin whose email
// is not in a set ADMIN_EMAILS is a user.
func (s *Service) roleOf(u User) Role {
	if u.Role == RoleAdmin && adminAllowed(s.admins, u.Email) {
		return RoleAdmin
	}
	return RoleUser
}

func adminAllowed(admins []string, email string) bool {
	return len(admins) == 0 || slices.Contains(admins, email)
}

// NormalizeAdminEmails normalizes ADMIN_EMAILS as NormalizeEmail does; an entry
// that is not a plain ASCII address is an error naming it.
func NormalizeAdminEmails(list []string) ([]string, error) {
	out := make([]string, 0, len(list))
	for _, e := range list {
		n, ok := NormalizeEmail(e)
		if !ok {
			return nil, fmt.Errorf("ADMIN_EMAILS: %q is not a plain ASCII email address", e)
		}
		out = append(out, n)
	}
	return out, nil
}

// Registration is the input of Register.
type Registration struct {
	Email    string
	Password string
	FullName string
}

// Password length bounds: at least 8 characters not counting whitespace (NIST SP
// 800-63B), at most 1 KiB so a huge password cannot be used to make hashing
// expensive. checkPassword has the rest of the policy.
const (
	minPassword = 8
	maxPassword = 1024
	maxFullName = 200
	maxEmail    = 254
)

// NormalizeEmail returns the one spelling under which an address is stored and
// looked up: surrounding whitespace trimmed, ASCII letters lower-cased. It refuses
// (false) anything but a plain address (no display name, a dot in the domain) and
// any address with a non-ASCII character. The check for ASCII comes before any
// folding: Unicode case mapping and compatibility normalization (NFKC) turn
// lookalikes into ASCII letters (KELVIN SIGN U+212A lower-cases to "k", FULLWIDTH
// "ａ" is "a" under NFKC), so folding first would let "\u212Aadmin@…" be stored as,
// or collide with, "kadmin@…". Internationalized addresses (RFC 6531) are therefore
// not supported.
func NormalizeEmail(e string) (string, bool) {
	e = strings.TrimSpace(e)
	if e == "" || len(e) > maxEmail {
		return "", false
	}
	for i := 0; i < len(e); i++ {
		if e[i] >= utf8.RuneSelf || e[i] < 0x20 || e[i] == 0x7f {
			return "", false
		}
	}
	e = strings.ToLower(e)
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || !strings.Contains(e[strings.LastIndexByte(e, '@'):], ".") {
		return "", false
	}
	return e, true
}

// legacyEmail is how an address with non-ASCII characters was stored before
// NormalizeEmail refused them (trimmed, Unicode lower-cased), so that such accounts
// can still sign in. It refuses an address that this folding turns into ASCII
// ("\u212Aadmin@…" → "kadmin@…"): that is a lookalike of an ASCII account, never
// an account of its own.
func legacyEmail(e string) (string, bool) {
	e = strings.ToLower(strings.TrimSpace(e))
	ascii := true
	for i := 0; i < len(e); i++ {
		ascii = ascii && e[i] < utf8.RuneSelf
	}
	if ascii || e == "" || len(e) > maxEmail || !utf8.ValidString(e) {
		return "", false
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e {
		return "", false
	}
	return e, true
}

// Register creates an account. Errors: validation_error naming the fields,
// conflict when the email is taken.
func (s *Service) Register(ctx context.Context, r Registration) (User, error) {
	var bad []apperr.FieldError
	email, ok := NormalizeEmail(r.Email)
	if !ok {
		bad = append(bad, apperr.FieldError{Field: "email", Message: "must be a valid email address, in ASCII"})
	}
	if fe := checkPassword(r.Password, email); fe != nil {
		bad = append(bad, *fe)
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
	// Never admin: see the package comment.
	u := User{ID: uuid.NewString(), Email: email, FullName: name, Role: RoleUser, CreatedAt: s.now().UTC().Truncate(time.Microsecond)}
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
// (which may live in Redis) hold no addresses. Every spelling that NormalizeEmail
// folds to one account has one key.
func accountKey(email string) string {
	if n, ok := NormalizeEmail(email); ok {
		email = n
	}
	d := sha256.Sum256([]byte(email))
	return "acct:" + hex.EncodeToString(d[:12])
}

// Login checks credentials and opens a session. clientKey identifies the client
// (its address). An unknown email and a wrong password get the same error after
// the same work: the unknown email is verified against a dummy hash. Errors:
// invalid_credentials, rate_limited (with RetryAfter), rate_limiter_unavailable.
//
// Guessing is bounded without letting anyone lock an account out:
//   - LoginLimiter counts every attempt of a client (RATE_LIMIT_LOGIN), whatever
//     the account: one client guesses at most that many times per window;
//   - AccountLimiter counts failed attempts per account (RATE_LIMIT_LOGIN_ACCOUNT,
//     much higher), and per (account, client). Below the account's cap anyone may
//     try. Over it, a client that has failed on this account in the window is
//     refused, while a client that has not may still try: the account's owner
//     signs in from their own client although others flood it with wrong
//     passwords, and a distributed guesser gets one more guess per fresh address.
func (s *Service) Login(ctx context.Context, email, password, clientKey string) (Session, error) {
	acct := accountKey(email)
	pair := "pair:" + acct[len("acct:"):] + ":" + clientKey
	if s.limiter != nil {
		d, err := s.limiter.Allow(ctx, "ip:"+clientKey)
		if err != nil {
			return Session{}, err
		}
		if !d.Allowed {
			s.log.WarnContext(ctx, "login rate limited", "key_kind", "client")
			return Session{}, d.Err()
		}
	}
	if s.account != nil {
		if err := s.checkAccount(ctx, acct, pair); err != nil {
			return Session{}, err
		}
	}
	sess, err := s.login(ctx, email, password)
	if err != nil && apperr.CodeOf(err) == apperr.InvalidCredentials && s.account != nil {
		// Count the failure for the account and for this client on it. A store
		// that cannot count fails the attempt closed, as the limiter does.
		for _, key := range []string{acct, pair} {
			if _, lerr := s.account.Allow(ctx, key); lerr != nil {
				return Session{}, lerr
			}
		}
	}
	return sess, err
}

// checkAccount refuses an attempt when the account is over its failure cap and
// this client has failed on it in the window (see Login).
func (s *Service) checkAccount(ctx context.Context, acct, pair string) error {
	d, err := s.account.Peek(ctx, acct)
	if err != nil || d.Allowed {
		return err
	}
	p, err := s.account.Peek(ctx, pair)
	if err != nil {
		return err
	}
	if !p.Used() {
		return nil // a client that has not failed here may try
	}
	// The client may try again when the account drops below its cap, or when this
	// client's own failures here have all expired, whichever comes first.
	var clean time.Duration
	for _, w := range p.Windows() {
		if w.Remaining < w.Limit {
			clean = max(clean, w.Reset)
		}
	}
	d.RetryAfter = min(d.RetryAfter, clean)
	s.log.WarnContext(ctx, "login rate limited", "key_kind", "account")
	return d.Err()
}

func (s *Service) login(ctx context.Context, email, password string) (Session, error) {
	if len(password) > maxPassword {
		password = password[:maxPassword+1] // still wrong, still costs the same
	}
	norm, valid := NormalizeEmail(email)
	if !valid {
		norm, valid = legacyEmail(email)
	}
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
	u.Role = s.roleOf(u)
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
	u.Role = s.roleOf(u)
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
