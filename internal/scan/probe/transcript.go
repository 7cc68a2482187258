package probe

import "mirror/internal/scan"

// Transcript is one probe's run as the engine saw it, for Options.Transcript: every
// exchange (unmasked: it goes to the caller, not into a report) and the verdict.
// Evaluations of the detectors against labelled replies are built from these.
type Transcript struct {
	ProbeID   string     `json:"probe_id"`
	Version   int        `json:"probe_version"`
	Type      scan.Type  `json:"scan_type"`
	Kind      string     `json:"kind"`
	Seed      int64      `json:"seed"`
	Exchanges []Exchange `json:"exchanges"`
	Verdict   string     `json:"verdict"` // "succeeded", "passed", "observation", "dismissed", "not_judged", "error", "not_run"
	Matched   []string   `json:"matched,omitempty"`
	Score     float64    `json:"score,omitempty"`
	Stance    string     `json:"stance,omitempty"`
	Judge     string     `json:"judge,omitempty"`
}

// Exchange is one request of a transcript and its answer.
type Exchange struct {
	Session  string `json:"session"`
	Turn     int    `json:"turn"`
	User     string `json:"user"`
	Response string `json:"response"`
}

func (e *engine) transcript(o outcome) {
	if e.opts.Transcript == nil {
		return
	}
	t := Transcript{ProbeID: o.probe.ID, Version: o.probe.Version, Type: o.probe.Type, Kind: o.probe.Success.Kind, Seed: e.opts.Seed}
	for _, ex := range o.exchanges {
		t.Exchanges = append(t.Exchanges, Exchange{Session: ex.session, Turn: ex.turn, User: ex.user, Response: ex.resp.Text})
	}
	switch {
	case o.err != nil:
		t.Verdict = "error"
	case o.skipped:
		t.Verdict = "not_run"
	case o.note != "":
		t.Verdict = "not_judged"
	case o.hit == nil:
		t.Verdict = "passed"
	case o.hit.observation:
		t.Verdict = "observation"
	case o.hit.judge == "dismissed":
		t.Verdict = "dismissed"
	default:
		t.Verdict = "succeeded"
	}
	if o.hit != nil {
		t.Matched, t.Score, t.Stance, t.Judge = o.hit.matched, o.hit.score, string(o.hit.stance), o.hit.judge
	}
	e.opts.Transcript(t)
}
