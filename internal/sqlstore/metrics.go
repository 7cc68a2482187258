package sqlstore

import (
	"context"
	"sort"
	"time"

	"mirror/internal/scan"
)

// metricsSample bounds the rows the time means are computed over: the latest ones.
const metricsSample = 1000

// Metrics implements scan.Store. Counts cover all of the owner's scans and
// findings; a target's risk comes from its latest completed scan, so a target that
// was fixed and scanned again stops counting its old findings. Each part is one query.
func (db *DB) Metrics(ctx context.Context, owner string) (scan.Metrics, error) {
	m := scan.Metrics{
		ScansByStatus:      map[scan.Status]int{scan.Queued: 0, scan.Running: 0, scan.Completed: 0, scan.Failed: 0, scan.Cancelled: 0},
		FindingsBySeverity: map[scan.Severity]int{scan.Critical: 0, scan.High: 0, scan.Medium: 0, scan.Low: 0, scan.Info: 0},
		FindingsByType:     map[scan.Type]int{},
		RiskByTarget:       []scan.TargetRisk{},
	}
	for _, t := range scan.AllTypes {
		m.FindingsByType[t] = 0
	}
	for _, part := range []func(context.Context, string, *scan.Metrics) error{
		db.countScans, db.countFindings, db.riskByTarget, db.markContained, db.meanTimeToDetect, db.meanTimeToContain,
	} {
		if err := part(ctx, owner, &m); err != nil {
			return m, err
		}
	}
	return m, nil
}

// countScans counts the owner's scans by status.
func (db *DB) countScans(ctx context.Context, owner string, m *scan.Metrics) error {
	return db.query(ctx, "scan metrics", `SELECT status, COUNT(*) FROM scans WHERE owner_id = ? GROUP BY status`, []any{owner}, func(r rowScanner) error {
		var s string
		var n int
		err := r.Scan(&s, &n)
		m.ScansByStatus[scan.Status(s)] = n
		m.ScansTotal += n
		return err
	})
}

// countFindings counts the owner's findings by severity and by type.
func (db *DB) countFindings(ctx context.Context, owner string, m *scan.Metrics) error {
	return db.query(ctx, "scan metrics", `SELECT severity, scan_type, COUNT(*) FROM findings WHERE owner_id = ? GROUP BY severity, scan_type`, []any{owner}, func(r rowScanner) error {
		var sev, typ string
		var n int
		err := r.Scan(&sev, &typ, &n)
		m.FindingsBySeverity[scan.Severity(sev)] += n
		m.FindingsByType[scan.Type(typ)] += n
		m.FindingsTotal += n
		return err
	})
}

// riskByTarget scores each target from the findings of its latest completed scan,
// riskiest first.
func (db *DB) riskByTarget(ctx context.Context, owner string, m *scan.Metrics) error {
	risk := map[string]*scan.TargetRisk{}
	err := db.query(ctx, "scan metrics", `SELECT f.target, f.severity, COUNT(*), MAX(f.score) FROM findings f
		WHERE f.scan_id IN (SELECT s1.id FROM scans s1 WHERE s1.owner_id = ? AND s1.status = 'completed' AND s1.completed_at =
			(SELECT MAX(s2.completed_at) FROM scans s2 WHERE s2.owner_id = s1.owner_id AND s2.target_key = s1.target_key AND s2.status = 'completed'))
		GROUP BY f.target, f.severity`, []any{owner}, func(r rowScanner) error {
		var target, sev string
		var n int
		var score float64
		if err := r.Scan(&target, &sev, &n, &score); err != nil {
			return err
		}
		tr := risk[target]
		if tr == nil {
			tr = &scan.TargetRisk{Target: target, MaxSeverity: scan.Info}
			risk[target] = tr
		}
		tr.Findings += n
		tr.MaxScore = max(tr.MaxScore, score)
		tr.RiskScore = min(100, tr.RiskScore+float64(n)*scan.SeverityWeight(scan.Severity(sev)))
		if scan.Severity(sev).Rank() > tr.MaxSeverity.Rank() {
			tr.MaxSeverity = scan.Severity(sev)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, tr := range risk {
		m.RiskByTarget = append(m.RiskByTarget, *tr)
	}
	sort.Slice(m.RiskByTarget, func(i, j int) bool {
		a, b := m.RiskByTarget[i], m.RiskByTarget[j]
		if a.RiskScore != b.RiskScore {
			return a.RiskScore > b.RiskScore
		}
		return a.Target < b.Target
	})
	return nil
}

// markContained marks the targets of m.RiskByTarget the owner (or everyone, for a
// catalog model) has contained.
func (db *DB) markContained(ctx context.Context, owner string, m *scan.Metrics) error {
	at := map[string]int{}
	for i, tr := range m.RiskByTarget {
		at[tr.Target] = i
	}
	return db.query(ctx, "scan metrics", `SELECT target_key FROM containments WHERE contained = ? AND owner_id IN (?, '')`, []any{true, owner}, func(r rowScanner) error {
		var key string
		err := r.Scan(&key)
		if i, ok := at[key]; ok {
			m.RiskByTarget[i].Contained = true
		}
		return err
	})
}

// meanTimeToDetect: from asking for a scan to having its findings.
func (db *DB) meanTimeToDetect(ctx context.Context, owner string, m *scan.Metrics) (err error) {
	m.MeanTimeToDetect, err = db.meanSeconds(ctx, owner, `SELECT created_at, completed_at FROM scans
		WHERE owner_id = ? AND status = 'completed' AND findings_count > 0 ORDER BY created_at DESC LIMIT ?`)
	return err
}

// meanTimeToContain: from the findings to the containment that cited them.
func (db *DB) meanTimeToContain(ctx context.Context, owner string, m *scan.Metrics) (err error) {
	m.MeanTimeToContain, err = db.meanSeconds(ctx, owner, `SELECT s.completed_at, e.created_at FROM containment_events e JOIN scans s ON s.id = e.scan_id
		WHERE s.owner_id = ? AND e.action = 'contain' AND s.completed_at IS NOT NULL ORDER BY e.created_at DESC LIMIT ?`)
	return err
}

// meanSeconds runs q, which selects (from, to) pairs of the owner's latest
// metricsSample rows, and returns the mean of to - from in seconds (nil: no rows).
func (db *DB) meanSeconds(ctx context.Context, owner, q string) (*float64, error) {
	var sum float64
	var n int
	err := db.query(ctx, "scan metrics", q, []any{owner, metricsSample}, func(r rowScanner) error {
		var from, to time.Time
		if err := r.Scan(&from, &to); err != nil {
			return err
		}
		sum += to.Sub(from).Seconds()
		n++
		return nil
	})
	if err != nil || n == 0 {
		return nil, err
	}
	v := sum / float64(n)
	return &v, nil
}
