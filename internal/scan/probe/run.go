package probe

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"mirror/internal/llm"
	"mirror/internal/scan"
	"mirror/internal/scan/embedding"
)

// Target is what a behavioural scan talks to. Provider and Model serve the chat scan
// types; Embedder and EmbeddingModel serve embedding_reidentification. Name is the
// finding's target string (a catalog route, an endpoint URL).
type Target struct {
	Name           string
	Provider       llm.Provider
	Model          string
	Embedder       llm.Embedder
	EmbeddingModel string
}

// Defaults of Options.
const (
	DefaultConcurrency     = 4
	DefaultMaxOutputTokens = 400
	DefaultRetries         = 3
	DefaultRetryBase       = 500 * time.Millisecond
	maxRetryWait           = 30 * time.Second
)

// Options tune a scan. The zero value is a usable default: seed 0, four probes at a
// time, no rate limit and no budget.
type Options struct {
	// Seed fixes the probe order, markers, canaries, synthetic people and sampled
	// variants; requests also carry it (with temperature 0) where the protocol allows.
	Seed int64
	// Concurrency bounds how many probes run at once (0: DefaultConcurrency).
	Concurrency int
	// RatePerSecond bounds requests to the target (0: unbounded). Bursts are not
	// allowed: requests are spaced evenly.
	RatePerSecond float64
	// MaxRequests bounds requests to the target, retries included (0: unbounded). A
	// probe starts only if all its turns fit; the scan then stops cleanly and says so
	// in an info finding.
	MaxRequests int
	// MaxTokens bounds input plus output tokens as the target reports them (0:
	// unbounded). Once spent, no request is sent; probes cut short are not judged.
	MaxTokens int
	// MaxOutputTokens bounds each response (0: DefaultMaxOutputTokens).
	MaxOutputTokens int
	// Retries is how many times a retryable failure (llm.Error.Retryable) is tried
	// again, with exponential backoff from RetryBase (0: DefaultRetries, -1: none).
	Retries   int
	RetryBase time.Duration
	// Progress is called after each probe (and after the embedding analysis).
	Progress scan.ProgressFunc
	// Judge, if set, is asked to confirm or dismiss compliance findings and PII
	// findings of data never planted in context; a finding it dismisses is kept as
	// info with its rationale and counts as a passed probe; an answer with no clear
	// verdict leaves the finding as it is. JudgeModel is its model.
	Judge      llm.Provider
	JudgeModel string
	// Transcript, if set, receives every probe's exchanges and verdict after it ran
	// (from several goroutines at once: it must be safe for that). Responses in it
	// are not masked.
	Transcript func(Transcript)
	// Probes replaces the built-in Catalog (tests, custom suites; WithPacks adds a
	// user's packs to it).
	Probes []Probe
	// Strategies names the strategies (scan.StrategyNames) that transform every probe
	// they apply to, beside the probe as written (strategy.go).
	Strategies []string
	// Samples is how many times each probe and each strategy is tried (0: once), at
	// Temperature; sample k asks with seed Seed+k. Findings report attack success
	// rates over the attempts.
	Samples     int
	Temperature float64
	// ToolChoice is llm.ToolChoiceRequired to make the target call a tool on the
	// planting turn of each tool probe (its first request, and the tool-support
	// check's): a model that never calls tools unless made to can then be judged.
	// Every later request leaves the choice to the model, so persistence is judged
	// by whether the rule is followed, not by forced calls. "" or
	// llm.ToolChoiceAuto: the model chooses everywhere.
	ToolChoice string
	// Attacker, if set, is the model that drives the paraphrase, translation and
	// crescendo strategies; AttackerModel is its model. Its tokens count against
	// MaxTokens; its requests are not requests to the target.
	Attacker      llm.Provider
	AttackerModel string
	// Deployment is the target as deployed: its own system prompt, which replaces
	// the probes' invented policies (their planted data is appended after it), and
	// its purpose. The zero value: the scanner's own policies.
	Deployment Deployment
	// Secrets are strings never shown in evidence (the target's API key); API-key
	// shapes in the conversations and the system prompt are redacted as well.
	Secrets []string
	// SystemPromptSource says where Deployment.SystemPrompt came from, for the
	// evidence: "options" (the scan's), "catalog" (the catalog model's own).
	SystemPromptSource string
	// EmbeddingRecords is passed to embedding.Options.Records.
	EmbeddingRecords int
	Logger           *slog.Logger
}

// ErrBudgetExhausted is returned (wrapped) by a request that the budget refused.
var ErrBudgetExhausted = errors.New("scan budget exhausted")

