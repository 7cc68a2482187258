package ratelimit

import (
	"context"
	"time"
)

// Store counts requests in fixed windows. Take is the whole decision in one atomic
// step (one round trip for a remote store): it reads the counters of every window
// of the request and, only if each is below its limit, adds one to each. A denied
// request therefore consumes no quota in any window, and concurrent Takes on the
// same key never admit more than the limit of any window.
//
// Window i of a request at time now is the i-th window's fixed interval containing
// now, [k*Period, (k+1)*Period) for k = now.UnixNano() / Period; its counter is
// zero again when that interval ends. A Store returns an error, never a guess, when
// it cannot decide; the Limiter turns that into a denial.
type Store interface {
	Take(ctx context.Context, req Request) (Result, error)
}

// Request is one decision asked of a Store.
type Request struct {
	// Policy names the window set: counters of different policies are separate even
	// for the same Key. A policy name stands for one window set; the Limiter
	// guarantees that by deriving it from its name.
	Policy string
	// Key is the client, e.g. from clientip.Key.
	Key string
	// Windows are the policy's windows, 1 to MaxWindows, valid as by ParseSpec.
	Windows []Window
	// Now selects the current interval of each window (the Limiter's clock).
	Now time.Time
}

// Result is a Store's answer.
type Result struct {
	// Allowed reports whether every window had room; if so, each counted the request.
	Allowed bool
	// Counts[i] is window i's count after the decision: including this request when
	// it was allowed, unchanged when it was denied.
	Counts [MaxWindows]int64
}

// interval returns the index of the fixed interval of w containing now (Unix
// nanoseconds), and the time left until it ends.
func interval(w Window, now int64) (index int64, left time.Duration) {
	p := int64(w.Period)
	index = now / p
	if now%p < 0 { // floor division for times before 1970
		index--
	}
	return index, time.Duration((index+1)*p - now)
}
