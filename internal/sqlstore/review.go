package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"mirror/internal/feedback"
	"mirror/internal/generate"
	"mirror/internal/review"
)

var _ review.Store = (*DB)(nil)

// ListGenerations implements review.Store: newest first, keyset-paginated on
// (created_at, id), each generation with its feedback (one more query per page).
func (db *DB) ListGenerations(ctx context.Context, f review.Filter) ([]review.Record, string, error) {
	where := []string{"1 = 1"}
	var args []any
	if f.ModelID != "" {
		where, args = append(where, "model_id = ?"), append(args, f.ModelID)
	}
	if f.SessionID != "" {
		where, args = append(where, "session_id = ?"), append(args, f.SessionID)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "created_at >= ?"), append(args, f.Since.UTC())
	}
	if f.HasFeedback != nil {
		cond := "EXISTS (SELECT 1 FROM feedback_events e WHERE e.generation_id = generations.id)"
		if !*f.HasFeedback {
			cond = "NOT " + cond
		}
		where = append(where, cond)
	}
	tail, args, err := pageTail(where, args, f.Cursor, f.Limit)
	if err != nil {
		return nil, "", err
	}
	var items []review.Record
	err = db.query(ctx, "list generations", `SELECT id, model_id, requested_model_id, provider, route, session_id, input_text,
		response_text, status, finish_reason, input_tokens, output_tokens, cost_usd, latency_ms, error, created_at
		FROM generations`+tail, args, func(r rowScanner) error {
		var g generate.Generation
		var status string
		var session, errText, finish sql.NullString
		if err := r.Scan(&g.ID, &g.ModelID, &g.RequestedModelID, &g.Provider, &g.Route, &session, &g.Input, &g.Response, &status,
			&finish, &g.Usage.InputTokens, &g.Usage.OutputTokens, &g.CostUSD, &g.LatencyMS, &errText, &g.CreatedAt); err != nil {
			return err
		}
		g.SessionID, g.Error, g.FinishReason, g.Persisted = session.String, errText.String, finish.String, true
		g.Complete, g.CreatedAt = status == "complete", g.CreatedAt.UTC()
		items = append(items, review.Record{Generation: g})
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	items, next := page(items, f.Limit, func(r review.Record) (time.Time, string) { return r.Generation.CreatedAt, r.Generation.ID })
	if len(items) == 0 {
		return []review.Record{}, next, nil
	}
	at := map[string]int{}
	marks := make([]string, len(items))
	ids := make([]any, len(items))
	for i, r := range items {
		at[r.Generation.ID], marks[i], ids[i] = i, "?", r.Generation.ID
	}
	err = db.query(ctx, "list generations", `SELECT id, generation_id, kind, thumb, edited_response, created_at FROM feedback_events
		WHERE generation_id IN (`+strings.Join(marks, ", ")+`) ORDER BY created_at, id`, ids, func(r rowScanner) error {
		var e feedback.Event
		var thumb, edited sql.NullString
		if err := r.Scan(&e.ID, &e.GenerationID, &e.Kind, &thumb, &edited, &e.CreatedAt); err != nil {
			return err
		}
		e.Thumb, e.EditedResponse, e.CreatedAt, e.Persisted = thumb.String, edited.String, e.CreatedAt.UTC(), true
		i := at[e.GenerationID]
		items[i].Feedback = append(items[i].Feedback, e)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return items, next, nil
}