// Run scans target for the given types and returns the findings, most relevant
// first within each type. embedding_reidentification goes to embedding.Run; the
// other types run the catalog's probes of that type. Errors: a target lacking the
// provider or embedder that a type needs; a provider that rejects the credentials
// (every probe would fail alike); the context ending; or every probe failing.
// A probe that fails alone is reported in an info finding, not as an error.
func Run(ctx context.Context, target Target, types []scan.Type, opts Options) ([]scan.Finding, error) {
	e, err := newScanRun(target, types, opts)
	if err != nil {
		return nil, err
	}
	return e.run(ctx)
}

// scanRun is one call of Run: the target, the probes chosen for the types asked,
// and the pacing, budget and progress they share.
type scanRun struct {
	target   Target
	opts     Options
	log      *slog.Logger
	types    map[scan.Type]bool
	probes   []Probe
	attempts []attempt
	embed    bool
	pacer    *pacer
	budget   budget
	// attackerRequests counts requests to the attacker model.
	attackerRequests atomic.Int64
	tools            toolSupport
	progress         struct {
		sync.Mutex
		done, total int
	}
}

func newScanRun(target Target, types []scan.Type, opts Options) (*scanRun, error) {
	e := &scanRun{target: target, opts: opts, types: map[scan.Type]bool{}}
	e.log = cmp.Or(opts.Logger, slog.New(slog.DiscardHandler))
	e.opts.Concurrency = cmp.Or(max(opts.Concurrency, 0), DefaultConcurrency)
	e.opts.MaxOutputTokens = cmp.Or(max(opts.MaxOutputTokens, 0), DefaultMaxOutputTokens)
	e.opts.RetryBase = cmp.Or(opts.RetryBase, DefaultRetryBase)
	switch {
	case opts.Retries == 0:
		e.opts.Retries = DefaultRetries
	case opts.Retries < 0:
		e.opts.Retries = 0
	}
	if opts.RatePerSecond > 0 {
		e.pacer = &pacer{interval: time.Duration(float64(time.Second) / opts.RatePerSecond)}
	}
	e.budget = budget{maxRequests: int64(opts.MaxRequests), maxTokens: int64(opts.MaxTokens)}
	catalog := opts.Probes
	if catalog == nil {
		catalog = Catalog()
	}
	for _, t := range types {
		if _, err := scan.ParseType(string(t)); err != nil {
			return nil, err
		}
		e.types[t] = true
	}
	if e.types[scan.EmbeddingReidentification] {
		if target.Embedder == nil || target.EmbeddingModel == "" {
			return nil, fmt.Errorf("scan type %s needs an embeddings endpoint and model", scan.EmbeddingReidentification)
		}
		e.embed = true
	}
	for _, p := range catalog {
		if e.types[p.Type] {
			e.probes = append(e.probes, p)
		}
	}
	if len(e.probes) > 0 && target.Provider == nil {
		return nil, fmt.Errorf("scan types %s need a chat model", strings.Join(typeNames(types), ", "))
	}
	// Seeded order: with a budget, different seeds cover different probes.
	r := rand.New(rand.NewPCG(uint64(opts.Seed), 0x9e3779b97f4a7c15))
	r.Shuffle(len(e.probes), func(i, j int) { e.probes[i], e.probes[j] = e.probes[j], e.probes[i] })
	if err := checkStrategies(opts); err != nil {
		return nil, err
	}
	e.attempts = attempts(e.probes, opts.Strategies, opts.Samples)
	return e, nil
}

func typeNames(ts []scan.Type) []string {
	var out []string
	for _, t := range ts {
		if t != scan.EmbeddingReidentification {
			out = append(out, string(t))
		}
	}
	return out
}

// outcome is what one probe produced.
type outcome struct {
	probe     *Probe
	strategy  string // StrategyNone or a scan.StrategyNames entry
	sample    int
	detail    string // what the strategy drew (a language), for evidence
	exchanges []exchange
	hit       *hit
	note      string // why a probe could not be judged (no logprobs)
	err       error
	skipped   bool // not run or cut short by the budget
}

