package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// batcher is group commit for small writes (generations, feedback): writes that
// arrive together share one transaction, and each caller is answered only after that
// transaction committed. One fsync then covers many acknowledged writes, which is what
// keeps persistence affordable at load, without acknowledging anything unstored.
type batcher struct {
	db     *DB
	ops    chan *writeOp
	wg     sync.WaitGroup
	closed chan struct{}
	once   sync.Once
}

// writeOp is one caller's write: either exec, run inside the batch's transaction,
// or a single statement (query, args), which is atomic by itself and may then also
// run alone, outside any transaction.
type writeOp struct {
	ctx   context.Context
	exec  func(ctx context.Context, tx *sql.Tx) error
	query string
	args  []any
	done  chan error
}

// maxBatch bounds one transaction. Two writer goroutines keep Postgres busy while a
// batch commits; SQLite has a single writer anyway.
const maxBatch = 256

func newBatcher(db *DB) *batcher {
	b := &batcher{db: db, ops: make(chan *writeOp, maxBatch), closed: make(chan struct{})}
	writers := 1
	if db.dialect == Postgres {
		writers = 4
	}
	for range writers {
		b.wg.Add(1)
		go b.loop()
	}
	return b
}

// do runs exec in a shared transaction and returns its own outcome.
func (b *batcher) do(ctx context.Context, exec func(ctx context.Context, tx *sql.Tx) error) error {
	return b.enqueue(ctx, &writeOp{ctx: ctx, exec: exec, done: make(chan error, 1)})
}

// exec runs one statement, batched with others, and returns its own outcome.
func (b *batcher) exec(ctx context.Context, query string, args ...any) error {
	return b.enqueue(ctx, &writeOp{ctx: ctx, query: query, args: args, done: make(chan error, 1)})
}

func (b *batcher) enqueue(ctx context.Context, op *writeOp) error {
	select {
	case b.ops <- op:
	case <-b.closed:
		return fmt.Errorf("database is closing")
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, the write is waited for even if ctx ends: its outcome must be known.
	return <-op.done
}

func (b *batcher) loop() {
	defer b.wg.Done()
	for {
		var first *writeOp
		select {
		case first = <-b.ops:
		case <-b.closed:
			// Drain what was queued before close.
			for {
				select {
				case op := <-b.ops:
					b.commit([]*writeOp{op})
				default:
					return
				}
			}
		}
		batch := []*writeOp{first}
	fill:
		for len(batch) < maxBatch {
			select {
			case op := <-b.ops:
				batch = append(batch, op)
			default:
				break fill
			}
		}
		b.commit(batch)
	}
}

// commit runs batch in one transaction. If it fails, each op is retried alone, so
// one bad write (an unknown generation) never fails its neighbours and every caller
// gets its own true outcome.
func (b *batcher) commit(batch []*writeOp) {
	if len(batch) == 1 && batch[0].exec == nil {
		// A lone statement commits by itself: no BEGIN and COMMIT round trips.
		batch[0].done <- b.db.execStmt(context.Background(), nil, batch[0].query, batch[0].args)
		return
	}
	if err := b.tx(batch); err == nil {
		for _, op := range batch {
			op.done <- nil
		}
		return
	} else if len(batch) == 1 {
		batch[0].done <- err
		return
	}
	for _, op := range batch {
		op.done <- b.tx([]*writeOp{op})
	}
}

func (b *batcher) tx(batch []*writeOp) error {
	ctx := context.Background()
	tx, err := b.db.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	for _, op := range batch {
		if op.exec != nil {
			err = op.exec(ctx, tx)
		} else {
			err = b.db.execStmt(ctx, tx, op.query, op.args)
		}
		if err != nil {
			tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

func (b *batcher) close() {
	b.once.Do(func() { close(b.closed) })
	b.wg.Wait()
}

// execStmt runs query in tx (nil: on its own). On SQLite the statement is prepared
// once and reused: compiling an INSERT cost about as much as running it. Postgres
// statements are not prepared, because a server-side prepared statement does not
// survive between transactions behind a transaction-mode pooler (PgBouncer,
// Supabase).
func (db *DB) execStmt(ctx context.Context, tx *sql.Tx, query string, args []any) error {
	var err error
	switch {
	case db.dialect != SQLite && tx != nil:
		_, err = tx.ExecContext(ctx, query, args...)
	case db.dialect != SQLite:
		_, err = db.sql.ExecContext(ctx, query, args...)
	default:
		var stmt *sql.Stmt
		if stmt, err = db.prepared(ctx, query); err != nil {
			return err
		}
		if tx != nil {
			stmt = tx.StmtContext(ctx, stmt)
		}
		_, err = stmt.ExecContext(ctx, args...)
	}
	return err
}

// prepared returns query prepared on the pool (database/sql then prepares it once per
// connection that runs it).
func (db *DB) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := db.stmts.Load(query); ok {
		return s.(*sql.Stmt), nil
	}
	s, err := db.sql.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := db.stmts.LoadOrStore(query, s); loaded {
		s.Close()
		return prev.(*sql.Stmt), nil
	}
	return s, nil
}
