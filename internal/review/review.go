// Package review is MirrorView's feedback review for admins: browse generations
// with their feedback, per-model statistics, and exports (JSON lines, CSV, and
// preference data for tuning). It reads the database only: with
// PERSISTENCE_ENABLED=false nothing reaches it.
package review

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"mirror/internal/apperr"
	"mirror/internal/feedback"
	"mirror/internal/generate"
)

// Record is a generation with its feedback events, oldest event first.
type Record struct {
	Generation generate.Generation
	Feedback   []feedback.Event
}

// LatestThumb is the record's last thumb ("up", "down"), or "" if none.
func (r Record) LatestThumb() string {
	for _, e := range slices.Backward(r.Feedback) {
		if e.Kind == feedback.KindThumb {
			return e.Thumb
		}
	}
	return ""
}

// LatestEdit is the record's last edited response and whether it has one.
func (r Record) LatestEdit() (string, bool) {
	for _, e := range slices.Backward(r.Feedback) {
		if e.Kind == feedback.KindEdit {
			return e.EditedResponse, true
		}
	}
	return "", false
}

// Filter selects generations; empty fields match everything. Cursor continues a
// previous page.
type Filter struct {
	ModelID     string
	SessionID   string
	Since       time.Time // created at or after
	HasFeedback *bool
	Limit       int
	Cursor      string
}

// Store lists stored generations with their feedback, newest first, keyset
// paginated; a bad cursor is a validation_error.
type Store interface {
	ListGenerations(ctx context.Context, f Filter) (items []Record, next string, err error)
}

// Service serves the review use cases.
type Service struct{ store Store }

// NewService returns a Service reading store.
func NewService(store Store) *Service { return &Service{store: store} }

// List returns a page of generations (Limit 0 is 50; at most 200).
func (s *Service) List(ctx context.Context, f Filter) ([]Record, string, error) {
	switch {
	case f.Limit == 0:
		f.Limit = 50
	case f.Limit < 1 || f.Limit > 200:
		return nil, "", apperr.Validation(apperr.FieldError{Field: "limit", Message: "must be from 1 to 200"})
	}
	items, next, err := s.store.ListGenerations(ctx, f)
	if err != nil {
		return nil, "", fmt.Errorf("list generations: %w", err)
	}
	return items, next, nil
}

// exportPage is how many generations Each reads at a time: the database is not
// held while the caller writes them out.
const exportPage = 500

// Each calls fn for every generation f selects, newest first, a page at a time,
// until fn fails or ctx ends. f.Limit and f.Cursor are ignored.
func (s *Service) Each(ctx context.Context, f Filter, fn func(Record) error) error {
	f.Limit, f.Cursor = exportPage, ""
	for {
		items, next, err := s.store.ListGenerations(ctx, f)
		if err != nil {
			return fmt.Errorf("read generations: %w", err)
		}
		for _, r := range items {
			if err := fn(r); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		f.Cursor = next
	}
}

// ModelStats summarise one model's generations and the feedback on them. Rates
// are fractions of Generations (0 when there are none); a generation's thumb is its
// latest one. MeanEditDistance is the word-level Levenshtein distance between the
// model's answer and its latest edit, averaged over edited generations (null when
// none); latency percentiles are nearest-rank.
type ModelStats struct {
	ModelID          string   `json:"model_id"`
	Generations      int      `json:"generations"`
	WithFeedback     int      `json:"with_feedback"`
	ThumbsUp         int      `json:"thumbs_up"`
	ThumbsDown       int      `json:"thumbs_down"`
	ThumbsUpRate     float64  `json:"thumbs_up_rate"`
	ThumbsDownRate   float64  `json:"thumbs_down_rate"`
	Edited           int      `json:"edited"`
	EditRate         float64  `json:"edit_rate"`
	MeanEditDistance *float64 `json:"mean_edit_distance"`
	LatencyP50MS     int64    `json:"latency_p50_ms"`
	LatencyP95MS     int64    `json:"latency_p95_ms"`
	CostUSD          float64  `json:"cost_usd"`
	MeanCostUSD      float64  `json:"mean_cost_usd"`
}

// Stats computes per-model statistics over the generations f selects (its
// ModelID, SessionID and Since), sorted by model id.
func (s *Service) Stats(ctx context.Context, f Filter) ([]ModelStats, error) {
	type acc struct {
		ModelStats
		latencies []int64
		distSum   float64
	}
	by := map[string]*acc{}
	err := s.Each(ctx, f, func(r Record) error {
		g := r.Generation
		a := by[g.ModelID]
		if a == nil {
			a = &acc{ModelStats: ModelStats{ModelID: g.ModelID}}
			by[g.ModelID] = a
		}
		a.Generations++
		a.CostUSD += g.CostUSD
		a.latencies = append(a.latencies, g.LatencyMS)
		if len(r.Feedback) > 0 {
			a.WithFeedback++
		}
		switch r.LatestThumb() {
		case "up":
			a.ThumbsUp++
		case "down":
			a.ThumbsDown++
		}
		if edit, ok := r.LatestEdit(); ok {
			a.Edited++
			a.distSum += float64(WordDistance(g.Response, edit))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]ModelStats, 0, len(by))
	for _, a := range by {
		n := float64(a.Generations)
		a.ThumbsUpRate, a.ThumbsDownRate, a.EditRate = float64(a.ThumbsUp)/n, float64(a.ThumbsDown)/n, float64(a.Edited)/n
		if a.Edited > 0 {
			d := a.distSum / float64(a.Edited)
			a.MeanEditDistance = &d
		}
		slices.Sort(a.latencies)
		a.LatencyP50MS, a.LatencyP95MS = percentile(a.latencies, 50), percentile(a.latencies, 95)
		a.MeanCostUSD = a.CostUSD / n
		out = append(out, a.ModelStats)
	}
	slices.SortFunc(out, func(a, b ModelStats) int { return cmp.Compare(a.ModelID, b.ModelID) })
	return out, nil
}

// percentile is the nearest-rank p-th percentile of sorted (0 when empty).
func percentile(sorted []int64, p float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[max(rank, 1)-1]
}

// WordDistance is the Levenshtein distance between a and b counted in words
// (whitespace-separated): how many words were inserted, deleted or replaced.
func WordDistance(a, b string) int {
	x, y := strings.Fields(a), strings.Fields(b)
	if len(x) < len(y) {
		x, y = y, x
	}
	prev := make([]int, len(y)+1)
	cur := make([]int, len(y)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(x); i++ {
		cur[0] = i
		for j := 1; j <= len(y); j++ {
			sub := prev[j-1]
			if x[i-1] != y[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(y)]
}
