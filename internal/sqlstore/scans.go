package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"mirror/internal/apperr"
	"mirror/internal/scan"
)

var _ scan.Store = (*DB)(nil)

const scanNotFound = "Scan not found."

const scanColumns = `id, owner_id, target, target_key, scan_types, options, secret, status, progress,
	current_step, findings_count, error, attempts, created_at, started_at, completed_at`

// CreateScan stores a queued job, with the packs it runs (Job.Packs) in their own
// column: only a claim reads them back, not the status reads.
func (db *DB) CreateScan(ctx context.Context, j scan.Job) error {
	target, _ := json.Marshal(j.Target)
	types, _ := json.Marshal(j.Types)
	opts, _ := json.Marshal(j.Options)
	var packs sql.NullString
	if len(j.Packs) > 0 {
		b, _ := json.Marshal(j.Packs)
		packs = sql.NullString{String: string(b), Valid: true}
	}
	query := db.q(`INSERT INTO scans (id, owner_id, target_kind, target, target_key, scan_types, options, secret,
		status, progress, current_step, findings_count, attempts, created_at, packs)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, 0, 0, ?, ?)`)
	err := db.writes.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, query, j.ID, j.OwnerID, string(j.Target.Kind), string(target), j.TargetKey,
			string(types), string(opts), nullString(j.Secret), string(j.Status), j.CurrentStep, j.CreatedAt.UTC(), packs)
		return err
	})
	return mapErr("insert scan", err, "User not found.")
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

type rowScanner interface{ Scan(dest ...any) error }

// scanJob reads a row of scanColumns, followed by the packs column when withPacks
// is set (claimColumns).
func scanJob(row rowScanner, withPacks ...bool) (scan.Job, error) {
	var j scan.Job
	var target, types, opts, status string
	var secret, errText, packs sql.NullString
	var started, completed sql.NullTime
	dest := []any{&j.ID, &j.OwnerID, &target, &j.TargetKey, &types, &opts, &secret, &status, &j.Progress,
		&j.CurrentStep, &j.FindingsCount, &errText, &j.Attempts, &j.CreatedAt, &started, &completed}
	if len(withPacks) > 0 && withPacks[0] {
		dest = append(dest, &packs)
	}
	if err := row.Scan(dest...); err != nil {
		return scan.Job{}, err
	}
	if err := errors.Join(json.Unmarshal([]byte(target), &j.Target), json.Unmarshal([]byte(types), &j.Types),
		json.Unmarshal([]byte(opts), &j.Options)); err != nil {
		return scan.Job{}, fmt.Errorf("decode scan %s: %w", j.ID, err)
	}
	if packs.Valid {
		if err := json.Unmarshal([]byte(packs.String), &j.Packs); err != nil {
			return scan.Job{}, fmt.Errorf("decode scan %s packs: %w", j.ID, err)
		}
	}
	j.Status, j.Secret, j.Error, j.CreatedAt = scan.Status(status), secret.String, errText.String, j.CreatedAt.UTC()
	if started.Valid {
		t := started.Time.UTC()
		j.StartedAt = &t
	}
	if completed.Valid {
		t := completed.Time.UTC()
		j.CompletedAt = &t
	}
	return j, nil
}

// Scan returns the job with id.
func (db *DB) Scan(ctx context.Context, id string) (scan.Job, error) {
	j, err := scanJob(db.sql.QueryRowContext(ctx, db.q(`SELECT `+scanColumns+` FROM scans WHERE id = ?`), id))
	return j, mapErr("get scan", err, scanNotFound)
}

