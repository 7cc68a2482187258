package ratelimit

import (
	"context"
	"fmt"
	"hash/maphash"
	"strconv"
	"time"
)

// Peeker is a Store that can also read a key's counters without counting: Peek's
// Result is what Take would decide now, with no window incremented. MemoryStore and
// RedisStore are Peekers. A caller that counts only some outcomes (a login limiter
// that counts failures) peeks before the attempt and takes after a failure.
type Peeker interface {
	Store
	Peek(ctx context.Context, req Request) (Result, error)
}

var (
	_ Peeker = (*MemoryStore)(nil)
	_ Peeker = (*RedisStore)(nil)
)

// Peek reports whether Allow would admit key now, counting nothing: Allowed, the
// binding window and RetryAfter are as Allow's would be. It fails (closed, as
// Allow) when the store cannot answer or cannot peek.
func (l *Limiter) Peek(ctx context.Context, key string) (d Decision, err error) {
	p, ok := l.store.(Peeker)
	if !ok {
		return l.unavailable(fmt.Errorf("store %T cannot peek", l.store))
	}
	now := l.now()
	res, err := p.Peek(ctx, Request{Policy: l.name, Key: key, Windows: l.windows, Now: now})
	if err != nil {
		return l.unavailable(err)
	}
	l.decide(&d, &res, now.UnixNano())
	return d, nil
}

// Used reports whether any window of d has counted a request for its key in its
// current interval (for a Peek: whether the key has been counted at all lately).
func (d Decision) Used() bool {
	for _, w := range d.Windows() {
		if w.Remaining < w.Limit {
			return true
		}
	}
	return false
}

// Peek implements Peeker: the entry's counts in the current intervals, or the
// policy's overflow counter when the key is untracked and its shard is full (where
// Take would count it).
func (s *MemoryStore) Peek(_ context.Context, req Request) (Result, error) {
	if len(req.Windows) == 0 || len(req.Windows) > MaxWindows {
		return Result{}, fmt.Errorf("memory store: %d windows, want 1 to %d", len(req.Windows), MaxWindows)
	}
	now := req.Now.UnixNano()
	sh := &s.shards[maphash.String(s.seed, req.Key)&s.mask]
	sh.mu.Lock()
	e := sh.m[memKey{req.Policy, req.Key}]
	if e != nil {
		res := e.peek(req.Windows, now)
		sh.mu.Unlock()
		return res, nil
	}
	full := len(sh.m) >= s.perShard
	sh.mu.Unlock()
	if full {
		s.overflowMu.Lock()
		defer s.overflowMu.Unlock()
		if e := s.overflow[req.Policy]; e != nil {
			return e.peek(req.Windows, now), nil
		}
	}
	return Result{Allowed: true}, nil
}

// peek is take without counting; the caller holds the entry's lock.
func (e *memEntry) peek(windows []Window, now int64) Result {
	res := Result{Allowed: true}
	for i, w := range windows {
		index, _ := interval(w, now)
		if e.slots[i].index == index {
			res.Counts[i] = e.slots[i].count
		}
		if res.Counts[i] >= int64(w.Limit) {
			res.Allowed = false
		}
	}
	return res
}

// Peek implements Peeker with one MGET of the request's counters (one Redis Cluster
// slot, as for Take).
func (s *RedisStore) Peek(ctx context.Context, req Request) (Result, error) {
	n := len(req.Windows)
	if n == 0 || n > MaxWindows {
		return Result{}, fmt.Errorf("redis store: %d windows, want 1 to %d", n, MaxWindows)
	}
	keys := s.keys(req)
	vals, err := s.client.MGet(ctx, keys...).Result()
	if err != nil {
		return Result{}, fmt.Errorf("redis store: peek %q: %w", keys[0], err)
	}
	if len(vals) != n {
		return Result{}, fmt.Errorf("redis store: peek %q: %d values for %d keys", keys[0], len(vals), n)
	}
	res := Result{Allowed: true}
	for i, v := range vals {
		switch v := v.(type) {
		case nil:
		case string:
			c, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return Result{}, fmt.Errorf("redis store: peek %q: counter %q: %w", keys[i], v, err)
			}
			res.Counts[i] = c
		default:
			return Result{}, fmt.Errorf("redis store: peek %q: unexpected reply %T", keys[i], v)
		}
		if res.Counts[i] >= int64(req.Windows[i].Limit) {
			res.Allowed = false
		}
	}
	return res, nil
}

// keys returns the counters of req's windows in their current intervals.
func (s *RedisStore) keys(req Request) []string {
	now := req.Now.UnixNano()
	tag := s.prefix + "{" + req.Policy + ":" + req.Key + "}:"
	keys := make([]string, len(req.Windows))
	for i, w := range req.Windows {
		index, _ := interval(w, now)
		keys[i] = tag + strconv.FormatInt(int64(w.Period/time.Second), 10) + ":" + strconv.FormatInt(index, 10)
	}
	return keys
}
