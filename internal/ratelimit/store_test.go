package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a settable clock for WithClock: tests cross window boundaries by
// advancing it, never by sleeping.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// t0 is 30 s into a minute and into an hour: the minute window ends in 30 s, the
// hour window in 59 min 30 s, the second window at every whole second.
var t0 = time.Date(2030, 1, 1, 12, 0, 30, 0, time.UTC)

func mustLimiter(t testing.TB, name, spec string, store Store, clock *fakeClock) *Limiter {
	t.Helper()
	ws, err := ParseSpec(spec)
	if err != nil {
		t.Fatalf("ParseSpec(%q): %v", spec, err)
	}
	l, err := New(name, ws, store, WithClock(clock.Now))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return l
}

// step is one request of a scenario: advance the clock, then ask for key.
type step struct {
	advance    time.Duration
	key        string
	allowed    bool
	policy     string // binding window
	remaining  int
	reset      time.Duration
	retryAfter time.Duration
}

// storeScenarios are the window semantics every Store must give, run against the
// memory store and the real Redis by testStore.
var storeScenarios = []struct {
	name  string
	spec  string
	steps []step
}{
	{
		name: "minute window fills, denial until it resets",
		spec: "3/minute,5/hour",
		steps: []step{
			{key: "a", allowed: true, policy: "p-minute", remaining: 2, reset: 30 * time.Second},
			{key: "a", allowed: true, policy: "p-minute", remaining: 1, reset: 30 * time.Second},
			{advance: 10 * time.Second, key: "a", allowed: true, policy: "p-minute", remaining: 0, reset: 20 * time.Second},
			{key: "a", allowed: false, policy: "p-minute", remaining: 0, reset: 20 * time.Second, retryAfter: 20 * time.Second},
			{advance: 20*time.Second - time.Nanosecond, key: "a", allowed: false, policy: "p-minute", reset: time.Nanosecond, retryAfter: time.Nanosecond},
			// The boundary: the next minute starts, the hour has 2 of 5 left.
			{advance: time.Nanosecond, key: "a", allowed: true, policy: "p-hour", remaining: 1, reset: 59 * time.Minute},
		},
	},
	{
		// Denied requests consume nothing: three denials in minute 1 leave the hour
		// window at 3, so minute 2 admits exactly 2 more before the hour blocks.
		name: "a denied request consumes no quota in the windows that admitted",
		spec: "3/minute,5/hour",
		steps: []step{
			{key: "b", allowed: true, policy: "p-minute", remaining: 2, reset: 30 * time.Second},
			{key: "b", allowed: true, policy: "p-minute", remaining: 1, reset: 30 * time.Second},
			{key: "b", allowed: true, policy: "p-minute", remaining: 0, reset: 30 * time.Second},
			{key: "b", allowed: false, policy: "p-minute", reset: 30 * time.Second, retryAfter: 30 * time.Second},
			{key: "b", allowed: false, policy: "p-minute", reset: 30 * time.Second, retryAfter: 30 * time.Second},
			{key: "b", allowed: false, policy: "p-minute", reset: 30 * time.Second, retryAfter: 30 * time.Second},
			{advance: 30 * time.Second, key: "b", allowed: true, policy: "p-hour", remaining: 1, reset: 59 * time.Minute},
			{key: "b", allowed: true, policy: "p-hour", remaining: 0, reset: 59 * time.Minute},
			// Blocked by the hour although the minute has 1 left: Retry-After is the
			// hour's reset, and the minute's unused quota stays unused.
			{key: "b", allowed: false, policy: "p-hour", reset: 59 * time.Minute, retryAfter: 59 * time.Minute},
			{advance: 59 * time.Minute, key: "b", allowed: true, policy: "p-minute", remaining: 2, reset: time.Minute},
		},
	},
	{
		name: "two full windows: the blocking one is the one that resets last",
		spec: "1/second,1/minute",
		steps: []step{
			{key: "c", allowed: true, policy: "p-minute", remaining: 0, reset: 30 * time.Second},
			{advance: 500 * time.Millisecond, key: "c", allowed: false, policy: "p-minute", reset: 29500 * time.Millisecond, retryAfter: 29500 * time.Millisecond},
			{advance: time.Second, key: "c", allowed: false, policy: "p-minute", reset: 28500 * time.Millisecond, retryAfter: 28500 * time.Millisecond},
		},
	},
	{
		name: "keys are independent",
		spec: "1/minute",
		steps: []step{
			{key: "10.0.0.1", allowed: true, policy: "p-minute", remaining: 0, reset: 30 * time.Second},
			{key: "10.0.0.1", allowed: false, policy: "p-minute", reset: 30 * time.Second, retryAfter: 30 * time.Second},
			{key: "10.0.0.2", allowed: true, policy: "p-minute", remaining: 0, reset: 30 * time.Second},
			{key: "2001:db8::/64", allowed: true, policy: "p-minute", remaining: 0, reset: 30 * time.Second},
		},
	},
	{
		name: "a multiple-unit window is aligned to its own length",
		spec: "2/5minutes",
		steps: []step{
			// 12:00:30 lies in [12:00, 12:05).
			{key: "d", allowed: true, policy: "p-5minutes", remaining: 1, reset: 4*time.Minute + 30*time.Second},
			{advance: 4 * time.Minute, key: "d", allowed: true, policy: "p-5minutes", remaining: 0, reset: 30 * time.Second},
			{key: "d", allowed: false, policy: "p-5minutes", reset: 30 * time.Second, retryAfter: 30 * time.Second},
			{advance: 30 * time.Second, key: "d", allowed: true, policy: "p-5minutes", remaining: 1, reset: 5 * time.Minute},
		},
	},
}

