package sqlstore

import (
	"context"
	"database/sql"
)

// insertWithinOwnerLimit runs, in one write transaction, the aggregate query
// total (one int64 for the owner, e.g. a count or a sum of sizes), hands its
// result to check, and runs insert with args only when check returns nil. A nil
// check skips the aggregate (no limit). On Postgres a transaction-scoped advisory
// lock on lockKey serialises the check and the insert, so two concurrent writes
// for the same owner cannot both pass the limit.
func (db *DB) insertWithinOwnerLimit(ctx context.Context, lockKey, total, ownerID string, check func(n int64) error, insert string, args ...any) error {
	return db.writes.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if check != nil {
			if db.dialect == Postgres {
				if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, lockKey); err != nil {
					return err
				}
			}
			var n int64
			if err := tx.QueryRowContext(ctx, total, ownerID).Scan(&n); err != nil {
				return err
			}
			if err := check(n); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, insert, args...)
		return err
	})
}

// execSome runs query in tx and returns sql.ErrNoRows when it changed no row
// (a delete or update of something that is not there, or not the caller's).
func execSome(ctx context.Context, tx *sql.Tx, query string, args ...any) error {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return sql.ErrNoRows
	}
	return nil
}
