-- +goose Up
CREATE TABLE generations (
    id                 TEXT PRIMARY KEY,
    model_id           TEXT NOT NULL,
    requested_model_id TEXT NOT NULL,
    provider           TEXT NOT NULL,
    route              TEXT NOT NULL,
    session_id         TEXT,
    input_text         TEXT NOT NULL,
    response_text      TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('complete', 'incomplete')),
    input_tokens       INTEGER NOT NULL DEFAULT 0,
    output_tokens      INTEGER NOT NULL DEFAULT 0,
    cost_usd           DOUBLE PRECISION NOT NULL DEFAULT 0,
    latency_ms         INTEGER NOT NULL DEFAULT 0,
    error              TEXT,
    created_at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX generations_created_at ON generations (created_at);

CREATE TABLE feedback_events (
    id              TEXT PRIMARY KEY,
    generation_id   TEXT NOT NULL REFERENCES generations (id),
    kind            TEXT NOT NULL CHECK (kind IN ('thumb', 'edit')),
    thumb           TEXT CHECK (thumb IN ('up', 'down')),
    edited_response TEXT,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX feedback_events_generation ON feedback_events (generation_id, created_at);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    full_name     TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE artifacts (
    id           TEXT PRIMARY KEY,
    owner_id     TEXT NOT NULL REFERENCES users (id),
    filename     TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    size         BIGINT NOT NULL,
    storage_path TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX artifacts_owner ON artifacts (owner_id);

CREATE TABLE scans (
    id             TEXT PRIMARY KEY,
    owner_id       TEXT NOT NULL REFERENCES users (id),
    target_kind    TEXT NOT NULL,
    target         JSONB NOT NULL,
    target_key     TEXT NOT NULL,
    scan_types     JSONB NOT NULL,
    options        JSONB NOT NULL DEFAULT '{}',
    secret         TEXT,
    status         TEXT NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed')),
    progress       INTEGER NOT NULL DEFAULT 0,
    current_step   TEXT NOT NULL DEFAULT '',
    findings_count INTEGER NOT NULL DEFAULT 0,
    error          TEXT,
    attempts       INTEGER NOT NULL DEFAULT 0,
    lease_owner    TEXT,
    lease_until    TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL,
    started_at     TIMESTAMPTZ,
    completed_at   TIMESTAMPTZ
);
CREATE INDEX scans_owner ON scans (owner_id, created_at);
CREATE INDEX scans_claim ON scans (status, created_at);

CREATE TABLE findings (
    id          TEXT PRIMARY KEY,
    scan_id     TEXT NOT NULL REFERENCES scans (id),
    owner_id    TEXT NOT NULL,
    scan_type   TEXT NOT NULL,
    severity    TEXT NOT NULL,
    score       DOUBLE PRECISION NOT NULL,
    title       TEXT NOT NULL,
    evidence    JSONB NOT NULL,
    remediation TEXT NOT NULL,
    target      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX findings_scan ON findings (scan_id);
CREATE INDEX findings_owner ON findings (owner_id, created_at, id);

CREATE TABLE containments (
    target_key   TEXT PRIMARY KEY,
    target_kind  TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    contained    BOOLEAN NOT NULL,
    scan_id      TEXT NOT NULL,
    updated_by   TEXT NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE containment_events (
    id          TEXT PRIMARY KEY,
    scan_id     TEXT NOT NULL,
    target_key  TEXT NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('contain', 'release')),
    actor_id    TEXT NOT NULL,
    finding_ids JSONB NOT NULL,
    actions     JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX containment_events_target ON containment_events (target_key, created_at);

-- +goose Down
DROP TABLE containment_events;
DROP TABLE containments;
DROP TABLE findings;
DROP TABLE scans;
DROP TABLE artifacts;
DROP TABLE users;
DROP TABLE feedback_events;
DROP TABLE generations;