// ClaimScan implements scan.Store. Claiming is fair between users: of the jobs
// that may run, the one whose owner has the fewest scans running now comes first
// (then the oldest), and an owner already running maxPerOwner scans (0: no cap)
// gets none, so one user's scans never hold every worker while another's wait.
// On Postgres claims are serialised by a transaction-scoped advisory lock, so
// workers on several instances neither claim one job twice nor pass an owner's cap
// together; SQLite has one writer, which serialises claims by itself.
func (db *DB) ClaimScan(ctx context.Context, worker string, now time.Time, lease time.Duration, maxAttempts, maxPerOwner int) (scan.Job, bool, error) {
	now = now.UTC().Truncate(time.Microsecond) // what Postgres keeps: both stores answer alike
	expire := db.q(`UPDATE scans SET status = 'failed', error = ?, completed_at = ?, secret = NULL, lease_owner = NULL
		WHERE status = 'running' AND lease_until < ? AND attempts >= ?`)
	const running = `(SELECT COUNT(*) FROM scans r WHERE r.owner_id = s.owner_id AND r.status = 'running' AND r.lease_until >= ?)`
	claim := db.q(`UPDATE scans SET status = 'running', attempts = attempts + 1, lease_owner = ?, lease_until = ?,
		started_at = COALESCE(started_at, ?), current_step = 'starting'
		WHERE id = (SELECT s.id FROM scans s WHERE (s.status = 'queued' OR (s.status = 'running' AND s.lease_until < ?)) AND s.attempts < ?
			AND (? <= 0 OR ` + running + ` < ?)
			ORDER BY ` + running + `, s.created_at, s.id LIMIT 1)
		RETURNING ` + scanColumns + `, packs`)
	var j scan.Job
	var ok bool
	err := db.writes.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if db.dialect == Postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7346381001)`); err != nil {
				return err
			}
		}
		msg := fmt.Sprintf("the scan's worker stopped answering %d times; giving up", maxAttempts)
		if _, err := tx.ExecContext(ctx, expire, msg, now, now, maxAttempts); err != nil {
			return err
		}
		var err error
		j, err = scanJob(tx.QueryRowContext(ctx, claim, worker, now.Add(lease), now, now, maxAttempts,
			maxPerOwner, now, maxPerOwner, now), true)
		ok = err == nil
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return scan.Job{}, false, mapErr("claim scan", err, scanNotFound)
	}
	return j, ok, nil
}

// CancelScan implements scan.Store.
func (db *DB) CancelScan(ctx context.Context, id string, at time.Time) error {
	query := db.q(`UPDATE scans SET status = 'cancelled', current_step = 'cancelled', completed_at = ?, secret = NULL,
		lease_owner = NULL, lease_until = NULL WHERE id = ? AND status IN ('queued', 'running')`)
	err := db.writes.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, query, at.UTC(), id)
		return err
	})
	return mapErr("cancel scan", err, scanNotFound)
}

// leased runs an update that names the job's worker and reports ErrLeaseLost when
// no row matched (the lease went to another worker).
func leased(ctx context.Context, tx *sql.Tx, query string, args ...any) error {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return scan.ErrLeaseLost
	}
	return nil
}

// ReportProgress implements scan.Store.
func (db *DB) ReportProgress(ctx context.Context, id, worker string, progress int, step string, leaseUntil time.Time) error {
	// Progress never goes back: a run that took over a dead worker's job starts
	// from zero, and watchers keep seeing the furthest point reached until it passes it.
	query := db.q(`UPDATE scans SET progress = CASE WHEN progress > ? THEN progress ELSE ? END, current_step = ?, lease_until = ?
		WHERE id = ? AND lease_owner = ? AND status = 'running'`)
	err := db.writes.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return leased(ctx, tx, query, progress, progress, step, leaseUntil.UTC(), id, worker)
	})
	if errors.Is(err, scan.ErrLeaseLost) {
		return err
	}
	return mapErr("record scan progress", err, scanNotFound)
}

// FinishScan implements scan.Store.
func (db *DB) FinishScan(ctx context.Context, id, worker string, r scan.Result) error {
	end := db.q(`UPDATE scans SET status = ?, progress = ?, current_step = ?, findings_count = ?, error = ?,
		completed_at = ?, secret = NULL, lease_owner = NULL, lease_until = NULL
		WHERE id = ? AND lease_owner = ? AND status = 'running'`)
	del := db.q(`DELETE FROM findings WHERE scan_id = ?`)
	owner := db.q(`SELECT owner_id FROM scans WHERE id = ?`)
	ins := db.q(`INSERT INTO findings (id, scan_id, owner_id, scan_type, severity, score, title, evidence, remediation, target, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	step, progress := "completed", 100
	if r.Status == scan.Failed {
		step, progress = "failed", 0
	}
	err := db.writes.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := leased(ctx, tx, end, string(r.Status), progress, step, len(r.Findings), nullString(r.Error), r.At.UTC(), id, worker); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, del, id); err != nil {
			return err
		}
		var ownerID string
		if err := tx.QueryRowContext(ctx, owner, id).Scan(&ownerID); err != nil {
			return err
		}
		for _, f := range r.Findings {
			ev, err := json.Marshal(f.Evidence)
			if err != nil {
				return fmt.Errorf("encode evidence: %w", err)
			}
			if _, err := tx.ExecContext(ctx, ins, f.ID, id, ownerID, string(f.ScanType), string(f.Severity), f.Score, f.Title,
				string(ev), f.Remediation, f.Target, f.CreatedAt.UTC()); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, scan.ErrLeaseLost) {
		return err
	}
	return mapErr("finish scan", err, scanNotFound)
}

