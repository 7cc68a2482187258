package ratelimit

import (
	"strconv"
	"strings"
	"time"
)

// HeaderSetter is the part of http.Header that WriteHeaders needs. Taking it rather
// than http.Header keeps net/http out of this domain package (dependencies point
// inward) while the HTTP layer still calls d.WriteHeaders(w.Header()) directly.
type HeaderSetter interface {
	Set(key, value string)
}

// The header field names written by WriteHeaders.
const (
	HeaderRetryAfter      = "Retry-After"
	HeaderRateLimitPolicy = "RateLimit-Policy"
	HeaderRateLimit       = "RateLimit"
)

// WriteHeaders sets the rate-limit response headers of d, following the current
// draft, draft-ietf-httpapi-ratelimit-headers-11 (May 2026): both fields are
// Structured Field Lists of items named by a policy identifier (sf-string), here
// one item per window:
//
//	RateLimit-Policy: "generate-minute";q=5;w=60, "generate-hour";q=30;w=3600
//	RateLimit: "generate-minute";r=0;t=42, "generate-hour";r=25;t=1842
//
// q is the window's limit, w its length in seconds, r the requests left in the
// current interval and t the seconds until it ends, rounded up so that a client
// waiting t seconds is never early. On a denial it also sets Retry-After to the
// whole seconds until the blocking window resets, at least 1 (the draft: Retry-After
// must not point before the end of the effective window, and it takes precedence).
//
// A Decision returned with an error has no windows: WriteHeaders sets nothing, and
// the 503 carries no rate-limit headers, since no count is known.
func (d Decision) WriteHeaders(h HeaderSetter) {
	if d.l == nil {
		return
	}
	h.Set(HeaderRateLimitPolicy, d.l.policy)
	var b strings.Builder
	for i, w := range d.l.windows {
		_, left := interval(w, d.now)
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('"')
		b.WriteString(d.l.ids[i])
		b.WriteString(`";r=`)
		b.WriteString(strconv.FormatInt(max(int64(w.Limit)-d.counts[i], 0), 10))
		b.WriteString(";t=")
		b.WriteString(strconv.FormatInt(ceilSeconds(left), 10))
	}
	h.Set(HeaderRateLimit, b.String())
	if !d.Allowed {
		h.Set(HeaderRetryAfter, strconv.FormatInt(max(ceilSeconds(d.RetryAfter), 1), 10))
	}
}

// RetryAfterSeconds returns the Retry-After value of a denial in whole seconds,
// rounded up, at least 1 (also for a Decision returned with an error, whose 503
// may be retried after a second); 0 when d allowed.
func (d Decision) RetryAfterSeconds() int {
	if d.Allowed {
		return 0
	}
	return int(max(ceilSeconds(d.RetryAfter), 1))
}

func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}
