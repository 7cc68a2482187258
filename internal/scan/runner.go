package scan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"mirror/internal/apperr"
)

// Start runs the workers until Stop. Each claims jobs from the store, so workers on
// every instance share one queue; a job whose worker died is claimed again once its
// lease expires.
func (s *Service) Start(ctx context.Context) {
	s.runCtx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	for range s.o.Workers {
		s.wg.Add(1)
		go s.work()
	}
}

// Stop stops claiming jobs and waits up to drain for the running ones to finish;
// those still running then are cancelled and put back in the queue, for this or
// another instance to run again.
func (s *Service) Stop(drain time.Duration) {
	if s.cancel == nil {
		return
	}
	s.stopOnce.Do(func() { close(s.stopping) })
	// Idle workers return at once; busy ones return when their scan ends.
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(drain):
		s.log.Warn("scans still running at shutdown; requeueing them", "drain", drain)
	}
	s.cancel()
	<-done
}

func (s *Service) work() {
	defer s.wg.Done()
	tick := time.NewTicker(s.o.PollEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.stopping:
			return
		default:
		}
		j, ok, err := s.store.ClaimScan(s.runCtx, s.worker, s.now().UTC(), s.o.Lease, s.o.MaxAttempts, s.o.MaxRunningPerUser)
		if err != nil && s.runCtx.Err() == nil {
			s.log.Error("claim scan", "error", err)
		}
		if err == nil && ok {
			s.run(j)
			continue
		}
		select {
		case <-s.stopping:
			return
		case <-s.wake:
		case <-tick.C:
		}
	}
}

// progressState is the latest progress of a running job; the engine writes it
// without blocking and one goroutine persists it.
type progressState struct {
	mu      sync.Mutex
	percent int
	step    string
	dirty   chan struct{}
}

func (p *progressState) set(done, total int, step string) {
	pct := 0
	if total > 0 {
		pct = min(99, done*100/total) // 100 is for the finished job only
	}
	p.mu.Lock()
	if pct > p.percent {
		p.percent = pct
	}
	p.step = step
	p.mu.Unlock()
	select {
	case p.dirty <- struct{}{}:
	default:
	}
}

func (p *progressState) get() (int, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.percent, p.step
}

