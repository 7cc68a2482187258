package ratelimit

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"mirror/internal/apperr"
)

func TestNewRejects(t *testing.T) {
	ok := []Window{{5, time.Minute}}
	store := NewMemoryStore(0)
	tests := []struct {
		name    string
		windows []Window
		store   Store
	}{
		{"", ok, store},
		{"Generate", ok, store},
		{`gen"erate`, ok, store},
		{"a b", ok, store},
		{string(make([]byte, 65)), ok, store},
		{"generate", nil, store},
		{"generate", []Window{{0, time.Minute}}, store},
		{"generate", ok, nil},
	}
	for _, tt := range tests {
		if _, err := New(tt.name, tt.windows, tt.store); err == nil {
			t.Errorf("New(%q, %v, %v) = nil error", tt.name, tt.windows, tt.store)
		}
	}
}

func TestWriteHeaders(t *testing.T) {
	clock := newFakeClock(t0.Add(200 * time.Millisecond)) // t rounds up: 29.8 s → 30
	l := mustLimiter(t, "generate", "2/minute,30/hour", NewMemoryStore(0), clock)
	ctx := context.Background()

	d, err := l.Allow(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	d.WriteHeaders(h)
	want := http.Header{
		"Ratelimit-Policy": {`"generate-minute";q=2;w=60, "generate-hour";q=30;w=3600`},
		"Ratelimit":        {`"generate-minute";r=1;t=30, "generate-hour";r=29;t=3570`},
	}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("allowed headers (-want +got):\n%s", diff)
	}

	if _, err := l.Allow(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	d, err = l.Allow(ctx, "k")
	if err != nil || d.Allowed {
		t.Fatalf("third request: %+v, %v; want denied", d, err)
	}
	h = http.Header{}
	d.WriteHeaders(h)
	want = http.Header{
		"Ratelimit-Policy": {`"generate-minute";q=2;w=60, "generate-hour";q=30;w=3600`},
		"Ratelimit":        {`"generate-minute";r=0;t=30, "generate-hour";r=28;t=3570`},
		"Retry-After":      {"30"},
	}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("denied headers (-want +got):\n%s", diff)
	}
	if got := d.RetryAfterSeconds(); got != 30 {
		t.Errorf("RetryAfterSeconds = %d, want 30", got)
	}
	var ae *apperr.Error
	if !errors.As(d.Err(), &ae) || ae.Code != apperr.RateLimited || ae.RetryAfter != 30 {
		t.Errorf("Err() = %#v, want rate_limited with RetryAfter 30", d.Err())
	}

	wantWindows := []WindowState{
		{Window: Window{2, time.Minute}, ID: "generate-minute", Remaining: 0, Reset: 29800 * time.Millisecond},
		{Window: Window{30, time.Hour}, ID: "generate-hour", Remaining: 28, Reset: 59*time.Minute + 29800*time.Millisecond},
	}
	if diff := cmp.Diff(wantWindows, d.Windows()); diff != "" {
		t.Errorf("Windows() (-want +got):\n%s", diff)
	}
}

func TestRetryAfterIsAtLeastOneSecond(t *testing.T) {
	// 1 ns before the second ends: Retry-After must still be 1, never 0.
	clock := newFakeClock(t0.Add(time.Second - time.Nanosecond))
	l := mustLimiter(t, "p", "1/second", NewMemoryStore(0), clock)
	l.Allow(context.Background(), "k")
	d, err := l.Allow(context.Background(), "k")
	if err != nil || d.Allowed {
		t.Fatalf("second request: %+v, %v; want denied", d, err)
	}
	h := http.Header{}
	d.WriteHeaders(h)
	if got := h.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want 1", got)
	}
	if got := h.Get("RateLimit"); got != `"p-second";r=0;t=1` {
		t.Errorf("RateLimit = %q", got)
	}
}

// failingStore is a Store that cannot answer, as a dead Redis.
type failingStore struct{ err error }

func (s failingStore) Take(context.Context, Request) (Result, error) {
	return Result{Allowed: true}, s.err
}

func TestAllowFailsClosed(t *testing.T) {
	cause := errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
	l := mustLimiter(t, "generate", "5/minute", failingStore{cause}, newFakeClock(t0))
	d, err := l.Allow(context.Background(), "k")
	if d.Allowed {
		t.Fatal("a store error admitted the request")
	}
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, cause) {
		t.Errorf("err = %v, want it to match ErrUnavailable and the cause", err)
	}
	if code := apperr.CodeOf(err); code != apperr.RateLimiterDown {
		t.Errorf("CodeOf(err) = %q, want %q", code, apperr.RateLimiterDown)
	}
	h := http.Header{}
	d.WriteHeaders(h)
	if len(h) != 0 {
		t.Errorf("headers written for a failed decision: %v", h)
	}
	if code := apperr.CodeOf(d.Err()); d.Err() == nil || code != apperr.RateLimiterDown {
		t.Errorf("Decision.Err() of a failed decision = %v, want %s", d.Err(), apperr.RateLimiterDown)
	}
}

func TestAllowKeepsContextCancellation(t *testing.T) {
	l := mustLimiter(t, "p", "5/minute", failingStore{context.Canceled}, newFakeClock(t0))
	_, err := l.Allow(context.Background(), "k")
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrUnavailable) {
		t.Errorf("err = %v, want context.Canceled and ErrUnavailable in its chain", err)
	}
}
