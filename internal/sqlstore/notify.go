package sqlstore

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"mirror/internal/scan"
)

// notifyChannel is the Postgres channel scan changes are announced on.
const notifyChannel = "mirror_scan"

// PGNotifier is a scan.Notifier across instances: Publish sends NOTIFY through the
// pool (which works through a transaction pooler), and one LISTEN connection, on
// the direct URL (a transaction pooler cannot hold a LISTEN), feeds every
// notification to the local Broker. Watchers poll the store as well, so a
// notification lost while the listener reconnects delays an update by at most a
// poll interval.
type PGNotifier struct {
	db     *DB
	local  *scan.Broker
	log    *slog.Logger
	out    chan string
	cancel context.CancelFunc
	done   chan struct{}
}

var _ scan.Notifier = (*PGNotifier)(nil)

// NewPGNotifier starts listening on directURL until Close.
func NewPGNotifier(ctx context.Context, db *DB, directURL string, local *scan.Broker, log *slog.Logger) *PGNotifier {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n := &PGNotifier{db: db, local: local, log: log, out: make(chan string, 1024), cancel: cancel, done: make(chan struct{})}
	go n.listen(ctx, directURL)
	go n.send(ctx)
	return n
}

// Publish implements scan.Notifier: local subscribers at once, other instances
// through NOTIFY. It never blocks; if the send queue is full the notification is
// dropped (watchers' polling covers it).
func (n *PGNotifier) Publish(_ context.Context, scanID string) {
	n.local.Local(scanID)
	select {
	case n.out <- scanID:
	default:
	}
}

// Subscribe implements scan.Notifier.
func (n *PGNotifier) Subscribe(scanID string) (<-chan struct{}, func()) {
	return n.local.Subscribe(scanID)
}

// Close stops listening.
func (n *PGNotifier) Close() {
	n.cancel()
	<-n.done
}

func (n *PGNotifier) send(ctx context.Context) {
	q := n.db.q(`SELECT pg_notify(?, ?)`)
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-n.out:
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if _, err := n.db.sql.ExecContext(wctx, q, notifyChannel, id); err != nil && ctx.Err() == nil {
				n.log.Warn("notify scan change", "scan_id", id, "error", err)
			}
			cancel()
		}
	}
}

func (n *PGNotifier) listen(ctx context.Context, directURL string) {
	defer close(n.done)
	_, dsn, err := parseURL(directURL)
	if err != nil {
		n.log.Error("scan notifications: bad DATABASE_DIRECT_URL", "error", err)
		return
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := n.listenOnce(ctx, dsn)
		if ctx.Err() != nil {
			return
		}
		n.log.Warn("scan notifications: listener lost; reconnecting", "error", redactErr(err, dsn), "wait", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

func (n *PGNotifier) listenOnce(ctx context.Context, dsn string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return err
	}
	for {
		note, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		n.local.Local(note.Payload)
	}
}