// run runs one claimed job to its end, or until the lease is lost or the service stops.
func (s *Service) run(j Job) {
	s.running.Add(1)
	defer s.running.Add(-1)
	start := s.now()
	log := s.log.With("scan_id", j.ID, "target", j.TargetKey, "attempt", j.Attempts)
	log.Info("scan started")
	s.notifier.Publish(s.runCtx, j.ID)

	ctx, cancel := context.WithTimeoutCause(s.runCtx, s.o.JobTimeout, errJobTimeout)
	defer cancel()
	leaseLost := make(chan struct{})
	prog := &progressState{step: "starting", dirty: make(chan struct{}, 1)}
	var keeper sync.WaitGroup
	keeper.Add(1)
	go func() {
		defer keeper.Done()
		s.keepLease(ctx, j.ID, prog, cancel, leaseLost)
	}()

	key, err := s.o.Sealer.Open(j.ID, j.Secret)
	var findings []Finding
	var notScanned []NotScanned
	if err == nil {
		findings, notScanned, err = s.o.Engine.Run(ctx, j, key, prog.set)
	}
	cancel()
	keeper.Wait()

	select {
	case <-leaseLost:
		s.logLeaseLost(log, j.ID)
		return
	default:
	}
	if s.runCtx.Err() != nil { // shutting down: give the job back
		rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer rcancel()
		if rerr := s.store.RequeueScan(rctx, j.ID, s.worker); rerr != nil {
			log.Error("requeue scan at shutdown", "error", rerr)
		}
		s.notifier.Publish(rctx, j.ID)
		return
	}
	r := Result{Status: Completed, At: s.now().UTC().Truncate(time.Microsecond)}
	if err != nil {
		r.Status, r.Error = Failed, failureMessage(ctx, err, key)
		log.Warn("scan failed", "error", r.Error)
	} else {
		r.Findings = s.finalize(j, findings, notScanned, r.At)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	if ferr := s.store.FinishScan(wctx, j.ID, s.worker, r); ferr != nil {
		if errors.Is(ferr, ErrLeaseLost) { // cancelled, or taken over, as it finished
			s.logLeaseLost(log, j.ID)
			return
		}
		// Not finished in the store: the lease expires and the job runs again.
		log.Error("record scan result", "error", ferr)
		return
	}
	s.notifier.Publish(wctx, j.ID)
	if r.Status == Completed {
		s.completed.Add(1)
	} else {
		s.failed.Add(1)
	}
	log.Info("scan finished", "status", r.Status, "findings", len(r.Findings), "took_ms", s.now().Sub(start).Milliseconds())
}

var errJobTimeout = errors.New("scan ran past its time limit")

// keepLease persists progress as it changes (at most every 200 ms) and renews the
// lease at a third of its length, until ctx ends. Losing the lease cancels the run.
func (s *Service) keepLease(ctx context.Context, id string, prog *progressState, cancel context.CancelFunc, lost chan struct{}) {
	renew := time.NewTicker(s.o.Lease / 3)
	defer renew.Stop()
	var lastPct = -1
	var lastStep string
	write := func(force bool) {
		pct, step := prog.get()
		if !force && pct == lastPct && step == lastStep {
			return
		}
		wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer wcancel()
		err := s.store.ReportProgress(wctx, id, s.worker, pct, step, s.now().UTC().Add(s.o.Lease))
		switch {
		case errors.Is(err, ErrLeaseLost):
			close(lost)
			cancel()
		case err != nil:
			s.log.Warn("record scan progress", "scan_id", id, "error", err)
		default:
			lastPct, lastStep = pct, step
			s.notifier.Publish(wctx, id)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-renew.C:
			write(true)
		case <-prog.dirty:
			write(false)
			select { // coalesce bursts of progress
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
		select {
		case <-lost:
			return
		default:
		}
	}
}

// failureMessage is the client-safe reason a run failed, with the job's API key
// (should an upstream echo it) removed.
func failureMessage(ctx context.Context, err error, key string) string {
	msg := err.Error()
	if errors.Is(context.Cause(ctx), errJobTimeout) {
		msg = errJobTimeout.Error()
	} else if e, ok := apperr.As(err); ok {
		msg = e.Message
	}
	if key != "" {
		msg = strings.ReplaceAll(msg, key, "[redacted]")
	}
	if len(msg) > 1000 {
		msg = msg[:1000] + "…"
	}
	return msg
}

// finalize gives findings their ids and the job's identity, and turns what could
// not be scanned into findings: skipped content is never shown as clean.
func (s *Service) finalize(j Job, findings []Finding, notScanned []NotScanned, at time.Time) []Finding {
	out := make([]Finding, 0, len(findings)+len(notScanned))
	for _, f := range findings {
		f.ID, f.ScanID, f.Target, f.CreatedAt = uuid.NewString(), j.ID, j.TargetKey, at
		if f.Evidence == nil {
			f.Evidence = map[string]any{}
		}
		out = append(out, f)
	}
	typ := SelfModification
	if len(j.Types) > 0 {
		typ = j.Types[0]
	}
	for _, n := range notScanned {
		out = append(out, Finding{ID: uuid.NewString(), ScanID: j.ID, ScanType: typ, Severity: Low, Score: 3,
			Title:       fmt.Sprintf("Not scanned: %s", n.Path),
			Evidence:    map[string]any{"path": n.Path, "reason": n.Reason, "not_scanned": true},
			Remediation: "This content could not be analysed, so it is not known to be safe. Convert it to a supported format (safetensors, GGUF, ONNX) or review it by hand before loading it.",
			Target:      j.TargetKey, CreatedAt: at})
	}
	return out
}

// logLeaseLost says why a worker let go of a job: a cancel is routine, a takeover
// (this worker was too slow to renew its lease) is worth a warning.
func (s *Service) logLeaseLost(log *slog.Logger, id string) {
	if cur, err := s.store.Scan(context.Background(), id); err == nil && cur.Status == Cancelled {
		log.Info("scan stopped: cancelled")
		return
	}
	log.Warn("scan lease lost; another worker owns it now")
}
