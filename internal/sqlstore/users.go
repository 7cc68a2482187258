package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"mirror/internal/auth"
)

var _ auth.Store = (*DB)(nil)

const userNotFound = "User not found."

// CreateUser stores u; a taken email is apperr.Conflict.
func (db *DB) CreateUser(ctx context.Context, u auth.User, passwordHash string) error {
	query := db.q(`INSERT INTO users (id, email, full_name, password_hash, role, created_at) VALUES (?, ?, ?, ?, ?, ?)`)
	err := db.writes.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, query, u.ID, u.Email, u.FullName, passwordHash, string(u.Role), u.CreatedAt.UTC())
		return err
	})
	return mapErr("insert user", err, userNotFound)
}

// UserByEmail returns the user with email (already lower-cased) and its hash.
func (db *DB) UserByEmail(ctx context.Context, email string) (auth.User, string, error) {
	var u auth.User
	var role, hash string
	err := db.sql.QueryRowContext(ctx, db.q(`SELECT id, email, full_name, role, created_at, password_hash FROM users WHERE email = ?`), email).
		Scan(&u.ID, &u.Email, &u.FullName, &role, &u.CreatedAt, &hash)
	if err != nil {
		return auth.User{}, "", mapErr("get user by email", err, userNotFound)
	}
	u.Role, u.CreatedAt = auth.Role(role), u.CreatedAt.UTC()
	return u, hash, nil
}

// UserForToken returns the user with id and whether token jti is revoked.
func (db *DB) UserForToken(ctx context.Context, userID, jti string) (auth.User, bool, error) {
	var u auth.User
	var role string
	var revoked int
	err := db.sql.QueryRowContext(ctx, db.q(`SELECT id, email, full_name, role, created_at,
		(SELECT COUNT(*) FROM revoked_tokens WHERE jti = ?) FROM users WHERE id = ?`), jti, userID).
		Scan(&u.ID, &u.Email, &u.FullName, &role, &u.CreatedAt, &revoked)
	if err != nil {
		return auth.User{}, false, mapErr("get user for token", err, userNotFound)
	}
	u.Role, u.CreatedAt = auth.Role(role), u.CreatedAt.UTC()
	return u, revoked > 0, nil
}

// RevokeToken records jti as revoked; revoking twice is not an error.
func (db *DB) RevokeToken(ctx context.Context, jti string, expires time.Time) error {
	query := db.q(`INSERT INTO revoked_tokens (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO NOTHING`)
	err := db.writes.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, query, jti, expires.UTC())
		return err
	})
	return mapErr("revoke token", err, "")
}

// PurgeRevokedTokens deletes revocations of tokens expired before now: such tokens
// fail their expiry check anyway.
func (db *DB) PurgeRevokedTokens(ctx context.Context, now time.Time) (int64, error) {
	res, err := db.sql.ExecContext(ctx, db.q(`DELETE FROM revoked_tokens WHERE expires_at < ?`), now.UTC())
	if err != nil {
		return 0, mapErr("purge revoked tokens", err, "")
	}
	n, _ := res.RowsAffected()
	return n, nil
}

var _ auth.RoleStore = (*DB)(nil)

// SetRole stores role for the user with id; unknown is apperr.NotFound.
func (db *DB) SetRole(ctx context.Context, userID string, role auth.Role) error {
	query := db.q(`UPDATE users SET role = ? WHERE id = ?`)
	var n int64
	err := db.writes.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, string(role), userID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err == nil && n == 0 {
		err = sql.ErrNoRows
	}
	return mapErr("set user role", err, userNotFound)
}

// UsersWithRole lists the users whose stored role is role, oldest first.
func (db *DB) UsersWithRole(ctx context.Context, role auth.Role) ([]auth.User, error) {
	rows, err := db.sql.QueryContext(ctx, db.q(`SELECT id, email, full_name, role, created_at FROM users WHERE role = ? ORDER BY created_at, id`), string(role))
	if err != nil {
		return nil, mapErr("list users by role", err, "")
	}
	defer rows.Close()
	var out []auth.User
	for rows.Next() {
		var u auth.User
		var r string
		if err := rows.Scan(&u.ID, &u.Email, &u.FullName, &r, &u.CreatedAt); err != nil {
			return nil, mapErr("list users by role", err, "")
		}
		u.Role, u.CreatedAt = auth.Role(r), u.CreatedAt.UTC()
		out = append(out, u)
	}
	return out, mapErr("list users by role", rows.Err(), "")
}
