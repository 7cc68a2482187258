package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"mirror/internal/apperr"
	"mirror/internal/scan"
)

// CreateProbePack implements scan.PackStore: the count and the insert in one
// transaction (on Postgres under a per-owner advisory lock, so two uploads at once
// cannot both take the last place).
func (db *DB) CreateProbePack(ctx context.Context, p scan.ProbePack, limit int) error {
	count := db.q(`SELECT COUNT(*) FROM probe_packs WHERE owner_id = ?`)
	insert := db.q(`INSERT INTO probe_packs (id, owner_id, name, content, size, probes, sha256, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	err := db.writes.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if limit > 0 {
			if db.dialect == Postgres {
				if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "probe_packs:"+p.OwnerID); err != nil {
					return err
				}
			}
			var n int
			if err := tx.QueryRowContext(ctx, count, p.OwnerID).Scan(&n); err != nil {
				return err
			}
			if n >= limit {
				return apperr.Errorf(apperr.Conflict, "You already keep %d probe packs, the most allowed; delete one first.", limit)
			}
		}
		_, err := tx.ExecContext(ctx, insert, p.ID, p.OwnerID, p.Name, p.Content, p.Size, p.Probes, p.SHA256, p.CreatedAt.UTC())
		return err
	})
	return mapErr("insert probe pack", err, "User not found.")
}

// ProbePack implements scan.PackStore.
func (db *DB) ProbePack(ctx context.Context, id string) (scan.ProbePack, error) {
	var p scan.ProbePack
	err := db.sql.QueryRowContext(ctx, db.q(`SELECT id, owner_id, name, content, size, probes, sha256, created_at FROM probe_packs WHERE id = ?`), id).
		Scan(&p.ID, &p.OwnerID, &p.Name, &p.Content, &p.Size, &p.Probes, &p.SHA256, &p.CreatedAt)
	p.CreatedAt = p.CreatedAt.UTC()
	return p, mapErr("get probe pack", err, "Probe pack not found.")
}

// ProbePacks implements scan.PackStore: newest first, without content (a user
// keeps at most scan.MaxPacksPerUser, so there is one page).
func (db *DB) ProbePacks(ctx context.Context, ownerID string) ([]scan.ProbePack, error) {
	rows, err := db.sql.QueryContext(ctx, db.q(`SELECT id, owner_id, name, size, probes, sha256, created_at FROM probe_packs
		WHERE owner_id = ? ORDER BY created_at DESC, id DESC`), ownerID)
	if err != nil {
		return nil, mapErr("list probe packs", err, "")
	}
	defer rows.Close()
	out := []scan.ProbePack{}
	for rows.Next() {
		var p scan.ProbePack
		if err := rows.Scan(&p.ID, &p.OwnerID, &p.Name, &p.Size, &p.Probes, &p.SHA256, &p.CreatedAt); err != nil {
			return nil, fmt.Errorf("scan probe pack: %w", err)
		}
		p.CreatedAt = p.CreatedAt.UTC()
		out = append(out, p)
	}
	return out, mapErr("list probe packs", rows.Err(), "")
}

// DeleteProbePack implements scan.PackStore.
func (db *DB) DeleteProbePack(ctx context.Context, ownerID, id string) error {
	del := db.q(`DELETE FROM probe_packs WHERE id = ? AND owner_id = ?`)
	err := db.writes.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, del, id, ownerID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return sql.ErrNoRows
		}
		return nil
	})
	return mapErr("delete probe pack", err, "Probe pack not found.")
}
