package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"mirror/internal/apperr"
	"mirror/internal/testenv"
)

// redisOptions returns options for the test Redis (MIRROR_TEST_REDIS_URL; skips or
// fails as testenv says when it is unset).
func redisOptions(t testing.TB) *redis.Options {
	t.Helper()
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatalf("parse MIRROR_TEST_REDIS_URL: %v", err)
	}
	return opts
}

// newRedisClient returns a client of the test Redis that is closed, and whose keys
// under prefix are deleted, when the test ends. The shared server is never flushed.
func newRedisClient(t testing.TB, opts *redis.Options, prefix string) *redis.Client {
	t.Helper()
	c := redis.NewClient(opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Logf("clean up %s*: %v", prefix, err)
		}
		c.Close()
	})
	return c
}

func TestRedisStoreContract(t *testing.T) {
	opts := redisOptions(t)
	testStore(t, func(t *testing.T) Store {
		prefix := testenv.Prefix(t)
		return NewRedisStore(newRedisClient(t, opts, prefix), prefix)
	})
}

// TestRedisStoreThreeInstances runs three limiters, each with its own go-redis
// client as three server instances would, against one key: the admitted count must
// be the limit exactly.
func TestRedisStoreThreeInstances(t *testing.T) {
	opts := redisOptions(t)
	prefix := testenv.Prefix(t)
	clock := newFakeClock(t0)
	const limit = 300
	var limiters []*Limiter
	for range 3 {
		store := NewRedisStore(newRedisClient(t, opts, prefix), prefix)
		limiters = append(limiters, mustLimiter(t, "generate", fmt.Sprintf("%d/minute,%d/hour", limit, 2*limit), store, clock))
	}
	const goroutines, each = 24, 25 // 600 attempts, 8 goroutines per instance
	if got := hammer(t, limiters, goroutines, each); got != limit {
		t.Fatalf("three instances admitted %d of %d attempts, want exactly %d", got, goroutines*each, limit)
	}
	// The counters agree: every window counted exactly the admitted requests.
	c := newRedisClient(t, opts, prefix)
	for _, w := range []Window{{limit, time.Minute}, {2 * limit, time.Hour}} {
		index, _ := interval(w, t0.UnixNano())
		key := fmt.Sprintf("%s{generate:shared-client}:%d:%d", prefix, int64(w.Period/time.Second), index)
		if n, err := c.Get(context.Background(), key).Int(); err != nil || n != limit {
			t.Errorf("GET %s = %d, %v; want %d", key, n, err, limit)
		}
	}
}

// TestRedisStoreKeysExpireWithTheirWindow checks the time to live of each counter:
// the rest of its window plus the grace second, so Redis keeps only live counters.
func TestRedisStoreKeysExpireWithTheirWindow(t *testing.T) {
	opts := redisOptions(t)
	prefix := testenv.Prefix(t)
	c := newRedisClient(t, opts, prefix)
	l := mustLimiter(t, "p", "5/minute,30/hour", NewRedisStore(c, prefix), newFakeClock(t0))
	if d, err := l.Allow(context.Background(), "k"); err != nil || !d.Allowed {
		t.Fatalf("Allow: %+v, %v", d, err)
	}
	ctx := context.Background()
	for _, tt := range []struct {
		suffix string
		ttl    time.Duration // the window's rest at t0, plus grace
	}{
		{fmt.Sprintf("60:%d", t0.Unix()/60), 30*time.Second + redisGrace},
		{fmt.Sprintf("3600:%d", t0.Unix()/3600), 59*time.Minute + 30*time.Second + redisGrace},
	} {
		key := prefix + "{p:k}:" + tt.suffix
		ttl, err := c.PTTL(ctx, key).Result()
		if err != nil {
			t.Fatalf("PTTL %s: %v", key, err)
		}
		// PTTL only decreases from the value set, by the time the test took.
		if ttl <= 0 || ttl > tt.ttl || ttl < tt.ttl-time.Minute {
			t.Errorf("PTTL %s = %v, want at most %v (and not far below)", key, ttl, tt.ttl)
		}
	}
}

// countingHook records the script commands (EVAL, EVALSHA) a client sends.
type countingHook struct {
	mu   sync.Mutex
	cmds []string
}

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if name := cmd.Name(); strings.HasPrefix(name, "eval") {
			h.mu.Lock()
			h.cmds = append(h.cmds, name)
			h.mu.Unlock()
		}
		return next(ctx, cmd)
	}
}

func (h *countingHook) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.cmds
	h.cmds = nil
	return out
}

