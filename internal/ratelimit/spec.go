package ratelimit

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Bounds on policies. They keep every parser and store operation bounded for any
// input: a spec longer than MaxSpecLen is refused before it is looked at, a policy
// has at most MaxWindows windows (the stores keep one fixed-size array per key), and
// a count above MaxLimit or a window above MaxPeriod is a typo, not a policy.
const (
	MaxSpecLen = 256
	MaxWindows = 4
	MaxLimit   = 1_000_000_000
	MaxPeriod  = 366 * 24 * time.Hour
)

// Window is one fixed window of a policy: at most Limit requests per Period.
// Period is a whole number of seconds (the RateLimit headers carry seconds).
type Window struct {
	Limit  int
	Period time.Duration
}

// units are the accepted unit words, with their plurals and unambiguous
// abbreviations. Single letters are refused on purpose: "5/m" reads as minute to
// some and month to others, and a rate limit must not be guessed.
var units = map[string]time.Duration{
	"second": time.Second, "seconds": time.Second, "sec": time.Second, "secs": time.Second,
	"minute": time.Minute, "minutes": time.Minute, "min": time.Minute, "mins": time.Minute,
	"hour": time.Hour, "hours": time.Hour, "hr": time.Hour, "hrs": time.Hour,
	"day": 24 * time.Hour, "days": 24 * time.Hour,
}

// ParseSpec parses a policy in the spec's syntax, as in RATE_LIMIT_GENERATE:
// comma-separated windows "COUNT/UNIT", e.g. "5/minute,30/hour". Also accepted, as
// the Python limits library (behind the spec's slowapi) accepts them: "5 per
// minute", plurals ("5/minutes"), a multiple of the unit ("100/5minutes",
// "100 per 5 minutes"), ';' as separator, the abbreviations sec, min, hr, and any
// letter case. Units are second, minute, hour and day.
//
// Errors name the offending part. Refused: an empty spec or part, a count that is
// not a positive integer up to MaxLimit, an unknown unit, a window over MaxPeriod,
// two windows with the same period, more than MaxWindows windows, and a spec longer
// than MaxSpecLen bytes. The windows are returned sorted by period, shortest first.
func ParseSpec(s string) ([]Window, error) {
	if len(s) > MaxSpecLen {
		return nil, fmt.Errorf("rate limit spec is %d bytes, at most %d are allowed", len(s), MaxSpecLen)
	}
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("rate limit spec is empty, want e.g. 5/minute,30/hour")
	}
	parts := splitParts(s)
	if len(parts) > MaxWindows {
		return nil, fmt.Errorf("rate limit spec %s has %d windows, at most %d are allowed", quote(s), len(parts), MaxWindows)
	}
	windows := make([]Window, 0, len(parts))
	for i, part := range parts {
		w, err := parseWindow(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("rate limit part %d %s: %w", i+1, quote(strings.TrimSpace(part)), err)
		}
		for _, prev := range windows {
			if prev.Period == w.Period {
				return nil, fmt.Errorf("rate limit part %d %s: a window of %s is already given as %q",
					i+1, quote(strings.TrimSpace(part)), w.Period, prev.String())
			}
		}
		windows = append(windows, w)
	}
	slices.SortFunc(windows, func(a, b Window) int { return cmp.Compare(a.Period, b.Period) })
	return windows, nil
}

// splitParts splits s at every ',' and ';', keeping empty parts so they can be named.
func splitParts(s string) []string {
	var parts []string
	for {
		i := strings.IndexAny(s, ",;")
		if i < 0 {
			return append(parts, s)
		}
		parts = append(parts, s[:i])
		s = s[i+1:]
	}
}

