package embedding

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"mirror/internal/llm"
)

// Gate is the scan's control of requests to the target: each request (retries
// included) first passes Acquire, which waits for the scan's rate limit and takes one
// request from its budget. The probe engine implements it over the budget and pacer
// it shares with the chat probes.
type Gate interface {
	// Acquire waits until one more request may be sent. It returns an error wrapping
	// ErrBudget when the budget refuses, or the context's error.
	Acquire(ctx context.Context) error
	// Remaining is how many requests the budget still allows; negative: unbounded.
	Remaining() int
}

// ErrBudget is wrapped by a Gate's refusal: the scan's request budget is spent.
var ErrBudget = errors.New("request budget exhausted")

// client sends batched embeddings requests through the gate, with a bounded number
// in flight, retries of retryable failures, and checks of every vector.
type client struct {
	embedder    llm.Embedder
	model       string
	gate        Gate
	batch       int
	concurrency int
	retryBase   time.Duration
	log         *slog.Logger

	requests atomic.Int64 // sent, retries included
	texts    atomic.Int64
	mu       sync.Mutex
	dims     int
}

// requestsFor is how many requests embedding n texts takes (without retries).
func (c *client) requestsFor(n int) int { return (n + c.batch - 1) / c.batch }

// embed returns the L2-normalised vectors of texts, in order. Errors: the gate's
// refusal (wrapping ErrBudget), the embedder failing after retries, or a malformed
// answer (wrong count, empty, ragged, oversized or non-finite vectors).
func (c *client) embed(ctx context.Context, texts []string) ([][]float64, error) {
	out := make([][]float64, len(texts))
	steps := c.requestsFor(len(texts))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.concurrency)
	for s := range steps {
		g.Go(func() error {
			lo, hi := s*c.batch, min((s+1)*c.batch, len(texts))
			vecs, err := c.embedRetry(gctx, texts[lo:hi])
			if err != nil {
				return fmt.Errorf("embed batch %d of %d: %w", s+1, steps, err)
			}
			if len(vecs) != hi-lo {
				return fmt.Errorf("embed batch %d: %d vectors for %d inputs", s+1, len(vecs), hi-lo)
			}
			for i, v := range vecs {
				if err := c.checkDims(len(v)); err != nil {
					return fmt.Errorf("embed batch %d: vector %d: %w", s+1, i, err)
				}
				nv, err := normalise(v)
				if err != nil {
					return fmt.Errorf("embed batch %d: vector %d: %w", s+1, i, err)
				}
				out[lo+i] = nv
			}
			c.texts.Add(int64(hi - lo))
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// checkDims holds every vector of the run to the first one's length.
func (c *client) checkDims(n int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dims == 0 && n > 0 && n <= MaxDimensions {
		c.dims = n
	}
	if n == 0 || n != c.dims {
		return fmt.Errorf("%d dimensions (want %d, at most %d)", n, c.dims, MaxDimensions)
	}
	return nil
}

func (c *client) embedRetry(ctx context.Context, in []string) ([][]float64, error) {
	for attempt := 0; ; attempt++ {
		if err := c.gate.Acquire(ctx); err != nil {
			return nil, err
		}
		c.requests.Add(1)
		vecs, err := c.embedder.Embed(ctx, c.model, in)
		var le *llm.Error
		if err == nil || !errors.As(err, &le) || !le.Retryable() || attempt >= retries {
			return vecs, err
		}
		d := max(c.retryBase<<attempt, le.RetryAfter)
		if d > maxRetryWait {
			return nil, err
		}
		c.log.InfoContext(ctx, "retrying embeddings request", "attempt", attempt+1, "kind", string(le.Kind), "wait_ms", d.Milliseconds())
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, context.Cause(ctx)
		case <-t.C:
		}
	}
}

// unbounded is the Gate of a scan without budget or rate limit.
type unbounded struct{}

func (unbounded) Acquire(ctx context.Context) error { return ctx.Err() }
func (unbounded) Remaining() int                    { return -1 }

// normalise returns v scaled to unit length. A zero vector stays zero (similar to
// nothing); NaN or infinite components are an error.
func normalise(v []float64) ([]float64, error) {
	s := 0.0
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, errors.New("non-finite component")
		}
		s += x * x
	}
	out := make([]float64, len(v))
	if s == 0 {
		return out, nil
	}
	norm := math.Sqrt(s)
	for i, x := range v {
		out[i] = x / norm
	}
	return out, nil
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// nearest returns the indices of the k vectors of set most cosine-similar to q (all
// unit length), best first; ties keep index order.
func nearest(q []float64, set [][]float64, k int) []int {
	scores := make([]float64, len(set))
	for i, v := range set {
		scores[i] = dot(q, v)
	}
	return topK(scores, k)
}
