-- +goose Up
-- Why the model stopped, normalized across providers (stop, length, content_filter,
-- tool_calls); NULL for generations stored before, and for answers that never finished.
ALTER TABLE generations ADD COLUMN finish_reason TEXT;

-- +goose Down
ALTER TABLE generations DROP COLUMN finish_reason;