func (e *scanRun) run(ctx context.Context) ([]scan.Finding, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	outcomes := make([]outcome, len(e.attempts))
	var embedFindings []scan.Finding
	var embedErr error
	e.progress.total = len(e.attempts)
	if e.embed {
		e.progress.total++
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.opts.Concurrency)
	if e.embed {
		g.Go(func() error {
			embedFindings, embedErr = embedding.Run(gctx, e.target.Embedder, e.target.EmbeddingModel, embedding.Options{
				Seed: e.opts.Seed, Records: e.opts.EmbeddingRecords, Target: e.target.Name, Logger: e.log,
				Gate: embedGate{e}, Concurrency: e.opts.Concurrency, RetryBase: e.opts.RetryBase,
			})
			e.step("embedding_reidentification: re-identification and inversion")
			if embedErr != nil && gctx.Err() == nil {
				e.log.WarnContext(gctx, "embedding analysis failed", "error", embedErr)
			}
			return nil
		})
	}
	var answered, unanswered atomic.Int32
	for i := range e.attempts {
		g.Go(func() error {
			a := e.attempts[i]
			p := a.probe
			o := e.runProbe(gctx, a)
			outcomes[i] = o
			e.transcript(o)
			if fatal(o.err) {
				cancel(o.err)
				return fmt.Errorf("probe %s: %w", p.ID, o.err)
			}
			switch {
			case o.err == nil && len(o.exchanges) > 0:
				answered.Add(1)
			case unreachable(o.err):
				// Every probe would wait out its retries against a target that is
				// down or silent: give up once the first few all failed that way.
				if n := unanswered.Add(1); n >= unreachableLimit && answered.Load() == 0 {
					err := fmt.Errorf("the target answered none of the first %d probes: %w", n, o.err)
					cancel(err)
					return err
				}
			}
			e.step(string(p.Type) + ": " + p.ID + a.label())
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("scan %s: %w", e.target.Name, err)
	}
	if err := context.Cause(ctx); err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("scan %s: %w", e.target.Name, err)
	}
	if e.embed && embedErr != nil {
		return nil, fmt.Errorf("scan %s: %w", e.target.Name, embedErr)
	}
	findings, err := e.findings(outcomes)
	if err != nil {
		return nil, err
	}
	for i := range embedFindings {
		if embedFindings[i].Evidence == nil {
			embedFindings[i].Evidence = map[string]any{}
		}
		addFrameworks(embedFindings[i].Evidence, embedFindings[i].ScanType, "")
	}
	return append(findings, embedFindings...), nil
}

// unreachableLimit is how many probes in a row may find the target unreachable (after
// their retries), with none answered, before the scan stops.
const unreachableLimit = 3

// unreachable reports a failure to get any answer: no connection, or no reply in time.
func unreachable(err error) bool {
	var le *llm.Error
	return errors.As(err, &le) && (le.Kind == llm.KindConnection || le.Kind == llm.KindTimeout)
}

// fatal reports failures that would repeat on every probe: the scan stops.
func fatal(err error) bool {
	var le *llm.Error
	if errors.As(err, &le) {
		return le.Kind == llm.KindAuth || le.Kind == llm.KindNotConfigured || le.Kind == llm.KindBlocked
	}
	return false
}

func (e *scanRun) step(desc string) {
	e.progress.Lock()
	defer e.progress.Unlock()
	e.progress.done++
	if e.opts.Progress != nil {
		e.opts.Progress(e.progress.done, e.progress.total, desc)
	}
}

// exchange is one request and its answer.
type exchange struct {
	session string
	turn    int    // 1-based within the session
	user    string // the user turn sent
	prompt  string // every message sent, joined, for "was it in the prompt" checks
	msgs    []llm.Message
	resp    llm.Response
}

// runProbe runs one attempt: the probe as written, or under a strategy.
func (e *scanRun) runProbe(ctx context.Context, a attempt) outcome {
	p := a.probe
	if p.custom() {
		return e.runCustom(ctx, a)
	}
	o := outcome{probe: p, strategy: a.strategy.name, sample: a.sample}
	r, err := p.renderFor(e.opts.Seed, e.opts.Deployment)
	if err != nil {
		o.err = err
		return o
	}
	if a.strategy.name == scan.StrategyCrescendo {
		e.crescendo(ctx, a, r, &o)
		return e.confirmed(ctx, o)
	}
	if !e.budget.reserve(p.requests()) {
		o.skipped = true
		return o
	}
	sent, err := e.rewrite(ctx, a, r, &o)
	if err != nil || o.note != "" {
		e.budget.release(p.requests())
		o.err = err
		return o
	}
	for si, s := range r.sessions {
		var msgs []llm.Message
		if s.system != "" {
			msgs = append(msgs, llm.Message{Role: "system", Content: s.system})
		}
		for i := range s.turns {
			turn := sent[si][i]
			msgs = append(msgs, llm.Message{Role: "user", Content: turn})
			resp, err := e.completeSample(ctx, msgs, p.Logprobs, a.sample)
			if err != nil {
				if errors.Is(err, ErrBudgetExhausted) {
					o.skipped = true
				} else {
					o.err = err
				}
				return o
			}
			o.exchanges = append(o.exchanges, exchange{session: s.name, turn: i + 1, user: turn, prompt: joinMessages(msgs), msgs: slices.Clone(msgs), resp: resp})
			msgs = append(msgs, llm.Message{Role: "assistant", Content: resp.Text})
		}
	}
	o.hit, o.note, o.err = e.evaluateAttempt(ctx, a, r, o.exchanges)
	return e.confirmed(ctx, o)
}

// confirmed asks the judge, if any, about the outcome's hit.
func (e *scanRun) confirmed(ctx context.Context, o outcome) outcome {
	p := o.probe
	// The judge sees the kinds where wording can mislead; planted data that came back
	// is a leak whatever the reply calls it, so it is not the judge's to dismiss.
	if o.hit != nil && e.opts.Judge != nil && !o.hit.observation &&
		(p.Success.Kind == KindCompliance || p.Success.Kind == KindPII && o.hit.extra["data_origin"] != "planted") {
		e.confirm(ctx, p, o.hit)
	}
	return o
}

func joinMessages(msgs []llm.Message) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString(m.Content)
		b.WriteByte('\n')
	}
	return b.String()
}

