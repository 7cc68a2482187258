// Package ratelimit is Mirror's multi-window fixed-window rate limiter.
//
// A policy such as "5/minute,30/hour" (ParseSpec) is a set of Windows. A Limiter
// admits a request for a key only if every window still has room; an admitted
// request counts once in every window, a denied one counts in none. The counting is
// done by a Store in one atomic step per decision: MemoryStore (the default, sharded
// and bounded) or RedisStore (one Lua script per decision, exact across instances).
//
// Windows are fixed and aligned to the Unix epoch: the minute window of a request at
// 12:00:42 is [12:00:00, 12:01:00). That makes the counter of a window a plain key
// (no timestamps to store), lets every instance agree on the window from its own
// clock, and gives clients an honest reset time.
//
// Fail closed: when the store cannot answer, Limiter.Allow returns an error (an
// *apperr.Error with code apperr.RateLimiterDown that also matches ErrUnavailable)
// and a Decision that does not admit. Callers deny the request with 503.
package ratelimit
