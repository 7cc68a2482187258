package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"mirror/internal/apperr"
)

// ErrUnavailable matches (errors.Is) every error of Limiter.Allow: the store could
// not decide, so the request must be denied. The error is also an *apperr.Error
// with code apperr.RateLimiterDown (503), and wraps the store's error (and with it
// context.Canceled when the caller gave up, which callers may choose not to log).
var ErrUnavailable = errors.New("rate limiter store unavailable")

// Limiter applies one policy (a named window set) to keys, counting in a Store.
// It is safe for concurrent use; one Limiter per endpoint policy, all sharing a Store.
type Limiter struct {
	name    string
	windows []Window
	ids     []string // policy item identifier per window, e.g. "generate-minute"
	policy  string   // RateLimit-Policy field value
	store   Store
	now     func() time.Time
}

// Option configures a Limiter.
type Option func(*Limiter)

// WithClock sets the clock that places requests in windows (default: the system
// wall clock, read as time.Now would but cheaper, see wallClock).
// Tests use it to cross window boundaries without sleeping. Instances sharing a
// RedisStore use their own clocks, so they should be NTP-synchronised: a skew of d
// moves this instance's window boundaries by d.
func WithClock(now func() time.Time) Option {
	return func(l *Limiter) { l.now = now }
}

// New returns a Limiter for the policy called name with the given windows (from
// ParseSpec), counting in store. name is 1 to 64 characters of a-z, 0-9, '-', '_'
// and '.': it names the store's counters and the RateLimit header items, so two
// Limiters with the same name share their counts. Windows are validated as by
// ParseSpec.
func New(name string, windows []Window, store Store, opts ...Option) (*Limiter, error) {
	if !validName(name) {
		return nil, fmt.Errorf("rate limit policy name %q: want 1 to 64 characters of a-z, 0-9, '-', '_', '.'", name)
	}
	if err := validate(windows); err != nil {
		return nil, fmt.Errorf("rate limit policy %q: %w", name, err)
	}
	if store == nil {
		return nil, fmt.Errorf("rate limit policy %q: nil store", name)
	}
	l := &Limiter{
		name:    name,
		windows: append([]Window(nil), windows...),
		store:   store,
		now:     newWallClock().Now,
	}
	items := make([]string, len(windows))
	for i, w := range l.windows {
		// Identifiers are sf-strings; validName keeps them free of '"' and '\'.
		l.ids = append(l.ids, name+"-"+w.unitLabel())
		items[i] = fmt.Sprintf("%q;q=%d;w=%d", l.ids[i], w.Limit, int64(w.Period/time.Second))
	}
	l.policy = strings.Join(items, ", ")
	for _, o := range opts {
		o(l)
	}
	return l, nil
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Name returns the policy name given to New.
func (l *Limiter) Name() string { return l.name }

// Windows returns a copy of the policy's windows.
func (l *Limiter) Windows() []Window { return append([]Window(nil), l.windows...) }

// Allow decides one request for key (a client key such as clientip.Key's) in one
// store round trip. A request is allowed only if every window has room, and then
// counts in all of them; a denied request counts in none.
//
// When the store fails, Allow returns a Decision that does not allow and an error
// matching ErrUnavailable and carrying apperr.RateLimiterDown: deny with 503, log
// and count it. There is no fallback that admits.
func (l *Limiter) Allow(ctx context.Context, key string) (d Decision, err error) {
	now := l.now()
	res, err := l.store.Take(ctx, Request{Policy: l.name, Key: key, Windows: l.windows, Now: now})
	if err != nil {
		return l.unavailable(err)
	}
	l.decide(&d, &res, now.UnixNano())
	return d, nil
}

// unavailable is the answer when the store cannot decide: a Decision that does not
// allow, and an error matching ErrUnavailable that maps to 503.
func (l *Limiter) unavailable(err error) (Decision, error) {
	return Decision{Policy: l.name}, &apperr.Error{
		Code:    apperr.RateLimiterDown,
		Message: unavailableMessage,
		Err:     fmt.Errorf("rate limit %s: %w: %w", l.name, ErrUnavailable, err),
	}
}

// decide builds the Decision for a store Result. The binding window is the one
// with the fewest requests left and, on a tie, the one that resets last. For a
// denied request that is the blocking window: the full windows are exactly those
// with nothing left, and the request cannot pass before the last of them resets.
func (l *Limiter) decide(d *Decision, res *Result, now int64) {
	*d = Decision{Allowed: res.Allowed, l: l, counts: res.Counts, now: now}
	bind := -1
	for i, w := range l.windows {
		_, left := interval(w, now)
		remaining := int(max(int64(w.Limit)-res.Counts[i], 0))
		if bind < 0 || remaining < d.Remaining || remaining == d.Remaining && left > d.Reset {
			bind = i
			d.Limit, d.Remaining, d.Reset = w.Limit, remaining, left
		}
	}
	d.Policy = l.ids[bind]
	if !res.Allowed {
		d.RetryAfter = d.Reset
	}
}

// Decision is the outcome of Limiter.Allow.
type Decision struct {
	// Allowed reports whether the request may proceed.
	Allowed bool
	// Limit and Remaining are those of the binding window: for an allowed request,
	// the window with the fewest requests left; for a denied one, the blocking
	// window (Remaining 0).
	Limit, Remaining int
	// Reset is the time until the binding window resets.
	Reset time.Duration
	// RetryAfter, for a denied request, is the time until the blocking window (the
	// full window that resets last) resets, when the request could first be allowed.
	// Zero when allowed.
	RetryAfter time.Duration
	// Policy identifies the binding window as in the RateLimit headers, e.g.
	// "generate-minute". On a store error it is the Limiter's name.
	Policy string

	l      *Limiter
	counts [MaxWindows]int64
	now    int64
}

// Err returns nil when d allowed, and otherwise the error for the envelope: for a
// denial, an *apperr.Error with code apperr.RateLimited (429) and RetryAfter in
// seconds, which the message also gives ("retry in 30 seconds"); for the Decision
// of a failed Allow, one with apperr.RateLimiterDown
// (503), so that even a caller that ignored Allow's error denies.
func (d Decision) Err() error {
	switch {
	case d.Allowed:
		return nil
	case d.l == nil:
		return &apperr.Error{Code: apperr.RateLimiterDown, Message: unavailableMessage, RetryAfter: d.RetryAfterSeconds()}
	}
	secs := d.RetryAfterSeconds()
	return &apperr.Error{
		Code:       apperr.RateLimited,
		Message:    fmt.Sprintf("Too many requests; retry in %d %s (Retry-After).", secs, plural(secs, "second", "seconds")),
		RetryAfter: secs,
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

const unavailableMessage = "Rate limiting is unavailable; try again shortly."

// Windows returns the state of each of the policy's windows, in the Limiter's
// order; nil for the zero Decision or one returned with an error.
func (d Decision) Windows() []WindowState {
	if d.l == nil {
		return nil
	}
	out := make([]WindowState, len(d.l.windows))
	for i, w := range d.l.windows {
		_, left := interval(w, d.now)
		out[i] = WindowState{Window: w, ID: d.l.ids[i], Remaining: int(max(int64(w.Limit)-d.counts[i], 0)), Reset: left}
	}
	return out
}

// WindowState is one window's state after a decision.
type WindowState struct {
	Window
	// ID identifies the window in the RateLimit headers.
	ID        string
	Remaining int
	Reset     time.Duration
}