// TestRedisStoreEvalShaFallback uses a script unknown to the server (a unique
// comment changes its SHA): the first decision falls back from EVALSHA to EVAL,
// which caches the script, and later decisions are a single EVALSHA.
func TestRedisStoreEvalShaFallback(t *testing.T) {
	opts := redisOptions(t)
	prefix := testenv.Prefix(t)
	c := newRedisClient(t, opts, prefix)
	hook := &countingHook{}
	c.AddHook(hook)
	store := NewRedisStore(c, prefix)
	store.script = redis.NewScript(takeScript + "\n-- " + prefix)
	l := mustLimiter(t, "p", "5/minute", store, newFakeClock(t0))
	for i, want := range [][]string{{"evalsha", "eval"}, {"evalsha"}, {"evalsha"}} {
		if d, err := l.Allow(context.Background(), "k"); err != nil || !d.Allowed || d.Remaining != 4-i {
			t.Fatalf("decision %d: %+v, %v", i+1, d, err)
		}
		if got := hook.take(); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("decision %d sent %v, want %v", i+1, got, want)
		}
	}
}

// requireDown checks that a decision failed closed with the 503 code.
func requireDown(t *testing.T, l *Limiter, what string) {
	t.Helper()
	d, err := l.Allow(context.Background(), "k")
	if d.Allowed {
		t.Fatalf("%s: request admitted while Redis is unreachable", what)
	}
	if err == nil {
		t.Fatalf("%s: no error while Redis is unreachable", what)
	}
	if !errors.Is(err, ErrUnavailable) || apperr.CodeOf(err) != apperr.RateLimiterDown {
		t.Fatalf("%s: err = %v (code %s), want ErrUnavailable / %s", what, err, apperr.CodeOf(err), apperr.RateLimiterDown)
	}
}

func TestRedisStoreFailsClosedOnClosedPort(t *testing.T) {
	testenv.RedisURL(t) // the scenario belongs to the Redis suite: skip with it
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, MaxRetries: 1})
	defer c.Close()
	l := mustLimiter(t, "p", "5/minute", NewRedisStore(c, "unused:"), newFakeClock(t0))
	for i := range 3 {
		requireDown(t, l, fmt.Sprintf("attempt %d", i+1))
	}
}

// cutProxy is a TCP proxy on 127.0.0.1 in front of the real Redis. In pass mode it
// forwards both ways; in cut mode it forwards each request but cuts the connection
// halfway through the reply, as a network failure mid-way would.
type cutProxy struct {
	ln     net.Listener
	target string
	cut    atomic.Bool
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.serve)
	t.Cleanup(p.close)
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) serve() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // listener closed
		}
		upstream, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.track(client, upstream)
		p.wg.Go(func() {
			io.Copy(upstream, client)
			upstream.Close()
			client.Close()
		})
		p.wg.Go(func() {
			p.relayReplies(client, upstream)
			upstream.Close()
			client.Close()
		})
	}
}

// relayReplies copies replies to the client; in cut mode it writes half of a reply
// and closes both connections.
func (p *cutProxy) relayReplies(client, upstream net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := upstream.Read(buf)
		if n > 0 {
			if p.cut.Load() {
				client.Write(buf[:max(n/2, 1)])
				return
			}
			if _, werr := client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *cutProxy) track(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
}

func (p *cutProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// TestRedisStoreFailsClosedWhenConnectionsAreCut puts the proxy between the store
// and the real Redis: decisions work through it, fail closed (error, never
// admitted) while it cuts every reply mid-way, and work again when it stops.
func TestRedisStoreFailsClosedWhenConnectionsAreCut(t *testing.T) {
	opts := redisOptions(t)
	prefix := testenv.Prefix(t)
	proxy := startCutProxy(t, opts.Addr)
	viaProxy := *opts
	viaProxy.Addr = proxy.addr()
	viaProxy.DialTimeout = time.Second
	c := newRedisClient(t, &viaProxy, prefix)
	l := mustLimiter(t, "p", "1000/minute", NewRedisStore(c, prefix), newFakeClock(t0))

	if d, err := l.Allow(context.Background(), "k"); err != nil || !d.Allowed {
		t.Fatalf("through the proxy: %+v, %v", d, err)
	}
	proxy.cut.Store(true)
	for i := range 5 {
		requireDown(t, l, fmt.Sprintf("cut reply %d", i+1))
	}
	proxy.cut.Store(false)
	d, err := l.Allow(context.Background(), "k")
	if err != nil || !d.Allowed {
		t.Fatalf("after the proxy healed: %+v, %v", d, err)
	}
	// The cut requests may have been counted by Redis before their replies were
	// lost (fail closed can only waste quota), never fewer than the two admitted.
	if used := 1000 - d.Remaining; used < 2 {
		t.Errorf("Redis counted %d requests, want at least the 2 admitted", used)
	}
}
