package sqlstore

import (
	"context"
	"database/sql"

	"mirror/internal/feedback"
	"mirror/internal/generate"
)

var (
	_ generate.Store = (*DB)(nil)
	_ feedback.Store = (*DB)(nil)
)

const generationNotFound = "Generation not found."

// CreateGeneration stores g; it returns only once g is committed.
func (db *DB) CreateGeneration(ctx context.Context, g generate.Generation) error {
	status := "complete"
	if !g.Complete {
		status = "incomplete"
	}
	errText := sql.NullString{String: g.Error, Valid: g.Error != ""}
	session := sql.NullString{String: g.SessionID, Valid: g.SessionID != ""}
	finish := sql.NullString{String: g.FinishReason, Valid: g.FinishReason != ""}
	query := db.q(`INSERT INTO generations (id, model_id, requested_model_id, provider, route, session_id, input_text,
		response_text, status, finish_reason, input_tokens, output_tokens, usage_estimated, cost_usd, latency_ms, error, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	err := db.writes.exec(ctx, query, g.ID, g.ModelID, g.RequestedModelID, g.Provider, g.Route, session, g.Input,
		g.Response, status, finish, g.Usage.InputTokens, g.Usage.OutputTokens, g.Usage.Estimated, g.CostUSD, g.LatencyMS, errText, g.CreatedAt.UTC())
	return mapErr("insert generation", err, generationNotFound)
}

// GetGeneration returns the generation with id.
func (db *DB) GetGeneration(ctx context.Context, id string) (generate.Generation, error) {
	var g generate.Generation
	var status string
	var session, errText, finish sql.NullString
	err := db.sql.QueryRowContext(ctx, db.q(`SELECT id, model_id, requested_model_id, provider, route, session_id, input_text,
		response_text, status, finish_reason, input_tokens, output_tokens, usage_estimated, cost_usd, latency_ms, error, created_at
		FROM generations WHERE id = ?`), id).Scan(&g.ID, &g.ModelID, &g.RequestedModelID, &g.Provider, &g.Route, &session,
		&g.Input, &g.Response, &status, &finish, &g.Usage.InputTokens, &g.Usage.OutputTokens, &g.Usage.Estimated, &g.CostUSD, &g.LatencyMS, &errText, &g.CreatedAt)
	if err != nil {
		return generate.Generation{}, mapErr("get generation", err, generationNotFound)
	}
	g.SessionID, g.Error, g.FinishReason, g.Persisted = session.String, errText.String, finish.String, true
	g.Complete = status == "complete"
	g.CreatedAt = g.CreatedAt.UTC()
	return g, nil
}

// AddFeedback appends e; an unknown generation is NotFound.
func (db *DB) AddFeedback(ctx context.Context, e feedback.Event) error {
	thumb := sql.NullString{String: e.Thumb, Valid: e.Thumb != ""}
	edited := sql.NullString{String: e.EditedResponse, Valid: e.Kind == feedback.KindEdit}
	query := db.q(`INSERT INTO feedback_events (id, generation_id, kind, thumb, edited_response, created_at) VALUES (?, ?, ?, ?, ?, ?)`)
	err := db.writes.exec(ctx, query, e.ID, e.GenerationID, e.Kind, thumb, edited, e.CreatedAt.UTC())
	return mapErr("insert feedback", err, generationNotFound)
}

// ListFeedback returns a generation's events, oldest first.
func (db *DB) ListFeedback(ctx context.Context, generationID string) ([]feedback.Event, error) {
	rows, err := db.sql.QueryContext(ctx, db.q(`SELECT id, generation_id, kind, thumb, edited_response, created_at
		FROM feedback_events WHERE generation_id = ? ORDER BY created_at, id`), generationID)
	if err != nil {
		return nil, mapErr("list feedback", err, generationNotFound)
	}
	defer rows.Close()
	var out []feedback.Event
	for rows.Next() {
		var e feedback.Event
		var thumb, edited sql.NullString
		if err := rows.Scan(&e.ID, &e.GenerationID, &e.Kind, &thumb, &edited, &e.CreatedAt); err != nil {
			return nil, mapErr("list feedback", err, generationNotFound)
		}
		e.Thumb, e.EditedResponse, e.CreatedAt, e.Persisted = thumb.String, edited.String, e.CreatedAt.UTC(), true
		out = append(out, e)
	}
	return out, mapErr("list feedback", rows.Err(), generationNotFound)
}
