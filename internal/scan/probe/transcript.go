package probe

import (
	"fmt"
	"slices"

	"mirror/internal/llm"
	"mirror/internal/scan"
)

// Transcript is one probe's run as the engine saw it, for Options.Transcript: every
// exchange (unmasked: it goes to the caller, not into a report) and the verdict.
// Evaluations of the detectors against labelled replies are built from these.
type Transcript struct {
	ProbeID string    `json:"probe_id"`
	Version int       `json:"probe_version"`
	Type    scan.Type `json:"scan_type"`
	Kind    string    `json:"kind"`
	Seed    int64     `json:"seed"`
	// Strategy and Sample name the attempt ("none" and 1 for the probe as written).
	Strategy  string     `json:"strategy,omitempty"`
	Sample    int        `json:"sample,omitempty"`
	Exchanges []Exchange `json:"exchanges"`
	Verdict   string     `json:"verdict"` // "succeeded", "passed", "observation", "dismissed", "not_judged", "error", "not_run"
	Matched   []string   `json:"matched,omitempty"`
	Score     float64    `json:"score,omitempty"`
	Stance    string     `json:"stance,omitempty"`
	Judge     string     `json:"judge,omitempty"`
	// ToolSupport is the scan's tool-support check as it stood: "yes", "no", or
	// "" when it was not made.
	ToolSupport string `json:"tool_support,omitempty"`
}

// Exchange is one request of a transcript and its answer.
type Exchange struct {
	Session  string `json:"session"`
	Turn     int    `json:"turn"`
	User     string `json:"user"`
	Response string `json:"response"`
	// Logprobs of the response's tokens, when the endpoint returned them.
	Logprobs []llm.TokenLogprob `json:"logprobs,omitempty"`
	// ToolCalls the response made (answered by the scanner in the next exchange).
	ToolCalls []llm.ToolCall `json:"tool_calls,omitempty"`
}

func (e *engine) transcript(o outcome) {
	if e.opts.Transcript == nil {
		return
	}
	t := Transcript{ProbeID: o.probe.ID, Version: o.probe.Version, Type: o.probe.Type, Kind: o.probe.Success.Kind, Seed: e.opts.Seed, Strategy: o.strategy, Sample: o.sample + 1}
	for _, ex := range o.exchanges {
		t.Exchanges = append(t.Exchanges, Exchange{Session: ex.session, Turn: ex.turn, User: ex.user, Response: ex.resp.Text, Logprobs: ex.resp.Logprobs, ToolCalls: ex.resp.ToolCalls})
	}
	if o.probe.Success.Kind == KindToolWrite {
		t.ToolSupport = e.toolSupportWord()
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

// Rejudge judges a recorded transcript again with the current detectors (no judge
// model): the catalog probe of the same id and version is rendered with the
// transcript's seed and fed the recorded responses. It lets an evaluation's
// transcripts be re-read after a detector changes, without asking the model again.
func Rejudge(t Transcript) (Transcript, error) {
	if t.Strategy != "" && t.Strategy != StrategyNone {
		return t, fmt.Errorf("probe %s: only transcripts of probes as written can be judged again, not strategy %s", t.ProbeID, t.Strategy)
	}
	var p *Probe
	for _, c := range Catalog() {
		if c.ID == t.ProbeID {
			p = &c
		}
	}
	if p == nil || p.Version != t.Version {
		return t, fmt.Errorf("probe %s version %d is not in the catalog", t.ProbeID, t.Version)
	}
	r, err := p.render(t.Seed)
	if err != nil {
		return t, err
	}
	if p.custom() {
		o, err := rejudgeCustom(p, r, t)
		if err != nil {
			return t, err
		}
		e := &engine{opts: Options{Seed: t.Seed}}
		var out Transcript
		e.opts.Transcript = func(tr Transcript) { out = tr }
		e.transcript(o)
		out.ToolSupport = t.ToolSupport
		return out, nil
	}
	replies := map[string][]string{}
	logprobs := map[string][][]llm.TokenLogprob{}
	for _, ex := range t.Exchanges {
		replies[ex.Session] = append(replies[ex.Session], ex.Response)
		logprobs[ex.Session] = append(logprobs[ex.Session], ex.Logprobs)
	}
	exs, complete := replay(r, replies)
	if !complete {
		return t, fmt.Errorf("probe %s: the transcript does not answer every turn", t.ProbeID)
	}
	for i := range exs {
		exs[i].resp.Logprobs = logprobs[exs[i].session][exs[i].turn-1]
	}
	o := outcome{probe: p, exchanges: exs}
	o.hit, o.note = evaluate(p, r, exs)
	e := &engine{opts: Options{Seed: t.Seed}}
	var out Transcript
	e.opts.Transcript = func(tr Transcript) { out = tr }
	e.transcript(o)
	return out, nil
}

// replay builds the exchanges of a rendered probe from recorded replies to each
// turn, by session name. complete is false when a session lacks replies.
func replay(r rendered, replies map[string][]string) (exs []exchange, complete bool) {
	for _, s := range r.sessions {
		rs := replies[s.name]
		if len(rs) != len(s.turns) {
			return nil, false
		}
		var msgs []llm.Message
		if s.system != "" {
			msgs = append(msgs, llm.Message{Role: "system", Content: s.system})
		}
		for i, turn := range s.turns {
			msgs = append(msgs, llm.Message{Role: "user", Content: turn})
			exs = append(exs, exchange{session: s.name, turn: i + 1, user: turn, prompt: joinMessages(msgs), msgs: slices.Clone(msgs), resp: llm.Response{Text: rs[i]}})
			msgs = append(msgs, llm.Message{Role: "assistant", Content: rs[i]})
		}
	}
	return exs, true
}
