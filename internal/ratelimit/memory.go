package ratelimit

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxKeys is the key cap of NewMemoryStore(0). An entry with its key and map
// slot takes about 150 bytes of heap (BenchmarkMemoryStoreBytesPerKey measures it),
// so the default bounds the counters to some 15 MB.
const DefaultMaxKeys = 100_000

// maxOverflowPolicies bounds the overflow counters (one per policy name). Policy
// names come from code, so this is only a backstop against a caller that derives
// them from input.
const maxOverflowPolicies = 1024

// sweepGap is the least time between two sweeps of one shard, so that a shard full
// of live entries is not rescanned on every new key.
const sweepGap = int64(time.Second)

// MemoryStore is the in-process Store: counters in a sharded map, one mutex per
// shard, so decisions for different keys rarely contend and each decision is exact.
//
// Memory is bounded by maxKeys tracked (policy, key) pairs. An entry is expired when
// every one of its windows has ended. A shard is swept of its expired entries when a
// new key arrives after the shard's earliest expiry, at most once per second per
// shard: the sweep is a scan of the shard, and the limit keeps a flood of new keys
// from turning into a scan per request.
//
// At the cap the store fails safe, not open: a request whose key is not tracked and
// finds its shard full (of live entries, or of entries expired within the last
// second that the next sweep will remove) is counted in its policy's shared overflow
// counter, which has the policy's own limits. All untracked keys together are then
// admitted at most Limit times per window, tracked keys keep their exact counts, and
// nothing is evicted early (evicting a live counter would hand its client a fresh
// quota). Stats reports how often this happens; a sustained overflow means maxKeys
// is too small for the traffic, or that one should move to Redis.
type MemoryStore struct {
	seed     maphash.Seed
	shards   []memShard
	mask     uint64
	perShard int

	overflowMu sync.Mutex
	overflow   map[string]*memEntry

	overflowed atomic.Uint64
	evicted    atomic.Uint64
}

type memKey struct {
	policy, key string
}

type memEntry struct {
	expires int64 // Unix nanoseconds at which every window has ended
	slots   [MaxWindows]memSlot
}

type memSlot struct {
	index int64 // interval index of count
	count int64
}

type memShard struct {
	mu      sync.Mutex
	m       map[memKey]*memEntry
	sweepAt int64 // no sweep before: nothing expires earlier, or sweepGap has not passed
	sweptAt int64 // time of the last sweep
	_       [64]byte
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns a MemoryStore tracking at most maxKeys (policy, key) pairs;
// maxKeys <= 0 means DefaultMaxKeys. The shard count is a power of two up to 64,
// chosen so that each shard holds at least 256 keys; the cap is split evenly.
func NewMemoryStore(maxKeys int) *MemoryStore {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	n := 1
	for n < 64 && maxKeys/(n*2) >= 256 {
		n *= 2
	}
	s := &MemoryStore{
		seed:     maphash.MakeSeed(),
		shards:   make([]memShard, n),
		mask:     uint64(n - 1),
		perShard: maxKeys / n,
		overflow: make(map[string]*memEntry),
	}
	for i := range s.shards {
		s.shards[i].m = make(map[memKey]*memEntry)
		s.shards[i].sweepAt = math.MaxInt64
	}
	return s
}

// Take implements Store. It never fails for a valid request and never blocks on
// anything but a shard mutex, so ctx is not consulted.
func (s *MemoryStore) Take(_ context.Context, req Request) (Result, error) {
	if len(req.Windows) == 0 || len(req.Windows) > MaxWindows {
		return Result{}, fmt.Errorf("memory store: %d windows, want 1 to %d", len(req.Windows), MaxWindows)
	}
	now := req.Now.UnixNano()
	sh := &s.shards[maphash.String(s.seed, req.Key)&s.mask]
	k := memKey{req.Policy, req.Key}

	sh.mu.Lock()
	e := sh.m[k]
	if e != nil {
		res := e.take(req.Windows, now)
		sh.mu.Unlock()
		return res, nil
	}
	if now >= sh.sweepAt {
		s.sweep(sh, now)
	}
	if len(sh.m) >= s.perShard {
		sh.mu.Unlock()
		return s.takeOverflow(req, now), nil
	}
	e = &memEntry{}
	sh.m[k] = e
	res := e.take(req.Windows, now)
	// An entry's expiry only grows, so the earliest expiry of a new entry keeps
	// sweepAt a lower bound of the shard's next expiry.
	sh.sweepAt = min(sh.sweepAt, max(e.expires, sh.sweptAt+sweepGap))
	sh.mu.Unlock()
	return res, nil
}

// takeOverflow decides for a key that found its shard full: in the policy's shared
// overflow counter (see MemoryStore).
func (s *MemoryStore) takeOverflow(req Request, now int64) Result {
	s.overflowed.Add(1)
	s.overflowMu.Lock()
	defer s.overflowMu.Unlock()
	e := s.overflow[req.Policy]
	if e == nil {
		if len(s.overflow) >= maxOverflowPolicies {
			for k, old := range s.overflow {
				if old.expires <= now {
					delete(s.overflow, k)
				}
			}
		}
		if len(s.overflow) >= maxOverflowPolicies {
			return fullResult(req.Windows) // deny: never more counters than the bound
		}
		e = &memEntry{}
		s.overflow[req.Policy] = e
	}
	return e.take(req.Windows, now)
}

// fullResult is a denial that reports every window as exhausted.
func fullResult(windows []Window) Result {
	var r Result
	for i, w := range windows {
		r.Counts[i] = int64(w.Limit)
	}
	return r
}

// take decides for one entry; the caller holds its lock.
func (e *memEntry) take(windows []Window, now int64) Result {
	res := Result{Allowed: true}
	var expires int64
	for i, w := range windows {
		index, left := interval(w, now)
		sl := &e.slots[i]
		if sl.index != index {
			*sl = memSlot{index: index}
		}
		if sl.count >= int64(w.Limit) {
			res.Allowed = false
		}
		expires = max(expires, now+int64(left))
	}
	for i := range windows {
		if res.Allowed {
			e.slots[i].count++
		}
		res.Counts[i] = e.slots[i].count
	}
	e.expires = expires
	return res
}

// sweep deletes the shard's expired entries; the caller holds its lock.
func (s *MemoryStore) sweep(sh *memShard, now int64) {
	next := int64(math.MaxInt64)
	var n uint64
	for k, e := range sh.m {
		if e.expires <= now {
			delete(sh.m, k)
			n++
			continue
		}
		next = min(next, e.expires)
	}
	if next != math.MaxInt64 {
		next = max(next, now+sweepGap)
	}
	sh.sweepAt = next
	sh.sweptAt = now
	s.evicted.Add(n)
}

// MemoryStats are counters of a MemoryStore, for metrics.
type MemoryStats struct {
	// Keys is the number of tracked (policy, key) pairs, expired ones not yet swept
	// included.
	Keys int
	// MaxKeys is the cap on Keys.
	MaxKeys int
	// Overflowed counts decisions made in an overflow counter because the cap was
	// reached (see MemoryStore).
	Overflowed uint64
	// Evicted counts expired entries removed.
	Evicted uint64
}

// Stats returns the store's counters. It locks each shard in turn: call it from a
// metrics scrape, not per request.
func (s *MemoryStore) Stats() MemoryStats {
	st := MemoryStats{
		MaxKeys:    s.perShard * len(s.shards),
		Overflowed: s.overflowed.Load(),
		Evicted:    s.evicted.Load(),
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		st.Keys += len(sh.m)
		sh.mu.Unlock()
	}
	return st
}