// RequeueScan implements scan.Store. The attempt is given back: a shutdown is not
// a failure of the job.
func (db *DB) RequeueScan(ctx context.Context, id, worker string) error {
	query := db.q(`UPDATE scans SET status = 'queued', attempts = attempts - 1, lease_owner = NULL, lease_until = NULL,
		current_step = 'queued (requeued at shutdown)' WHERE id = ? AND lease_owner = ? AND status = 'running'`)
	err := db.writes.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return leased(ctx, tx, query, id, worker)
	})
	if errors.Is(err, scan.ErrLeaseLost) {
		return nil
	}
	return mapErr("requeue scan", err, scanNotFound)
}

// findingCursor is the position after the last row of a page (findings, scans, artifacts).
type findingCursor struct {
	At time.Time `json:"t"`
	ID string    `json:"i"`
}

// Findings implements scan.Store: newest first, keyset-paginated on (created_at, id).
func (db *DB) Findings(ctx context.Context, f scan.FindingFilter) ([]scan.Finding, string, error) {
	where := []string{"1 = 1"}
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if f.OwnerID != "" {
		add("owner_id = ?", f.OwnerID)
	}
	if f.ScanID != "" {
		add("scan_id = ?", f.ScanID)
	}
	if f.Severity != "" {
		add("severity = ?", string(f.Severity))
	}
	if f.Type != "" {
		add("scan_type = ?", string(f.Type))
	}
	if f.Target != "" {
		add("target = ?", f.Target)
	}
	if f.MinSeverity != "" {
		var in []string
		for _, sev := range []scan.Severity{scan.Critical, scan.High, scan.Medium, scan.Low, scan.Info} {
			if sev.Rank() >= f.MinSeverity.Rank() {
				in = append(in, "?")
				args = append(args, string(sev))
			}
		}
		where = append(where, "severity IN ("+strings.Join(in, ", ")+")")
	}
	tail, args, err := pageTail(where, args, f.Cursor, f.Limit)
	if err != nil {
		return nil, "", err
	}
	rows, err := db.sql.QueryContext(ctx, db.q(`SELECT id, scan_id, scan_type, severity, score, title, evidence, remediation, target, created_at
		FROM findings`+tail), args...)
	if err != nil {
		return nil, "", mapErr("list findings", err, "")
	}
	defer rows.Close()
	items := []scan.Finding{}
	for rows.Next() {
		var x scan.Finding
		var typ, sev, ev string
		if err := rows.Scan(&x.ID, &x.ScanID, &typ, &sev, &x.Score, &x.Title, &ev, &x.Remediation, &x.Target, &x.CreatedAt); err != nil {
			return nil, "", mapErr("list findings", err, "")
		}
		if err := json.Unmarshal([]byte(ev), &x.Evidence); err != nil {
			return nil, "", fmt.Errorf("decode evidence of finding %s: %w", x.ID, err)
		}
		x.ScanType, x.Severity, x.CreatedAt = scan.Type(typ), scan.Severity(sev), x.CreatedAt.UTC()
		items = append(items, x)
	}
	if err := rows.Err(); err != nil {
		return nil, "", mapErr("list findings", err, "")
	}
	items, next := page(items, f.Limit, func(x scan.Finding) (time.Time, string) { return x.CreatedAt, x.ID })
	return items, next, nil
}

