-- +goose Up
-- Containment of an endpoint or an artifact belongs to the user who contained it
-- (owner_id); a catalog model's, which affects everyone, has owner_id ''. Two users
-- who scan the same endpoint each hold their own containment and audit.
ALTER TABLE containments ADD COLUMN owner_id TEXT NOT NULL DEFAULT '';
UPDATE containments c SET owner_id = COALESCE((SELECT s.owner_id FROM scans s WHERE s.id = c.scan_id), '')
    WHERE c.target_kind <> 'catalog_model';
ALTER TABLE containments DROP CONSTRAINT containments_pkey;
ALTER TABLE containments ADD PRIMARY KEY (owner_id, target_key);

ALTER TABLE containment_events ADD COLUMN owner_id TEXT NOT NULL DEFAULT '';
UPDATE containment_events e SET owner_id = COALESCE((SELECT s.owner_id FROM scans s WHERE s.id = e.scan_id), '')
    WHERE e.target_key NOT LIKE 'catalog_model:%';
DROP INDEX containment_events_target;
CREATE INDEX containment_events_target ON containment_events (owner_id, target_key, created_at);

-- A scan may be cancelled.
ALTER TABLE scans DROP CONSTRAINT scans_status_check;
ALTER TABLE scans ADD CONSTRAINT scans_status_check CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled'));
CREATE INDEX scans_owner_status ON scans (owner_id, status);
CREATE INDEX scans_target_status ON scans (target_key, status);

-- An incomplete generation's token counts may be Mirror's estimate (the stream
-- broke before the provider reported them); this says which.
ALTER TABLE generations ADD COLUMN usage_estimated BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE generations DROP COLUMN usage_estimated;
DROP INDEX scans_target_status;
DROP INDEX scans_owner_status;
UPDATE scans SET status = 'failed' WHERE status = 'cancelled';
ALTER TABLE scans DROP CONSTRAINT scans_status_check;
ALTER TABLE scans ADD CONSTRAINT scans_status_check CHECK (status IN ('queued', 'running', 'completed', 'failed'));
DROP INDEX containment_events_target;
CREATE INDEX containment_events_target ON containment_events (target_key, created_at);
ALTER TABLE containment_events DROP COLUMN owner_id;
DELETE FROM containments WHERE owner_id <> '' AND (owner_id, target_key) NOT IN
    (SELECT MIN(owner_id), target_key FROM containments GROUP BY target_key);
ALTER TABLE containments DROP CONSTRAINT containments_pkey;
ALTER TABLE containments ADD PRIMARY KEY (target_key);
ALTER TABLE containments DROP COLUMN owner_id;
