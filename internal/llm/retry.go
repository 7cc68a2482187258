package llm

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sethvargo/go-retry"
)

// maxBackoff caps one exponential backoff step.
const maxBackoff = 8 * time.Second

// maxRetryAfter caps any parsed Retry-After, so that absurd values stay finite.
const maxRetryAfter = 24 * time.Hour

// retryPolicy runs attempts with jittered exponential backoff. The adapters disable
// the SDKs' own retries and use this one so that all protocols retry alike, streams
// retry only before their first delta, and every retry is observable.
type retryPolicy struct {
	provider string
	retries  int
	base     time.Duration
	maxWait  time.Duration
	log      *slog.Logger
	onRetry  func(RetryEvent)
}

// defaultRetryable is the retry rule of the issue: 429, 5xx and connection failures.
// Timeouts are not retried here (the attempt already spent its whole budget); the
// caller's fallbacks may still use Error.Retryable.
func defaultRetryable(e *Error) bool {
	switch e.Kind {
	case KindRateLimited, KindServer, KindConnection:
		return true
	}
	return false
}

// doRetry calls op until it succeeds, fails for good, or the retries are spent.
// Failures that are *Error are retried when retryable says so; any other error
// (an onDelta callback's) stops at once and is returned unchanged. If the context
// ends between attempts the result is KindCanceled or KindTimeout.
func doRetry[T any](ctx context.Context, p retryPolicy, retryable func(*Error) bool, op func(ctx context.Context) (T, error)) (T, error) {
	var (
		last    *Error
		lastErr error
		attempt int
	)
	steps := retry.WithMaxRetries(uint64(p.retries),
		retry.WithCappedDuration(maxBackoff, retry.WithJitterPercent(50, retry.NewExponential(p.base))))
	backoff := retry.BackoffFunc(func() (time.Duration, bool) {
		wait, stop := steps.Next()
		if stop {
			return 0, true
		}
		if last.RetryAfter > 0 {
			if last.RetryAfter > p.maxWait {
				return 0, true // the caller learns RetryAfter instead of waiting for it
			}
			wait = max(wait, last.RetryAfter)
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= wait {
			return 0, true // waiting would only turn this failure into a timeout
		}
		p.log.InfoContext(ctx, "retrying provider call", "provider", p.provider, "attempt", attempt,
			"kind", string(last.Kind), "status", last.Status, "wait_ms", wait.Milliseconds())
		if p.onRetry != nil {
			p.onRetry(RetryEvent{Provider: p.provider, Attempt: attempt, Err: last, Wait: wait})
		}
		return wait, false
	})
	v, err := retry.DoValue(ctx, backoff, func(ctx context.Context) (T, error) {
		attempt++
		v, err := op(ctx)
		lastErr = err
		if err == nil {
			return v, nil
		}
		if errors.As(err, &last) && retryable(last) {
			return v, retry.RetryableError(err)
		}
		return v, err
	})
	switch {
	case err == nil:
		return v, nil
	case err == lastErr:
		return v, err
	default: // the context ended before or between attempts
		return v, contextError(p.provider, ctx, err)
	}
}

// contextError reports the end of ctx as KindCanceled or KindTimeout.
func contextError(provider string, ctx context.Context, err error) *Error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || (ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded)) {
		return &Error{Provider: provider, Kind: KindTimeout, Message: "the request deadline passed before the provider answered", Err: context.DeadlineExceeded}
	}
	return &Error{Provider: provider, Kind: KindCanceled, Message: "the request was canceled", Err: context.Canceled}
}

// parseRetryAfter reads how long the upstream asks us to wait: retry-after-ms
// (OpenAI, Anthropic), then Retry-After as seconds or an HTTP date. Missing,
// negative or unparseable values give 0; huge ones are capped at a day.
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil {
			return durationOf(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		return durationOf(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter)
	}
	return 0
}

// parseGoogleDuration reads a protobuf Duration in its JSON form ("30s", "1.5s"),
// as Gemini sends in google.rpc.RetryInfo.retryDelay.
func parseGoogleDuration(s string) time.Duration {
	s = strings.TrimSpace(s)
	num, ok := strings.CutSuffix(s, "s")
	if !ok {
		return 0
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0
	}
	return durationOf(f * float64(time.Second))
}

// durationOf converts nanoseconds to a Duration in [0, maxRetryAfter].
func durationOf(ns float64) time.Duration {
	if math.IsNaN(ns) || ns <= 0 {
		return 0
	}
	if ns >= float64(maxRetryAfter) {
		return maxRetryAfter
	}
	return time.Duration(ns)
}