// parseWindow parses one trimmed part: COUNT ("/" | "per") [MULTIPLE] UNIT.
func parseWindow(p string) (Window, error) {
	if p == "" {
		return Window{}, fmt.Errorf("empty, want COUNT/UNIT such as 5/minute")
	}
	count, rest := leadingDigits(p)
	if count == "" {
		return Window{}, fmt.Errorf("the count must be a positive integer, want COUNT/UNIT such as 5/minute")
	}
	limit, err := boundedInt(count, MaxLimit)
	if err != nil {
		return Window{}, fmt.Errorf("count %w", err)
	}
	rest = strings.TrimLeft(rest, " \t")
	switch {
	case strings.HasPrefix(rest, "/"):
		rest = rest[1:]
	case len(rest) > 3 && strings.EqualFold(rest[:3], "per") && (rest[3] == ' ' || rest[3] == '\t'):
		rest = rest[4:]
	default:
		return Window{}, fmt.Errorf("want \"/\" or \"per\" after the count, as in 5/minute")
	}
	rest = strings.TrimLeft(rest, " \t")
	multiple := 1
	if digits, after := leadingDigits(rest); digits != "" {
		if multiple, err = boundedInt(digits, int(MaxPeriod/time.Second)); err != nil {
			return Window{}, fmt.Errorf("unit multiple %w", err)
		}
		rest = strings.TrimLeft(after, " \t")
	}
	unit, ok := units[strings.ToLower(rest)]
	if !ok {
		return Window{}, fmt.Errorf("unknown unit %s, want second, minute, hour or day", quote(rest))
	}
	if time.Duration(multiple) > MaxPeriod/unit {
		return Window{}, fmt.Errorf("window is longer than %s", MaxPeriod)
	}
	return Window{Limit: limit, Period: time.Duration(multiple) * unit}, nil
}

// quote quotes s for an error message, cut to 48 bytes: errors name the offending
// part without echoing unbounded input.
func quote(s string) string {
	if len(s) > 48 {
		return strconv.Quote(s[:48]) + "…"
	}
	return strconv.Quote(s)
}

// leadingDigits splits s after its leading ASCII digits.
func leadingDigits(s string) (digits, rest string) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i], s[i:]
}

// boundedInt parses ASCII digits as an integer in [1, max]. Long digit strings are
// refused without conversion, so the work is bounded and nothing overflows.
func boundedInt(digits string, max int) (int, error) {
	if len(digits) > len(strconv.Itoa(max)) {
		return 0, fmt.Errorf("%.20s… is too large, at most %d", digits, max)
	}
	n, err := strconv.Atoi(digits)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer: %w", digits, err)
	}
	if n < 1 || n > max {
		return 0, fmt.Errorf("%d is out of range, want 1 to %d", n, max)
	}
	return n, nil
}

// String formats w in the spec's syntax, e.g. "5/minute" or "100/5minutes";
// ParseSpec(w.String()) gives w back for every valid window.
func (w Window) String() string {
	return strconv.Itoa(w.Limit) + "/" + w.unitLabel()
}

// unitLabel is the UNIT part of String: "minute", or "5minutes" for a multiple.
func (w Window) unitLabel() string {
	for _, u := range []struct {
		name string
		d    time.Duration
	}{{"day", 24 * time.Hour}, {"hour", time.Hour}, {"minute", time.Minute}, {"second", time.Second}} {
		if w.Period%u.d != 0 {
			continue
		}
		if n := int64(w.Period / u.d); n != 1 {
			return strconv.FormatInt(n, 10) + u.name + "s"
		}
		return u.name
	}
	return w.Period.String() // not a whole number of seconds: refused by validate
}

// FormatSpec formats windows in the syntax of ParseSpec, e.g. "5/minute,30/hour".
func FormatSpec(windows []Window) string {
	parts := make([]string, len(windows))
	for i, w := range windows {
		parts[i] = w.String()
	}
	return strings.Join(parts, ",")
}

// validate checks windows built without ParseSpec against the same bounds.
func validate(windows []Window) error {
	if len(windows) == 0 || len(windows) > MaxWindows {
		return fmt.Errorf("a policy has 1 to %d windows, got %d", MaxWindows, len(windows))
	}
	for i, w := range windows {
		switch {
		case w.Limit < 1 || w.Limit > MaxLimit:
			return fmt.Errorf("window %d: limit %d is out of range, want 1 to %d", i+1, w.Limit, MaxLimit)
		case w.Period < time.Second || w.Period > MaxPeriod || w.Period%time.Second != 0:
			return fmt.Errorf("window %d: period %s must be whole seconds from 1s to %s", i+1, w.Period, MaxPeriod)
		}
		for _, prev := range windows[:i] {
			if prev.Period == w.Period {
				return fmt.Errorf("window %d: period %s is given twice", i+1, w.Period)
			}
		}
	}
	return nil
}
