-- +goose Up
-- The probe packs a scan names, as they were when it was created (issue 14): a JSON
-- array of {id, name, content, sha256}, or NULL. Kept apart from options so that
-- status reads do not carry pack contents; only a worker's claim reads it. A pack
-- deleted while the scan waits changes nothing.
ALTER TABLE scans ADD COLUMN packs TEXT;

-- +goose Down
ALTER TABLE scans DROP COLUMN packs;
