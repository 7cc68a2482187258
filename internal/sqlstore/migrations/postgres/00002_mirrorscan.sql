-- +goose Up
-- Logged-out access tokens, until they would have expired anyway.
CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expires_at);
CREATE INDEX scans_lease ON scans (status, lease_until);
CREATE INDEX findings_created ON findings (created_at, id);
CREATE INDEX artifacts_sha ON artifacts (sha256);

-- +goose Down
DROP INDEX artifacts_sha;
DROP INDEX findings_created;
DROP INDEX scans_lease;
DROP TABLE revoked_tokens;
