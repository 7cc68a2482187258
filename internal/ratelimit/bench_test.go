package ratelimit

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mirror/internal/testenv"
)

// benchKeys are client keys as clientip.Key makes them: 1024 IPv4 clients.
var benchKeys = func() []string {
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("198.51.%d.%d", i/256, i%256)
	}
	return keys
}()

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}

// BenchmarkMemoryStore is the whole decision the HTTP middleware makes per request:
// Limiter.Allow with the spec's two windows, the real clock, 1024 clients. Target:
// over 5 million decisions/s on one core (go test -bench Memory -cpu 1).
func BenchmarkMemoryStore(b *testing.B) {
	ws, err := ParseSpec(fmt.Sprintf("%d/minute,%d/hour", MaxLimit, MaxLimit))
	if err != nil {
		b.Fatal(err)
	}
	l, err := New("generate", ws, NewMemoryStore(0))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if d, err := l.Allow(ctx, benchKeys[i&1023]); err != nil || !d.Allowed {
			b.Fatalf("Allow: %+v, %v", d, err)
		}
	}
	reportRate(b)
}

// BenchmarkMemoryStoreDenied measures the same decision for clients over their
// limit, the path a flood takes.
func BenchmarkMemoryStoreDenied(b *testing.B) {
	l, err := New("generate", []Window{{1, time.Minute}, {2, time.Hour}}, NewMemoryStore(0))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, k := range benchKeys {
		l.Allow(ctx, k)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if d, err := l.Allow(ctx, benchKeys[i&1023]); err != nil || d.Allowed && i > 1024 {
			b.Fatalf("Allow: %+v, %v", d, err)
		}
	}
	reportRate(b)
}

// BenchmarkMemoryStoreParallel is the memory store under all cores (the shards
// keep clients from contending).
func BenchmarkMemoryStoreParallel(b *testing.B) {
	l, err := New("generate", []Window{{MaxLimit, time.Minute}, {MaxLimit, time.Hour}}, NewMemoryStore(0))
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Uint32
	b.RunParallel(func(pb *testing.PB) {
		i := next.Add(97)
		for pb.Next() {
			i++
			l.Allow(context.Background(), benchKeys[i&1023])
		}
	})
	reportRate(b)
}

// BenchmarkBaselineMutexMap is the same-run floor for BenchmarkMemoryStore: a bare
// sync.Mutex and map[string]int64 counting the same keys, with no windows, no
// clock, no decision. The memory store's cost over it is the limiter's own work.
func BenchmarkBaselineMutexMap(b *testing.B) {
	var mu sync.Mutex
	m := make(map[string]int64)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		mu.Lock()
		m[benchKeys[i&1023]]++
		mu.Unlock()
	}
	reportRate(b)
}

// BenchmarkMemoryStoreBytesPerKey reports the heap taken per tracked key, the
// figure behind DefaultMaxKeys.
func BenchmarkMemoryStoreBytesPerKey(b *testing.B) {
	const n = 100_000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255)
	}
	var perKey float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := NewMemoryStore(n)
		req := Request{Policy: "generate", Windows: []Window{{5, time.Minute}, {30, time.Hour}}, Now: time.Now()}
		for _, k := range keys {
			req.Key = k
			s.Take(context.Background(), req)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perKey = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(s)
	}
	b.ReportMetric(perKey, "bytes/key")
}

// BenchmarkRedisStore measures decisions/s against the real Redis with four
// clients (as four instances) used by parallel goroutines.
func BenchmarkRedisStore(b *testing.B) {
	opts := redisOptions(b)
	prefix := testenv.Prefix(b)
	var limiters []*Limiter
	for range 4 {
		l, err := New("generate", []Window{{MaxLimit, time.Minute}, {MaxLimit, time.Hour}},
			NewRedisStore(newRedisClient(b, opts, prefix), prefix))
		if err != nil {
			b.Fatal(err)
		}
		limiters = append(limiters, l)
	}
	var next atomic.Uint32
	b.SetParallelism(8) // 8 goroutines per core, spread over the four clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		g := next.Add(1)
		l := limiters[g%4]
		i := g * 131
		for pb.Next() {
			i++
			if d, err := l.Allow(context.Background(), benchKeys[i&1023]); err != nil || !d.Allowed {
				b.Errorf("Allow: %+v, %v", d, err)
				return
			}
		}
	})
	reportRate(b)
}
