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