// afterCursor decodes a list cursor into the keyset condition that continues
// after it (newest first on created_at, id).
func afterCursor(cursor string) (string, []any, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	var c findingCursor
	if err != nil || len(raw) > 512 || json.Unmarshal(raw, &c) != nil || c.ID == "" {
		return "", nil, apperr.Validation(apperr.FieldError{Field: "cursor", Message: "is not a cursor this API returned"})
	}
	return "(created_at < ? OR (created_at = ? AND id < ?))", []any{c.At.UTC(), c.At.UTC(), c.ID}, nil
}

// pageTail ends the query of a list page, newest first on (created_at, id): the
// conditions where (with their args), then the keyset condition of cursor, if any,
// and a limit of one row more than the page, which tells whether another follows.
func pageTail(where []string, args []any, cursor string, limit int) (string, []any, error) {
	if cursor != "" {
		cond, cargs, err := afterCursor(cursor)
		if err != nil {
			return "", nil, err
		}
		where, args = append(where, cond), append(args, cargs...)
	}
	return " WHERE " + strings.Join(where, " AND ") + " ORDER BY created_at DESC, id DESC LIMIT ?", append(args, limit+1), nil
}

// page trims a list read with limit+1 rows to limit, and returns the cursor of the
// next page ("" on the last).
func page[T any](items []T, limit int, key func(T) (time.Time, string)) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	at, id := key(items[len(items)-1])
	b, _ := json.Marshal(findingCursor{At: at, ID: id})
	return items, base64.RawURLEncoding.EncodeToString(b)
}