// testStore runs the Store contract against the stores newStore returns (a fresh,
// empty one per call).
func testStore(t *testing.T, newStore func(t *testing.T) Store) {
	for _, sc := range storeScenarios {
		t.Run(sc.name, func(t *testing.T) {
			clock := newFakeClock(t0)
			l := mustLimiter(t, "p", sc.spec, newStore(t), clock)
			for i, st := range sc.steps {
				clock.Advance(st.advance)
				d, err := l.Allow(context.Background(), st.key)
				if err != nil {
					t.Fatalf("step %d: Allow: %v", i+1, err)
				}
				got := step{advance: st.advance, key: st.key, allowed: d.Allowed, policy: d.Policy,
					remaining: d.Remaining, reset: d.Reset, retryAfter: d.RetryAfter}
				if got != st {
					t.Errorf("step %d:\n got %+v\nwant %+v", i+1, got, st)
				}
			}
		})
	}

	t.Run("policies with the same key are independent", func(t *testing.T) {
		clock := newFakeClock(t0)
		store := newStore(t)
		gen := mustLimiter(t, "generate", "1/minute", store, clock)
		thumb := mustLimiter(t, "thumb", "1/minute", store, clock)
		for _, l := range []*Limiter{gen, thumb} {
			if d, err := l.Allow(context.Background(), "k"); err != nil || !d.Allowed {
				t.Fatalf("%s: first request: %+v, %v", l.Name(), d, err)
			}
		}
		if d, err := gen.Allow(context.Background(), "k"); err != nil || d.Allowed {
			t.Fatalf("generate: second request: %+v, %v; want denied", d, err)
		}
	})

	t.Run("peek reads the counts without counting", func(t *testing.T) {
		clock := newFakeClock(t0)
		l := mustLimiter(t, "p", "2/minute,3/hour", newStore(t), clock)
		ctx := context.Background()
		peek := func(wantAllowed, wantUsed bool, wantRetry time.Duration) {
			t.Helper()
			d, err := l.Peek(ctx, "k")
			if err != nil {
				t.Fatalf("Peek: %v", err)
			}
			if d.Allowed != wantAllowed || d.Used() != wantUsed || d.RetryAfter != wantRetry {
				t.Fatalf("Peek = allowed %v used %v retry %v, want %v %v %v", d.Allowed, d.Used(), d.RetryAfter, wantAllowed, wantUsed, wantRetry)
			}
		}
		for range 5 {
			peek(true, false, 0) // peeking counts nothing: still fresh
		}
		if d, err := l.Allow(ctx, "k"); err != nil || !d.Allowed {
			t.Fatalf("Allow: %+v, %v", d, err)
		}
		peek(true, true, 0)
		if d, err := l.Allow(ctx, "k"); err != nil || !d.Allowed {
			t.Fatalf("second Allow: %+v, %v", d, err)
		}
		peek(false, true, 30*time.Second) // the minute is full, as Allow would say
		clock.Advance(30 * time.Second)
		peek(true, true, 0) // a new minute: the hour still holds two
		if d, err := l.Peek(ctx, "other"); err != nil || !d.Allowed || d.Used() {
			t.Fatalf("another key: %+v, %v", d, err)
		}
	})

	t.Run("concurrent requests admit exactly the limit", func(t *testing.T) {
		const limit, goroutines, each = 500, 32, 50 // 1600 attempts
		clock := newFakeClock(t0)
		l := mustLimiter(t, "p", fmt.Sprintf("%d/minute,%d/hour", limit, limit*2), newStore(t), clock)
		if got := hammer(t, []*Limiter{l}, goroutines, each); got != limit {
			t.Fatalf("admitted %d of %d attempts, want exactly %d", got, goroutines*each, limit)
		}
	})
}

// hammer sends goroutines*each requests for one key, spread over limiters (one
// per simulated instance), and returns how many were admitted. Any error fails.
func hammer(t *testing.T, limiters []*Limiter, goroutines, each int) int64 {
	t.Helper()
	var admitted atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, goroutines)
	for g := range goroutines {
		l := limiters[g%len(limiters)]
		wg.Go(func() {
			<-start
			for range each {
				d, err := l.Allow(context.Background(), "shared-client")
				if err != nil {
					errs <- err
					return
				}
				if d.Allowed {
					admitted.Add(1)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Allow: %v", err)
	}
	return admitted.Load()
}

func TestMemoryStoreContract(t *testing.T) {
	testStore(t, func(*testing.T) Store { return NewMemoryStore(0) })
}
