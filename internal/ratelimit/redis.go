package ratelimit

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// takeScript is the whole decision of RedisStore.Take, run atomically by Redis.
//
//go:embed take.lua
var takeScript string

var takeLua = redis.NewScript(takeScript)

// redisGrace is added to each counter's time to live, beyond the end of its window,
// so that an instance whose clock is slightly behind still finds the counter of the
// interval it believes current rather than a fresh one.
const redisGrace = time.Second

// RedisStore is the Store shared by several instances: counters live in Redis, and
// each decision is one Lua script (EVALSHA, falling back to EVAL when the server
// does not have it cached) that checks every window and increments them only if
// all admit. Redis runs a script atomically, so the count admitted across all
// instances and connections equals the limit exactly.
//
// A counter is the key PREFIX{POLICY:KEY}:SECONDS:INDEX (the interval's index since
// the Unix epoch), created with a time to live of the rest of its window plus a
// second, so Redis holds only live counters. The braces make every window of a
// decision hash to one Redis Cluster slot, as a multi-key script requires.
//
// Every error (dial, timeout, connection cut mid-reply, NOSCRIPT followed by a
// failed EVAL, a reply of the wrong shape) is returned, never treated as admission;
// the Limiter fails closed on it. Retries are the client's (redis.Options
// MaxRetries); a retried script may have run once already, which can only count a
// request twice, never admit one too many.
type RedisStore struct {
	client redis.UniversalClient
	prefix string
	script *redis.Script
}

var _ Store = (*RedisStore)(nil)

// NewRedisStore returns a RedisStore using client, with keys under prefix (e.g.
// "mirror:ratelimit:"). Instances that must share counts use the same prefix.
func NewRedisStore(client redis.UniversalClient, prefix string) *RedisStore {
	return &RedisStore{client: client, prefix: prefix, script: takeLua}
}

// Take implements Store in one round trip.
func (s *RedisStore) Take(ctx context.Context, req Request) (Result, error) {
	n := len(req.Windows)
	if n == 0 || n > MaxWindows {
		return Result{}, fmt.Errorf("redis store: %d windows, want 1 to %d", n, MaxWindows)
	}
	now := req.Now.UnixNano()
	keys := s.keys(req)
	tag := keys[0]
	args := make([]any, 0, 2*n)
	for _, w := range req.Windows {
		_, left := interval(w, now)
		args = append(args, w.Limit, (left + redisGrace).Milliseconds())
	}
	vals, err := s.script.Run(ctx, s.client, keys, args...).Int64Slice()
	if err != nil {
		return Result{}, fmt.Errorf("redis store: take %q: %w", tag, err)
	}
	if len(vals) != n+1 || vals[0] != 0 && vals[0] != 1 {
		return Result{}, fmt.Errorf("redis store: take %q: unexpected reply %v", tag, vals)
	}
	res := Result{Allowed: vals[0] == 1}
	copy(res.Counts[:], vals[1:])
	return res, nil
}
