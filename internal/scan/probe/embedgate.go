package probe

import (
	"context"
	"fmt"

	"mirror/internal/scan/embedding"
)

// embedGate lets the embedding analysis share the scan's request budget and rate
// limit with the chat probes: every embeddings request, retries included, takes one
// request from the budget and waits for the pacer.
type embedGate struct{ e *engine }

var _ embedding.Gate = embedGate{}

func (g embedGate) Acquire(ctx context.Context) error {
	if !g.e.budget.reserve(1) {
		return fmt.Errorf("request budget of %d: %w", g.e.opts.MaxRequests, embedding.ErrBudget)
	}
	if err := g.e.pacer.wait(ctx); err != nil {
		return fmt.Errorf("wait for rate limit: %w", err)
	}
	return nil
}

// Remaining is the requests left in the budget, or -1 without one.
func (g embedGate) Remaining() int {
	if g.e.budget.maxRequests <= 0 {
		return -1
	}
	return int(max(0, g.e.budget.maxRequests-g.e.budget.requests.Load()))
}