// Scans implements scan.Store: newest first, keyset-paginated on (created_at, id).
func (db *DB) Scans(ctx context.Context, f scan.ScanFilter) ([]scan.Job, string, error) {
	where := []string{"owner_id = ?"}
	args := []any{f.OwnerID}
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, string(f.Status))
	}
	if f.Target != "" {
		where, args = append(where, "target_key = ?"), append(args, f.Target)
	}
	if f.Type != "" {
		// scan_types is a JSON array of type ids; a quoted id matches one element.
		col := "scan_types"
		if db.dialect == Postgres {
			col = "scan_types::text"
		}
		where, args = append(where, col+" LIKE ?"), append(args, `%"`+string(f.Type)+`"%`)
	}
	if !f.CreatedAfter.IsZero() {
		where, args = append(where, "created_at > ?"), append(args, f.CreatedAfter.UTC())
	}
	tail, args, err := pageTail(where, args, f.Cursor, f.Limit)
	if err != nil {
		return nil, "", err
	}
	items := []scan.Job{}
	err = db.query(ctx, "list scans", `SELECT `+scanColumns+` FROM scans`+tail, args, func(r rowScanner) error {
		j, err := scanJob(r)
		items = append(items, j)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	items, next := page(items, f.Limit, func(j scan.Job) (time.Time, string) { return j.CreatedAt, j.ID })
	return items, next, nil
}

// Artifacts implements scan.Store: newest first, keyset-paginated on (created_at, id).
func (db *DB) Artifacts(ctx context.Context, f scan.ArtifactFilter) ([]scan.Artifact, string, error) {
	where := []string{"owner_id = ?"}
	args := []any{f.OwnerID}
	tail, args, err := pageTail(where, args, f.Cursor, f.Limit)
	if err != nil {
		return nil, "", err
	}
	items := []scan.Artifact{}
	err = db.query(ctx, "list artifacts", `SELECT id, owner_id, filename, sha256, size, storage_path, created_at FROM artifacts`+tail, args, func(r rowScanner) error {
		var a scan.Artifact
		err := r.Scan(&a.ID, &a.OwnerID, &a.Filename, &a.SHA256, &a.Size, &a.StoragePath, &a.CreatedAt)
		a.CreatedAt = a.CreatedAt.UTC()
		items = append(items, a)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	items, next := page(items, f.Limit, func(a scan.Artifact) (time.Time, string) { return a.CreatedAt, a.ID })
	return items, next, nil
}

// FindingIDs lists the ids of a scan's findings, most severe first.
func (db *DB) FindingIDs(ctx context.Context, scanID string) ([]string, error) {
	rows, err := db.sql.QueryContext(ctx, db.q(`SELECT id FROM findings WHERE scan_id = ? ORDER BY score DESC, id`), scanID)
	if err != nil {
		return nil, mapErr("list finding ids", err, "")
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, mapErr("list finding ids", err, "")
		}
		ids = append(ids, id)
	}
	return ids, mapErr("list finding ids", rows.Err(), "")
}

// query runs q and calls each for every row.
func (db *DB) query(ctx context.Context, op, q string, args []any, each func(rowScanner) error) error {
	rows, err := db.sql.QueryContext(ctx, db.q(q), args...)
	if err != nil {
		return mapErr(op, err, "")
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return mapErr(op, err, "")
		}
	}
	return mapErr(op, rows.Err(), "")
}

// CreateArtifact records an uploaded file, unless the owner's artifacts would then
// pass quota bytes in all (quota 0: no quota), which is apperr.QuotaExceeded. On
// Postgres an advisory lock on the owner serialises the check and the insert, so
// concurrent uploads cannot pass the quota together.
func (db *DB) CreateArtifact(ctx context.Context, a scan.Artifact, quota int64) error {
	used := db.q(`SELECT COALESCE(SUM(size), 0) FROM artifacts WHERE owner_id = ?`)
	query := db.q(`INSERT INTO artifacts (id, owner_id, filename, sha256, size, storage_path, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`)
	var check func(n int64) error
	if quota > 0 {
		check = func(n int64) error {
			if n+a.Size > quota {
				return scan.QuotaError(quota, n)
			}
			return nil
		}
	}
	err := db.insertWithinOwnerLimit(ctx, "artifacts:"+a.OwnerID, used, a.OwnerID, check,
		query, a.ID, a.OwnerID, a.Filename, a.SHA256, a.Size, a.StoragePath, a.CreatedAt.UTC())
	return mapErr("insert artifact", err, "User not found.")
}

// ArtifactBytes implements scan.Store.
func (db *DB) ArtifactBytes(ctx context.Context, ownerID string) (int64, error) {
	var n int64
	err := db.sql.QueryRowContext(ctx, db.q(`SELECT COALESCE(SUM(size), 0) FROM artifacts WHERE owner_id = ?`), ownerID).Scan(&n)
	return n, mapErr("sum artifact sizes", err, "")
}

// DeleteArtifact implements scan.Store: the checks and the delete in one transaction.
func (db *DB) DeleteArtifact(ctx context.Context, ownerID, id string) error {
	key := scan.Target{Kind: scan.TargetArtifact, ArtifactID: id}.Key()
	contained := db.q(`SELECT COUNT(*) FROM containments WHERE owner_id = ? AND target_key = ? AND contained = ?`)
	active := db.q(`SELECT COUNT(*) FROM scans WHERE owner_id = ? AND target_key = ? AND status IN ('queued', 'running')`)
	del := db.q(`DELETE FROM artifacts WHERE id = ? AND owner_id = ?`)
	err := db.writes.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, contained, ownerID, key, true).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return apperr.Errorf(apperr.ModelContained, "Artifact is contained; release it before deleting it.")
		}
		if err := tx.QueryRowContext(ctx, active, ownerID, key).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return apperr.Errorf(apperr.Conflict, "A scan of this artifact is queued or running; cancel it or wait for it to end.")
		}
		return execSome(ctx, tx, del, id, ownerID)
	})
	return mapErr("delete artifact", err, "Artifact not found.")
}

