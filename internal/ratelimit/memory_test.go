package ratelimit

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func allow(t *testing.T, l *Limiter, key string) Decision {
	t.Helper()
	d, err := l.Allow(context.Background(), key)
	if err != nil {
		t.Fatalf("Allow(%q): %v", key, err)
	}
	return d
}

// TestMemoryStoreCapFailsSafe fills a store of 4 keys and checks that new keys then
// share one overflow counter (bounded admission), that tracked keys keep their own
// counts, and that expired entries make room again.
func TestMemoryStoreCapFailsSafe(t *testing.T) {
	store := NewMemoryStore(4)
	clock := newFakeClock(t0)
	l := mustLimiter(t, "p", "2/minute", store, clock)
	for i := range 4 {
		if d := allow(t, l, fmt.Sprint("tracked-", i)); !d.Allowed {
			t.Fatalf("tracked-%d denied below the cap", i)
		}
	}
	if st := store.Stats(); st.Keys != 4 || st.MaxKeys != 4 || st.Overflowed != 0 {
		t.Fatalf("Stats after filling = %+v", st)
	}

	// 100 new keys at the cap: together they get the policy's limit, 2, no more.
	admitted := 0
	for i := range 100 {
		if allow(t, l, fmt.Sprint("flood-", i)).Allowed {
			admitted++
		}
	}
	if admitted != 2 {
		t.Errorf("untracked keys at the cap admitted %d times, want exactly the limit 2", admitted)
	}
	// A tracked key is not disturbed: it has one request left, then none.
	if !allow(t, l, "tracked-0").Allowed {
		t.Error("tracked-0 denied with quota left")
	}
	if allow(t, l, "tracked-0").Allowed {
		t.Error("tracked-0 admitted past its limit")
	}
	if st := store.Stats(); st.Keys != 4 || st.Overflowed != 100 {
		t.Errorf("Stats during the flood = %+v, want 4 keys, 100 overflowed", st)
	}

	// When the minute ends, every entry has expired: the next new key sweeps them
	// and is tracked on its own.
	clock.Advance(30 * time.Second)
	for i := range 2 {
		if !allow(t, l, "newcomer").Allowed {
			t.Errorf("newcomer request %d denied within its limit after the sweep", i+1)
		}
	}
	if allow(t, l, "newcomer").Allowed {
		t.Error("newcomer admitted past its limit: it was not tracked on its own")
	}
	if st := store.Stats(); st.Keys != 1 || st.Evicted != 4 || st.Overflowed != 100 {
		t.Errorf("Stats after the sweep = %+v, want 1 key, 4 evicted", st)
	}
}

// TestMemoryStoreKeepsLiveEntries checks that a sweep removes only entries whose
// every window has ended: an hour window keeps its key alive past the minute.
func TestMemoryStoreKeepsLiveEntries(t *testing.T) {
	store := NewMemoryStore(2)
	clock := newFakeClock(t0)
	l := mustLimiter(t, "p", "1/minute,2/hour", store, clock)
	allow(t, l, "a")
	allow(t, l, "b")
	clock.Advance(time.Minute) // minute windows over, hour windows live
	allow(t, l, "c")           // sweeps: nothing expired, c overflows
	if st := store.Stats(); st.Keys != 2 || st.Evicted != 0 || st.Overflowed != 1 {
		t.Fatalf("Stats = %+v, want 2 live keys kept, c in overflow", st)
	}
	// a's hour count survived: one more is allowed, then the hour blocks.
	if !allow(t, l, "a").Allowed {
		t.Error("a denied with hour quota left")
	}
	clock.Advance(time.Minute)
	if d := allow(t, l, "a"); d.Allowed || d.Policy != "p-hour" {
		t.Errorf("a: %+v, want denied by the hour window", d)
	}
}

func TestMemoryStoreShards(t *testing.T) {
	for _, tt := range []struct{ maxKeys, shards, perShard int }{
		{1, 1, 1}, {511, 1, 511}, {512, 2, 256}, {DefaultMaxKeys, 64, DefaultMaxKeys / 64}, {1 << 30, 64, 1 << 24},
	} {
		s := NewMemoryStore(tt.maxKeys)
		if len(s.shards) != tt.shards || s.perShard != tt.perShard {
			t.Errorf("NewMemoryStore(%d): %d shards of %d, want %d of %d",
				tt.maxKeys, len(s.shards), s.perShard, tt.shards, tt.perShard)
		}
	}
}
