package probe

import (
	"math"
	"slices"
	"strconv"
)

// rate is an attack success rate with its counts: of the attempts made, how many
// were judged (answered, not cut short, not left unjudged) and how many of those
// succeeded against the model.
type rate struct{ attempts, judged, succeeded, notRun int }

func (r *rate) add(o outcome) {
	r.attempts++
	switch {
	case o.skipped:
		r.notRun++
	case o.err == nil && o.note == "":
		r.judged++
		if succeeded(o) {
			r.succeeded++
		}
	}
}

func (r rate) value() float64 {
	if r.judged == 0 {
		return 0
	}
	return math.Round(float64(r.succeeded)/float64(r.judged)*1000) / 1000
}

func (r rate) evidence() map[string]any {
	return map[string]any{"attempts": r.attempts, "judged": r.judged, "succeeded": r.succeeded, "not_run": r.notRun, "attack_success_rate": r.value()}
}

// succeeded reports an attempt in which the attack worked: a hit that is neither an
// observation nor dismissed by the judge.
func succeeded(o outcome) bool {
	return o.err == nil && o.hit != nil && !o.hit.observation && o.hit.judge != "dismissed"
}

func judged(o outcome) bool { return o.err == nil && !o.skipped && o.note == "" }

// probeRun is one probe's attempts, in the order they were planned.
type probeRun struct {
	probe    *Probe
	attempts []outcome
}

// groupByProbe groups outcomes (sorted by type and probe id, attempt order kept
// within a probe) by probe.
func groupByProbe(sorted []outcome) []probeRun {
	var out []probeRun
	for _, o := range sorted {
		if n := len(out); n > 0 && out[n-1].probe.ID == o.probe.ID {
			out[n-1].attempts = append(out[n-1].attempts, o)
			continue
		}
		out = append(out, probeRun{probe: o.probe, attempts: []outcome{o}})
	}
	return out
}

// merged is the probe's verdict over its attempts: succeeded if any attempt did;
// else passed (or observed) if any was judged; else not judged, errored or not run.
func (pr probeRun) merged() outcome {
	for _, pick := range []func(outcome) bool{
		succeeded,
		func(o outcome) bool { return judged(o) && o.hit != nil },
		judged,
		func(o outcome) bool { return o.err == nil && !o.skipped && o.note != "" },
		func(o outcome) bool { return o.err != nil },
	} {
		if i := slices.IndexFunc(pr.attempts, pick); i >= 0 {
			return pr.attempts[i]
		}
	}
	return pr.attempts[0]
}

// strategyRun is a probe's attempts under one strategy.
type strategyRun struct {
	name string
	rate rate
	best *outcome // the first successful attempt, else the first with a hit
}

func (pr probeRun) byStrategy() []strategyRun {
	var out []strategyRun
	for i := range pr.attempts {
		o := &pr.attempts[i]
		j := slices.IndexFunc(out, func(s strategyRun) bool { return s.name == o.strategy })
		if j < 0 {
			out = append(out, strategyRun{name: o.strategy})
			j = len(out) - 1
		}
		s := &out[j]
		s.rate.add(*o)
		if judged(*o) && o.hit != nil && (s.best == nil || succeeded(*o) && !succeeded(*s.best)) {
			s.best = o
		}
	}
	return out
}

// label is how an attempt is named in lists of failures: "id", or "id [base64 #2]".
func (o outcome) label() string {
	if o.strategy == StrategyNone && o.sample == 0 || o.strategy == "" {
		return o.probe.ID
	}
	return o.probe.ID + " [" + o.strategy + " #" + strconv.Itoa(o.sample+1) + "]"
}

// withRate is the attempt's hit with the evidence of its strategy: the strategy, the
// sample, what the strategy drew, and the attack success rate of the probe under
// that strategy with its counts.
func (o *outcome) withRate(r rate) *hit {
	h := *o.hit
	h.extra = map[string]any{}
	for k, v := range o.hit.extra {
		h.extra[k] = v
	}
	for k, v := range r.evidence() {
		h.extra[k] = v
	}
	h.extra["strategy"] = o.strategy
	h.extra["sample"] = o.sample + 1
	if o.detail != "" {
		h.extra["strategy_detail"] = o.detail
	}
	return &h
}

// addRates puts the attempt-level attack success rates into a summary's evidence:
// over all attempts, per strategy and per probe, each with its counts.
func (e *engine) addRates(ev map[string]any, all rate, byStrategy, byProbe map[string]*rate) {
	ev["attempts"] = all.evidence()
	bs := map[string]any{}
	for k, r := range byStrategy {
		bs[k] = r.evidence()
	}
	bp := map[string]any{}
	for k, r := range byProbe {
		bp[k] = r.evidence()
	}
	ev["by_strategy"] = bs
	ev["by_probe"] = bp
	ev["samples"] = max(e.opts.Samples, 1)
	ev["temperature"] = e.opts.Temperature
	ev["strategies"] = append([]string{StrategyNone}, e.opts.Strategies...)
	ev["requests_used"] = e.budget.requests.Load()
	if e.opts.Attacker != nil {
		ev["attacker_requests"] = e.attackerRequests.Load()
	}
}