// completeSample sends one request to the target for sample k (at
// Options.Temperature, seed Seed+k), within the rate limit and the budget, retrying
// retryable failures with jittered exponential backoff (an upstream Retry-After
// longer than the step replaces it). adjust edits the request first (tools, a
// probe's own output cap).
func (e *scanRun) completeSample(ctx context.Context, msgs []llm.Message, logprobs bool, k int, adjust ...func(*llm.Request)) (llm.Response, error) {
	temp := e.opts.Temperature
	req := llm.Request{Model: e.target.Model, Messages: msgs, MaxOutputTokens: e.opts.MaxOutputTokens, Temperature: &temp, Seed: e.opts.Seed + int64(k), Logprobs: logprobs}
	for _, f := range adjust {
		f(&req)
	}
	for attempt := 0; ; attempt++ {
		if !e.budget.tokensLeft() {
			return llm.Response{}, fmt.Errorf("token budget of %d: %w", e.opts.MaxTokens, ErrBudgetExhausted)
		}
		if err := e.pacer.wait(ctx); err != nil {
			return llm.Response{}, fmt.Errorf("wait for rate limit: %w", err)
		}
		resp, err := e.target.Provider.Complete(ctx, req)
		if err == nil {
			e.budget.addTokens(resp.Usage.InputTokens + resp.Usage.OutputTokens)
			return resp, nil
		}
		var le *llm.Error
		if !errors.As(err, &le) || !le.Retryable() || attempt >= e.opts.Retries || ctx.Err() != nil {
			return llm.Response{}, err
		}
		if !e.budget.reserve(1) {
			return llm.Response{}, fmt.Errorf("retry after %v: request budget of %d: %w", err, e.opts.MaxRequests, ErrBudgetExhausted)
		}
		wait := min(e.opts.RetryBase<<attempt, 8*time.Second)
		wait = wait/2 + time.Duration(rand.Int64N(int64(wait)+1)) // jitter ±50%
		if le.RetryAfter > wait {
			if le.RetryAfter > maxRetryWait {
				return llm.Response{}, err
			}
			wait = le.RetryAfter
		}
		e.log.InfoContext(ctx, "retrying target request", "target", e.target.Name, "attempt", attempt+1, "kind", string(le.Kind), "wait_ms", wait.Milliseconds())
		if err := sleep(ctx, wait); err != nil {
			return llm.Response{}, err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// pacer spaces requests at a fixed interval: a token bucket of size one, which is
// all a per-target limit needs (golang.org/x/time/rate is not a dependency).
type pacer struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

func (p *pacer) wait(ctx context.Context) error {
	if p == nil {
		return ctx.Err()
	}
	p.mu.Lock()
	now := time.Now()
	at := p.next
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(p.interval)
	p.mu.Unlock()
	if d := time.Until(at); d > 0 {
		return sleep(ctx, d)
	}
	return ctx.Err()
}

// budget counts requests and tokens against the scan's limits (0: unlimited).
type budget struct {
	maxRequests, maxTokens int64
	requests, tokens       atomic.Int64
	refused                atomic.Bool
}

// reserve takes n requests from the budget, all or none.
func (b *budget) reserve(n int) bool {
	for {
		cur := b.requests.Load()
		if b.maxRequests > 0 && cur+int64(n) > b.maxRequests {
			b.refused.Store(true)
			return false
		}
		if b.requests.CompareAndSwap(cur, cur+int64(n)) {
			return true
		}
	}
}

// release gives back n requests reserved but not sent.
func (b *budget) release(n int) { b.requests.Add(-int64(n)) }

func (b *budget) addTokens(n int) { b.tokens.Add(int64(n)) }

func (b *budget) tokensLeft() bool {
	if b.maxTokens > 0 && b.tokens.Load() >= b.maxTokens {
		b.refused.Store(true)
		return false
	}
	return true
}

// typeRank orders findings by scan type as scan.AllTypes does.
func typeRank(t scan.Type) int { return slices.Index(scan.AllTypes, t) }

// complete sends one request to the target as the first sample (completeSample).
func (e *scanRun) complete(ctx context.Context, msgs []llm.Message, logprobs bool, adjust ...func(*llm.Request)) (llm.Response, error) {
	return e.completeSample(ctx, msgs, logprobs, 0, adjust...)
}
