package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/redis/go-redis/v9"

	"mirror/internal/config"
	"mirror/internal/httpapi"
	"mirror/internal/ratelimit"
)

// buildLimits makes the per-endpoint limiters over one counter store: Redis when
// REDIS_URL is set (exact across instances), else memory. close releases the store.
func buildLimits(ctx context.Context, cfg config.Config, log *slog.Logger) (limits httpapi.Limits, close func(), err error) {
	var store ratelimit.Store
	close = func() {}
	if cfg.RedisURL != "" {
		opts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return limits, close, fmt.Errorf("REDIS_URL: %w", err)
		}
		client := redis.NewClient(opts)
		// Not fatal: the limiter fails closed (503) while Redis is unreachable and
		// recovers by itself when it returns.
		if err := client.Ping(ctx).Err(); err != nil {
			log.WarnContext(ctx, "redis is not answering; rate-limited routes will answer 503 until it does", "error", err)
		}
		store = ratelimit.NewRedisStore(client, "mirror:rl:")
		close = func() { client.Close() }
		log.InfoContext(ctx, "rate limits counted in redis", "addr", opts.Addr)
	} else {
		store = ratelimit.NewMemoryStore(ratelimit.DefaultMaxKeys)
	}
	mk := func(name, spec, variable string) (*ratelimit.Limiter, error) {
		windows, err := ratelimit.ParseSpec(spec)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", variable, err)
		}
		return ratelimit.New(name, windows, store)
	}
	if limits.Generate, err = mk("generate", cfg.RateLimitGenerate, "RATE_LIMIT_GENERATE"); err != nil {
		return limits, close, err
	}
	if limits.FeedbackThumb, err = mk("feedback-thumb", cfg.RateLimitFeedbackThumb, "RATE_LIMIT_FEEDBACK_THUMB"); err != nil {
		return limits, close, err
	}
	if limits.FeedbackEdit, err = mk("feedback-edit", cfg.RateLimitFeedbackEdit, "RATE_LIMIT_FEEDBACK_EDIT"); err != nil {
		return limits, close, err
	}
	if limits.API, err = mk("api", strconv.Itoa(cfg.RateLimitPerMinute)+"/minute", "RATE_LIMIT_PER_MINUTE"); err != nil {
		return limits, close, err
	}
	if limits.Login, err = mk("login", cfg.RateLimitLogin, "RATE_LIMIT_LOGIN"); err != nil {
		return limits, close, err
	}
	if limits.LoginAccount, err = mk("login-account", cfg.RateLimitLoginAccount, "RATE_LIMIT_LOGIN_ACCOUNT"); err != nil {
		return limits, close, err
	}
	return limits, close, nil
}