// Artifact returns the artifact with id.
func (db *DB) Artifact(ctx context.Context, id string) (scan.Artifact, error) {
	var a scan.Artifact
	err := db.sql.QueryRowContext(ctx, db.q(`SELECT id, owner_id, filename, sha256, size, storage_path, created_at FROM artifacts WHERE id = ?`), id).
		Scan(&a.ID, &a.OwnerID, &a.Filename, &a.SHA256, &a.Size, &a.StoragePath, &a.CreatedAt)
	a.CreatedAt = a.CreatedAt.UTC()
	return a, mapErr("get artifact", err, "Artifact not found.")
}

// Containment implements scan.Store.
func (db *DB) Containment(ctx context.Context, ownerID, key string) (scan.Containment, bool, error) {
	c := scan.Containment{OwnerID: ownerID, TargetKey: key}
	var kind string
	err := db.sql.QueryRowContext(ctx, db.q(`SELECT target_kind, target_id, contained, scan_id, updated_by, updated_at
		FROM containments WHERE owner_id = ? AND target_key = ?`), ownerID, key).Scan(&kind, &c.TargetID, &c.Contained, &c.ScanID, &c.UpdatedBy, &c.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return scan.Containment{}, false, nil
	}
	if err != nil {
		return scan.Containment{}, false, mapErr("get containment", err, "")
	}
	c.TargetKind, c.UpdatedAt = scan.TargetKind(kind), c.UpdatedAt.UTC()
	var ids, actions string
	err = db.sql.QueryRowContext(ctx, db.q(`SELECT finding_ids, actions FROM containment_events WHERE owner_id = ? AND target_key = ?
		ORDER BY created_at DESC, id DESC LIMIT 1`), ownerID, key).Scan(&ids, &actions)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return scan.Containment{}, false, mapErr("get containment", err, "")
	}
	if err == nil {
		_ = json.Unmarshal([]byte(ids), &c.FindingIDs)
		_ = json.Unmarshal([]byte(actions), &c.Actions)
	}
	return c, true, nil
}

// SetContainment implements scan.Store: the state and its audit event in one transaction.
func (db *DB) SetContainment(ctx context.Context, c scan.Containment) error {
	upsert := db.q(`INSERT INTO containments (owner_id, target_key, target_kind, target_id, contained, scan_id, updated_by, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (owner_id, target_key) DO UPDATE SET contained = excluded.contained, scan_id = excluded.scan_id,
			updated_by = excluded.updated_by, updated_at = excluded.updated_at`)
	event := db.q(`INSERT INTO containment_events (id, owner_id, scan_id, target_key, action, actor_id, finding_ids, actions, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	action := "release"
	if c.Contained {
		action = "contain"
	}
	ids, _ := json.Marshal(nonNil(c.FindingIDs))
	actions, _ := json.Marshal(nonNil(c.Actions))
	err := db.writes.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, upsert, c.OwnerID, c.TargetKey, string(c.TargetKind), c.TargetID, c.Contained, c.ScanID, c.UpdatedBy, c.UpdatedAt.UTC()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, event, uuid.NewString(), c.OwnerID, c.ScanID, c.TargetKey, action, c.UpdatedBy, string(ids), string(actions), c.UpdatedAt.UTC())
		return err
	})
	return mapErr("set containment", err, "")
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// QueueDepth implements scan.Store.
func (db *DB) QueueDepth(ctx context.Context) (int, error) {
	var n int
	err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM scans WHERE status = 'queued'`).Scan(&n)
	return n, mapErr("count queued scans", err, "")
}
