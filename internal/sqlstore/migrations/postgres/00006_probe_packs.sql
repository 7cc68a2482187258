-- +goose Up
-- User probe packs (issue 14): probe files in the built-in probes' schema, uploaded
-- and kept per user, run by the scans that name them. content is the file as
-- uploaded (at most 256 KiB, checked before it is stored).
CREATE TABLE probe_packs (
    id         TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL REFERENCES users (id),
    name       TEXT NOT NULL,
    content    TEXT NOT NULL,
    size       BIGINT NOT NULL,
    probes     BIGINT NOT NULL,
    sha256     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX probe_packs_owner ON probe_packs (owner_id, created_at);

-- +goose Down
DROP INDEX probe_packs_owner;
DROP TABLE probe_packs;
