// Package sqlstore stores Mirror's records in SQL: an embedded SQLite file by default
// (modernc.org/sqlite, pure Go, no cgo) or Postgres (pgx) when DATABASE_URL says so.
// One implementation serves both through database/sql; the dialects differ only in
// placeholders, a few clauses and their migration files.
//
// Postgres connections use the simple query protocol by default, so Mirror works
// through a transaction-mode pooler (PgBouncer, Supabase's pooler), where server-side
// prepared statements do not survive between transactions. A URL may choose another
// mode with pgx's default_query_exec_mode parameter.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"mirror/internal/apperr"
)

//go:embed migrations
var migrations embed.FS

// Dialect names the SQL engine behind a DB.
type Dialect string

// The two engines.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is Mirror's database.
type DB struct {
	sql     *sql.DB
	dialect Dialect
	log     *slog.Logger
	writes  *batcher
	rebinds sync.Map // query with ? → query with $n (Postgres)
	stmts   sync.Map // query → *sql.Stmt (SQLite)
}

// Open connects to rawURL: "sqlite://path" (or "file:path", or a path ending in .db),
// or a Postgres URL ("postgres://", "postgresql://", and SQLAlchemy's
// "postgresql+asyncpg://" form of the spec). The SQLite folder is created if needed.
func Open(ctx context.Context, rawURL string, log *slog.Logger) (*DB, error) {
	d, dsn, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	db := &DB{dialect: d, log: log}
	switch d {
	case SQLite:
		if dir := filepath.Dir(dsn); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("create database folder: %w", err)
			}
		}
		// WAL lets readers run beside the writer; synchronous=FULL syncs the WAL at
		// every commit, so an acknowledged write survives a crash of the process or
		// the machine. Group commit (batcher) keeps that affordable.
		q := "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)&_txlock=immediate"
		db.sql, err = sql.Open("sqlite", "file:"+dsn+q)
		if err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", dsn, err)
		}
	case Postgres:
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, fmt.Errorf("parse DATABASE_URL: %w", redactErr(err, dsn))
		}
		if !strings.Contains(dsn, "default_query_exec_mode") {
			cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
		}
		db.sql = stdlib.OpenDB(*cfg)
		db.sql.SetMaxOpenConns(20)
		db.sql.SetMaxIdleConns(20)
	}
	if err := db.sql.PingContext(ctx); err != nil {
		db.sql.Close()
		return nil, fmt.Errorf("connect to %s database: %w", d, redactErr(err, dsn))
	}
	db.writes = newBatcher(db)
	return db, nil
}

// parseURL returns the dialect and the driver's DSN. Passwords never reach errors.
func parseURL(raw string) (Dialect, string, error) {
	raw = strings.TrimSpace(raw)
	switch {
	case strings.HasPrefix(raw, "sqlite://"):
		return SQLite, strings.TrimPrefix(raw, "sqlite://"), nil
	case strings.HasPrefix(raw, "sqlite:"):
		return SQLite, strings.TrimPrefix(raw, "sqlite:"), nil
	case strings.HasPrefix(raw, "file:"):
		return SQLite, strings.TrimPrefix(raw, "file:"), nil
	case strings.HasSuffix(raw, ".db") && !strings.Contains(raw, "://"):
		return SQLite, raw, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", errors.New("DATABASE_URL is not a valid URL")
	}
	scheme, driver, _ := strings.Cut(u.Scheme, "+")
	if scheme != "postgres" && scheme != "postgresql" {
		return "", "", fmt.Errorf("DATABASE_URL scheme %q is not supported (use sqlite://PATH or postgres://…)", u.Scheme)
	}
	_ = driver // SQLAlchemy's driver name (asyncpg, psycopg): irrelevant to pgx
	u.Scheme = "postgres"
	q := u.Query()
	// asyncpg spells sslmode "ssl"; SQLAlchemy-only options mean nothing to Postgres.
	if v := q.Get("ssl"); v != "" && q.Get("sslmode") == "" {
		q.Set("sslmode", v)
	}
	for _, k := range []string{"ssl", "prepared_statement_cache_size", "statement_cache_size", "prepared_statement_name_func"} {
		q.Del(k)
	}
	u.RawQuery = q.Encode()
	return Postgres, u.String(), nil
}

// redactErr returns err with the DSN's password removed from its text.
func redactErr(err error, dsn string) error {
	u, perr := url.Parse(dsn)
	if perr != nil || u.User == nil {
		return err
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" || !strings.Contains(err.Error(), pw) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), pw, "xxxxx"))
}

// Dialect returns the engine.
func (db *DB) Dialect() Dialect { return db.dialect }

// SQL returns the underlying handle, for adapters that need it (LISTEN/NOTIFY aside).
func (db *DB) SQL() *sql.DB { return db.sql }

// Close waits for queued writes and closes the connections.
func (db *DB) Close() error {
	db.writes.close()
	db.stmts.Range(func(_, s any) bool {
		s.(*sql.Stmt).Close()
		return true
	})
	return db.sql.Close()
}

// Ping checks the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.sql.PingContext(ctx) }

// Migrate applies every embedded migration not yet applied.
func (db *DB) Migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations/"+string(db.dialect))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	gd := goose.DialectSQLite3
	if db.dialect == Postgres {
		gd = goose.DialectPostgres
	}
	p, err := goose.NewProvider(gd, db.sql, sub)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	for _, r := range res {
		db.log.InfoContext(ctx, "migration applied", "version", r.Source.Version, "path", r.Source.Path)
	}
	return nil
}

// q rewrites ? placeholders to $1… for Postgres. Queries in this package never have
// a literal ? inside strings.
func (db *DB) q(query string) string {
	if db.dialect != Postgres {
		return query
	}
	if v, ok := db.rebinds.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	db.rebinds.Store(query, b.String())
	return b.String()
}

// mapErr turns driver errors into domain errors: no rows → notFound's code,
// uniqueness → Conflict, a missing referenced row → NotFound, an unreachable or
// overloaded database → Unavailable (503). Other errors are wrapped with op.
func mapErr(op string, err error, notFound string) error {
	if err == nil {
		return nil
	}
	if _, ok := apperr.As(err); ok {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return apperr.Errorf(apperr.NotFound, "%s", notFound)
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505":
			return apperr.Wrap(fmt.Errorf("%s: %w", op, err), apperr.Conflict, "It already exists.")
		case pe.Code == "23503":
			return apperr.Wrap(fmt.Errorf("%s: %w", op, err), apperr.NotFound, notFound)
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "53"), strings.HasPrefix(pe.Code, "57P"):
			return apperr.Wrap(fmt.Errorf("%s: %w", op, err), apperr.Unavailable, "The database is unavailable; nothing was stored. Try again shortly.")
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return apperr.Wrap(fmt.Errorf("%s: %w", op, err), apperr.Conflict, "It already exists.")
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return apperr.Wrap(fmt.Errorf("%s: %w", op, err), apperr.NotFound, notFound)
		}
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL,
			sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY:
			return apperr.Wrap(fmt.Errorf("%s: %w", op, err), apperr.Unavailable, "The database is unavailable; nothing was stored. Try again shortly.")
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	// Not an answer from the server: the connection failed (refused, reset, timeout).
	return apperr.Wrap(fmt.Errorf("%s: %w", op, err), apperr.Unavailable, "The database is unavailable; nothing was stored. Try again shortly.")
}
