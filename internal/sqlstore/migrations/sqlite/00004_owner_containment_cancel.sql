-- +goose Up
-- Containment of an endpoint or an artifact belongs to the user who contained it
-- (owner_id); a catalog model's, which affects everyone, has owner_id ''. Two users
-- who scan the same endpoint each hold their own containment and audit.
CREATE TABLE containments_new (
    owner_id     TEXT NOT NULL DEFAULT '',
    target_key   TEXT NOT NULL,
    target_kind  TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    contained    INTEGER NOT NULL,
    scan_id      TEXT NOT NULL,
    updated_by   TEXT NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (owner_id, target_key)
);
INSERT INTO containments_new (owner_id, target_key, target_kind, target_id, contained, scan_id, updated_by, updated_at)
    SELECT CASE WHEN c.target_kind = 'catalog_model' THEN '' ELSE COALESCE((SELECT s.owner_id FROM scans s WHERE s.id = c.scan_id), '') END,
           c.target_key, c.target_kind, c.target_id, c.contained, c.scan_id, c.updated_by, c.updated_at
    FROM containments c;
DROP TABLE containments;
ALTER TABLE containments_new RENAME TO containments;

ALTER TABLE containment_events ADD COLUMN owner_id TEXT NOT NULL DEFAULT '';
UPDATE containment_events SET owner_id = COALESCE((SELECT s.owner_id FROM scans s WHERE s.id = containment_events.scan_id), '')
    WHERE target_key NOT LIKE 'catalog_model:%';
DROP INDEX containment_events_target;
CREATE INDEX containment_events_target ON containment_events (owner_id, target_key, created_at);

-- A scan may be cancelled (status 'cancelled'). SQLite cannot change a CHECK in
-- place: scans is rebuilt, and findings (which references it) with it, inside this
-- migration's transaction, with foreign keys on: findings_new references scans_new,
-- and the renames carry that reference over to scans.
CREATE TABLE scans_new (
    id             TEXT PRIMARY KEY,
    owner_id       TEXT NOT NULL REFERENCES users (id),
    target_kind    TEXT NOT NULL,
    target         TEXT NOT NULL,
    target_key     TEXT NOT NULL,
    scan_types     TEXT NOT NULL,
    options        TEXT NOT NULL DEFAULT '{}',
    secret         TEXT,
    status         TEXT NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    progress       INTEGER NOT NULL DEFAULT 0,
    current_step   TEXT NOT NULL DEFAULT '',
    findings_count INTEGER NOT NULL DEFAULT 0,
    error          TEXT,
    attempts       INTEGER NOT NULL DEFAULT 0,
    lease_owner    TEXT,
    lease_until    TIMESTAMP,
    created_at     TIMESTAMP NOT NULL,
    started_at     TIMESTAMP,
    completed_at   TIMESTAMP
);
INSERT INTO scans_new SELECT id, owner_id, target_kind, target, target_key, scan_types, options, secret, status, progress,
    current_step, findings_count, error, attempts, lease_owner, lease_until, created_at, started_at, completed_at FROM scans;
CREATE TABLE findings_new (
    id          TEXT PRIMARY KEY,
    scan_id     TEXT NOT NULL REFERENCES scans_new (id),
    owner_id    TEXT NOT NULL,
    scan_type   TEXT NOT NULL,
    severity    TEXT NOT NULL,
    score       REAL NOT NULL,
    title       TEXT NOT NULL,
    evidence    TEXT NOT NULL,
    remediation TEXT NOT NULL,
    target      TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
INSERT INTO findings_new SELECT id, scan_id, owner_id, scan_type, severity, score, title, evidence, remediation, target, created_at FROM findings;
DROP TABLE findings;
DROP TABLE scans;
ALTER TABLE scans_new RENAME TO scans;
ALTER TABLE findings_new RENAME TO findings;
CREATE INDEX scans_owner ON scans (owner_id, created_at);
CREATE INDEX scans_claim ON scans (status, created_at);
CREATE INDEX scans_lease ON scans (status, lease_until);
CREATE INDEX scans_owner_status ON scans (owner_id, status);
CREATE INDEX scans_target_status ON scans (target_key, status);
CREATE INDEX findings_scan ON findings (scan_id);
CREATE INDEX findings_owner ON findings (owner_id, created_at, id);
CREATE INDEX findings_created ON findings (created_at, id);

-- An incomplete generation's token counts may be Mirror's estimate (the stream
-- broke before the provider reported them); this says which.
ALTER TABLE generations ADD COLUMN usage_estimated INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE generations DROP COLUMN usage_estimated;
-- The rebuilt scans, findings and containments stay as they are (their new
-- constraints admit every old row); only what Up added beside them is removed.
DROP INDEX scans_target_status;
DROP INDEX scans_owner_status;
DROP INDEX containment_events_target;
CREATE INDEX containment_events_target ON containment_events (target_key, created_at);
ALTER TABLE containment_events DROP COLUMN owner_id;
