package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"mirror/internal/generate"
	"mirror/internal/storetest"
	"mirror/internal/testenv"
)

// BenchmarkCreateGeneration measures acknowledged generation writes per second with c
// concurrent writers: what group commit buys over one transaction (and one fsync) per
// write. Nothing here is timed against a threshold.
//
//	go test ./internal/sqlstore -run '^$' -bench CreateGeneration -benchtime 5000x
func BenchmarkCreateGeneration(b *testing.B) {
	stores := map[string]string{"sqlite": "sqlite://" + filepath.Join(b.TempDir(), "b.db")}
	if os.Getenv("MIRROR_TEST_POSTGRES_URL") != "" {
		stores["postgres"] = testenv.PostgresDB(b, false)
	}
	for _, name := range []string{"sqlite", "postgres"} {
		url, ok := stores[name]
		if !ok {
			continue
		}
		db := storetest.Open(b, url)
		for _, c := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("%s/c=%d", name, c), func(b *testing.B) {
				work := make(chan struct{}, b.N)
				for range b.N {
					work <- struct{}{}
				}
				close(work)
				var wg sync.WaitGroup
				b.ResetTimer()
				start := time.Now()
				for range c {
					wg.Go(func() {
						for range work {
							g := generate.Generation{ID: uuid.Must(uuid.NewV7()).String(), ModelID: "m", RequestedModelID: "m",
								Provider: "openai", Route: "openai/m", Input: "Say something short about mirrors.",
								Response: "Mirrors reflect light.", Complete: true, CreatedAt: time.Now()}
							if err := db.CreateGeneration(context.Background(), g); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "writes/s")
			})
		}
	}
}
