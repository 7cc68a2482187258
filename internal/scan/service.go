package scan

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"mirror/internal/apperr"
)

// Store keeps scan jobs, their findings, uploaded artifacts and containment. Both
// sqlstore dialects implement it; storetest runs one suite against both.
type Store interface {
	CreateScan(ctx context.Context, j Job) error
	// Scan returns the job; unknown is apperr.NotFound.
	Scan(ctx context.Context, id string) (Job, error)
	// ClaimScan gives worker the oldest queued job, or a running one whose lease
	// expired (its worker died), marking it running with a lease until now+lease and
	// counting the attempt. Jobs that already used maxAttempts are failed instead.
	// ok is false when there is nothing to run.
	// Of the jobs that may run, the one whose owner runs the fewest scans now comes
	// first, and an owner already running maxPerOwner scans (0: no cap) gets none.
	ClaimScan(ctx context.Context, worker string, now time.Time, lease time.Duration, maxAttempts, maxPerOwner int) (j Job, ok bool, err error)
	// CancelScan ends a queued or running job as cancelled (a running job's worker
	// loses its lease and stops); a job that already ended is left as it is.
	CancelScan(ctx context.Context, id string, at time.Time) error
	// ReportProgress records progress and extends the lease, if worker still holds
	// it; otherwise it returns ErrLeaseLost.
	ReportProgress(ctx context.Context, id, worker string, progress int, step string, leaseUntil time.Time) error
	// FinishScan replaces the job's findings with r.Findings and ends it, in one
	// transaction, if worker still holds the lease (else ErrLeaseLost): a job that is
	// run twice (its first worker was presumed dead) is recorded once.
	FinishScan(ctx context.Context, id, worker string, r Result) error
	// RequeueScan puts a job worker holds back in the queue (graceful shutdown).
	RequeueScan(ctx context.Context, id, worker string) error
	Findings(ctx context.Context, f FindingFilter) (items []Finding, next string, err error)
	// Scans lists jobs, newest first, a page at a time (keyset on created_at, id).
	Scans(ctx context.Context, f ScanFilter) (items []Job, next string, err error)
	// Artifacts lists uploads, newest first, a page at a time.
	Artifacts(ctx context.Context, f ArtifactFilter) (items []Artifact, next string, err error)
	FindingIDs(ctx context.Context, scanID string) ([]string, error)
	Metrics(ctx context.Context, ownerID string) (Metrics, error)
	// CreateArtifact records a, unless the owner's artifacts would then pass quota
	// bytes (0: no quota): that is the error of QuotaError.
	CreateArtifact(ctx context.Context, a Artifact, quota int64) error
	// ArtifactBytes sums the sizes of the owner's artifacts.
	ArtifactBytes(ctx context.Context, ownerID string) (int64, error)
	// DeleteArtifact deletes the owner's artifact record, refusing (model_contained,
	// conflict) while it is contained or a scan of it is queued or running; unknown
	// is apperr.NotFound.
	DeleteArtifact(ctx context.Context, ownerID, id string) error
	// Artifact returns the artifact; unknown is apperr.NotFound.
	Artifact(ctx context.Context, id string) (Artifact, error)
	// Containment returns the target's containment held by ownerID ("" for a
	// catalog model, whose containment is everyone's); ok is false if it never was.
	Containment(ctx context.Context, ownerID, targetKey string) (c Containment, ok bool, err error)
	// SetContainment records c as the state of c.OwnerID's target and appends it to
	// the audit log.
	SetContainment(ctx context.Context, c Containment) error
	// QueueDepth counts the jobs waiting for a worker, on every instance.
	QueueDepth(ctx context.Context) (int, error)
	PackStore
}

// ErrLeaseLost is returned when a worker writes to a job whose lease it lost.
var ErrLeaseLost = errors.New("scan lease lost to another worker")

// Engine runs the scanners for a job. apiKey is the job's opened secret.
type Engine interface {
	Run(ctx context.Context, j Job, apiKey string, progress ProgressFunc) ([]Finding, []NotScanned, error)
}

// Checker validates what a target names when a scan is created: that a catalog
// model exists (and a judge can be used), and that an outside URL passes the SSRF
// guard. Each returns an *apperr.Error a client can act on.
type Checker interface {
	CheckModel(ctx context.Context, modelID string) error
	CheckJudge(ctx context.Context, modelID string) error
	CheckURL(ctx context.Context, rawURL string) error
}

// Options configure a Service. Zero durations take the defaults named.
type Options struct {
	Store   Store
	Engine  Engine
	Checker Checker
	Packs   PackParser // validates probe packs; nil: packs are refused
	// MaxPackBytes caps an uploaded pack's content (MAX_PROBE_PACK_BYTES; 0:
	// the default MaxPackBytes).
	MaxPackBytes int
	Sealer       *Sealer
	Notifier     Notifier // nil: an in-process Broker
	ArtifactDir  string   // where uploads are kept
	Workers      int      // concurrent scans on this instance (SCAN_WORKERS); 0: none (an API-only instance)
	// Lease is how long a claimed job is held without a heartbeat (0: 30 s); a
	// worker that dies releases its job to others after this long.
	Lease time.Duration
	// MaxAttempts bounds how often a job is claimed (0: 3); a job whose workers
	// keep dying fails rather than staying running forever.
	MaxAttempts int
	// MaxRunningPerUser caps the scans one user has running at once, across
	// instances (SCAN_MAX_RUNNING_PER_USER; 0: no cap).
	MaxRunningPerUser int
	// ArtifactQuota caps the bytes of one user's artifacts (ARTIFACT_QUOTA_BYTES;
	// 0: no quota).
	ArtifactQuota int64
	// JobTimeout bounds one run (0: 30 min).
	JobTimeout time.Duration
	// PollEvery is how often idle workers and status watchers look at the store
	// between notifications (0: 1 s).
	PollEvery time.Duration
	// OnContainment is called after a target's containment changed (the catalog
	// drops its cache, so the change applies here at once).
	OnContainment func(kind TargetKind, id string)
	Logger        *slog.Logger
	Now           func() time.Time
}

// Service is MirrorScan's use cases: create, run and watch scans, list findings,
// read metrics, keep artifacts, contain targets.
type Service struct {
	o        Options
	store    Store
	notifier Notifier
	log      *slog.Logger
	now      func() time.Time
	worker   string

	wake     chan struct{}
	stopping chan struct{}
	stopOnce sync.Once
	runCtx   context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	running   atomic.Int64
	completed atomic.Uint64
	failed    atomic.Uint64
}

// Stats are this instance's scan counters, for /metrics.
type Stats struct {
	Running   int64  // scans running on this instance now
	Completed uint64 // scans this instance completed since start
	Failed    uint64 // scans this instance failed since start
}

// Stats returns this instance's counters.
func (s *Service) Stats() Stats {
	return Stats{Running: s.running.Load(), Completed: s.completed.Load(), Failed: s.failed.Load()}
}

// QueueDepth counts the scans waiting for a worker on any instance.
func (s *Service) QueueDepth(ctx context.Context) (int, error) { return s.store.QueueDepth(ctx) }

// NewService returns a Service; Start runs its workers.
func NewService(o Options) *Service {
	o.Workers = max(o.Workers, 0)
	o.MaxPackBytes = cmp.Or(max(o.MaxPackBytes, 0), MaxPackBytes)
	o.Lease = cmp.Or(o.Lease, 30*time.Second)
	o.MaxAttempts = cmp.Or(o.MaxAttempts, 3)
	o.JobTimeout = cmp.Or(o.JobTimeout, 30*time.Minute)
	o.PollEvery = cmp.Or(o.PollEvery, time.Second)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Notifier == nil {
		o.Notifier = NewBroker()
	}
	host, _ := os.Hostname()
	return &Service{o: o, store: o.Store, notifier: o.Notifier, log: o.Logger, now: o.Now,
		worker: host + "/" + uuid.NewString()[:8], wake: make(chan struct{}, 1), stopping: make(chan struct{})}
}

// Limits on what a scan request may carry.
const (
	maxURL      = 2048
	maxName     = 256
	maxAPIKey   = 4096
	maxRequests = 100_000
	maxConc     = 32
	// MinRatePerSecond is the slowest rate_per_second a scan may ask for: slower
	// scans would hold a worker for hours while sending almost nothing.
	MinRatePerSecond = 0.1
)

// CreateInput is a scan request as the API received it.
type CreateInput struct {
	Target  Target
	Types   []string
	Options JobOptions
}

// Validate checks in and lists every invalid field, named as in the request body
// (as generate.Input.Validate). It needs no store or network: Create checks the
// target itself (catalog, SSRF guard, artifact owner) after it.
func (in CreateInput) Validate() error {
	t := in.Target
	var bad []apperr.FieldError
	field := func(name, msg string) { bad = append(bad, apperr.FieldError{Field: name, Message: msg}) }
	need := func(name, v string, limit int) {
		switch {
		case strings.TrimSpace(v) == "":
			field("target."+name, "is required for target kind "+string(t.Kind))
		case len(v) > limit || !utf8.ValidString(v):
			field("target."+name, fmt.Sprintf("must be at most %d bytes of text", limit))
		}
	}
	// A field that the kind does not use keeps its limit all the same (the API documents
	// one per field), rather than being ignored at any size.
	used := map[TargetKind][]string{TargetCatalogModel: {"model_id"}, TargetArtifact: {"artifact_id"},
		TargetEndpoint: {"url", "model"}, TargetEmbeddings: {"url", "model"}}[t.Kind]
	for _, f := range []struct {
		name, v string
		limit   int
	}{{"model_id", t.ModelID, maxName}, {"artifact_id", t.ArtifactID, maxName}, {"url", t.URL, maxURL}, {"model", t.Model, maxName}} {
		if !slices.Contains(used, f.name) && (len(f.v) > f.limit || !utf8.ValidString(f.v)) {
			field("target."+f.name, fmt.Sprintf("must be at most %d bytes of text", f.limit))
		}
	}
	if t.Kind != TargetEndpoint && t.Kind != TargetEmbeddings {
		if len(t.APIKey) > maxAPIKey {
			field("target.api_key", fmt.Sprintf("must be at most %d bytes", maxAPIKey))
		}
		if t.Provider != "" && !slices.Contains([]string{"openai", "anthropic", "gemini"}, t.Provider) {
			field("target.provider", "must be openai, anthropic or gemini")
		}
		if u, err := url.Parse(t.URL); t.URL != "" && len(t.URL) <= maxURL && (err != nil || u.Scheme == "") {
			field("target.url", "must be an absolute URL")
		}
	}
	switch t.Kind {
	case TargetCatalogModel:
		need("model_id", t.ModelID, maxName)
	case TargetArtifact:
		need("artifact_id", t.ArtifactID, maxName)
	case TargetEndpoint, TargetEmbeddings:
		need("url", t.URL, maxURL)
		need("model", t.Model, maxName)
		if len(t.APIKey) > maxAPIKey {
			field("target.api_key", fmt.Sprintf("must be at most %d bytes", maxAPIKey))
		}
		if t.Kind == TargetEndpoint {
			if !slices.Contains([]string{"openai", "anthropic", "gemini"}, cmp.Or(t.Provider, "openai")) {
				field("target.provider", "must be openai, anthropic or gemini")
			}
		} else if t.Provider != "" && t.Provider != "openai" {
			field("target.provider", "embeddings endpoints speak the OpenAI protocol: omit it or use openai")
		}
	case "":
		field("target.kind", "is required")
	default:
		field("target.kind", "must be catalog_model, endpoint, artifact or embeddings")
	}
	applicable := ApplicableTypes(t.Kind)
	for i, name := range in.Types {
		typ, err := ParseType(name)
		switch {
		case err != nil:
			field(fmt.Sprintf("scan_types[%d]", i), "must be one of model_inversion, pii_leakage, embedding_reidentification, prompt_artifacts, jailbreak, self_modification")
		case applicable != nil && !slices.Contains(applicable, typ):
			field(fmt.Sprintf("scan_types[%d]", i), fmt.Sprintf("%s does not apply to a %s target", typ, t.Kind))
		}
	}
	o := in.Options
	if o.MaxRequests < 0 || o.MaxRequests > maxRequests {
		field("options.max_requests", fmt.Sprintf("must be from 0 to %d", maxRequests))
	}
	if o.MaxTokens < 0 {
		field("options.max_tokens", "must not be negative")
	}
	if o.Concurrency < 0 || o.Concurrency > maxConc {
		field("options.concurrency", fmt.Sprintf("must be from 0 to %d", maxConc))
	}
	if o.RatePerSecond != 0 && !(o.RatePerSecond >= MinRatePerSecond && o.RatePerSecond <= 1000) {
		field("options.rate_per_second", fmt.Sprintf("must be from %g to 1000 (or omitted: unbounded)", MinRatePerSecond))
	}
	if o.JudgeModelID != "" && t.Kind == TargetArtifact {
		field("options.judge_model_id", "does not apply to an artifact scan")
	}
	bad = append(bad, o.validateStrategies(t.Kind)...)
	validateContext(o, t.Kind, field)
	if len(bad) > 0 {
		return apperr.Validation(bad...)
	}
	return nil
}

// scanTypes are the valid input's scan types, each once, or every type that applies
// to its target kind when it names none.
func (in CreateInput) scanTypes() []Type {
	if len(in.Types) == 0 {
		return ApplicableTypes(in.Target.Kind)
	}
	var types []Type
	for _, name := range in.Types {
		if typ, err := ParseType(name); err == nil && !slices.Contains(types, typ) {
			types = append(types, typ)
		}
	}
	return types
}

// Create validates and queues a scan. Errors: validation_error naming the fields;
// unknown_model; not_found for an artifact that is not the actor's;
// model_contained for a contained artifact.
func (s *Service) Create(ctx context.Context, a Actor, in CreateInput) (Job, error) {
	if err := in.Validate(); err != nil {
		return Job{}, err
	}
	t, types, o := in.Target, in.scanTypes(), in.Options
	if t.Kind == TargetEndpoint {
		t.Provider = cmp.Or(t.Provider, "openai")
	}

	switch t.Kind {
	case TargetCatalogModel:
		if err := s.o.Checker.CheckModel(ctx, t.ModelID); err != nil {
			return Job{}, err
		}
	case TargetEndpoint, TargetEmbeddings:
		t.URL = strings.TrimSpace(t.URL)
		if err := s.o.Checker.CheckURL(ctx, t.URL); err != nil {
			return Job{}, err
		}
	case TargetArtifact:
		art, err := s.store.Artifact(ctx, t.ArtifactID)
		if err != nil || art.OwnerID != a.ID {
			return Job{}, apperr.Errorf(apperr.NotFound, "Artifact %q not found.", t.ArtifactID)
		}
	}
	if o.JudgeModelID != "" {
		if err := s.o.Checker.CheckJudge(ctx, o.JudgeModelID); err != nil {
			return Job{}, err
		}
	}
	if o.AttackerModelID != "" {
		// The attacker must be servable now, as a judge must.
		if err := s.o.Checker.CheckJudge(ctx, o.AttackerModelID); err != nil {
			return Job{}, attackerError(err)
		}
	}
	packs, err := s.checkPacks(ctx, a, o.ProbePackIDs)
	if err != nil {
		return Job{}, err
	}
	if c, ok, err := s.store.Containment(ctx, containmentOwner(t.Kind, a.ID), t.Key()); err != nil {
		return Job{}, fmt.Errorf("create scan: %w", err)
	} else if ok && c.Contained && t.Kind == TargetArtifact {
		return Job{}, apperr.Errorf(apperr.ModelContained, "Artifact %q is contained; release it before scanning it again.", t.ArtifactID)
	}

	j := Job{ID: uuid.NewString(), OwnerID: a.ID, Target: t, TargetKey: t.Key(), Types: types, Options: o, Packs: packs,
		Status: Queued, CurrentStep: "queued", CreatedAt: s.now().UTC().Truncate(time.Microsecond)}
	secret, err := s.o.Sealer.Seal(j.ID, t.APIKey)
	if err != nil {
		return Job{}, err
	}
	j.Secret = secret
	if err := s.store.CreateScan(ctx, j); err != nil {
		return Job{}, fmt.Errorf("create scan: %w", err)
	}
	j.Secret, j.Target.APIKey = "", ""
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return j, nil
}

var errScanNotFound = apperr.Errorf(apperr.NotFound, "Scan not found.")

// Status returns a scan of the actor's (admins may read any).
func (s *Service) Status(ctx context.Context, a Actor, id string) (Job, error) {
	j, err := s.store.Scan(ctx, id)
	if apperr.CodeOf(err) == apperr.NotFound || (err == nil && j.OwnerID != a.ID && !a.Admin) {
		return Job{}, errScanNotFound
	}
	if err != nil {
		return Job{}, fmt.Errorf("scan status: %w", err)
	}
	j.Secret = ""
	return j, nil
}

// Watch calls fn with the scan's status now and after every change, until the scan
// ends (fn has seen the final status), fn fails, or ctx ends. Changes come from the
// Notifier, with a poll of the store as a floor, so a scan running on any instance
// can be watched from any other.
func (s *Service) Watch(ctx context.Context, a Actor, id string, fn func(Job) error) error {
	j, err := s.Status(ctx, a, id)
	if err != nil {
		return err
	}
	changes, unsubscribe := s.notifier.Subscribe(id)
	defer unsubscribe()
	tick := time.NewTicker(s.o.PollEvery)
	defer tick.Stop()
	var last string
	for {
		if sig := fmt.Sprint(j.Status, j.Progress, j.CurrentStep, j.FindingsCount); sig != last {
			last = sig
			if err := fn(j); err != nil {
				return err
			}
		}
		if j.Status.Done() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changes:
		case <-tick.C:
		}
		if j, err = s.Status(ctx, a, id); err != nil {
			return err
		}
	}
}

// Cancel cancels a scan of the actor's (admins may cancel any): a queued scan ends
// at once; a running one is marked cancelled and its worker, which then no longer
// holds the job, stops before its next probe. Cancelling a cancelled scan is a
// no-op (idempotent); one that completed or failed is a conflict.
func (s *Service) Cancel(ctx context.Context, a Actor, id string) (Job, error) {
	j, err := s.Status(ctx, a, id)
	if err != nil {
		return Job{}, err
	}
	if j.Status == Cancelled {
		return j, nil
	}
	if j.Status.Done() {
		return Job{}, apperr.Errorf(apperr.Conflict, "Scan already %s; only a queued or running scan can be cancelled.", j.Status)
	}
	if err := s.store.CancelScan(ctx, id, s.now().UTC().Truncate(time.Microsecond)); err != nil {
		return Job{}, fmt.Errorf("cancel scan: %w", err)
	}
	s.notifier.Publish(ctx, id)
	if j, err = s.Status(ctx, a, id); err != nil {
		return Job{}, err
	}
	if j.Status != Cancelled { // it ended on its own meanwhile
		return Job{}, apperr.Errorf(apperr.Conflict, "Scan already %s; only a queued or running scan can be cancelled.", j.Status)
	}
	s.log.InfoContext(ctx, "scan cancelled", "scan_id", id, "actor", a.ID)
	return j, nil
}

// Findings lists the actor's findings, newest first, a page at a time.
func (s *Service) Findings(ctx context.Context, a Actor, f FindingFilter) ([]Finding, string, error) {
	// Everyone lists their own findings; an admin, who may read any scan's status,
	// may also list any one scan's findings by naming it.
	f.OwnerID = a.ID
	if a.Admin && f.ScanID != "" {
		f.OwnerID = ""
	}
	var err error
	if f.Limit, err = pageLimit(f.Limit); err != nil {
		return nil, "", err
	}
	items, next, err := s.store.Findings(ctx, f)
	if err != nil {
		return nil, "", fmt.Errorf("list findings: %w", err)
	}
	return WithRuleIDs(items), next, nil
}

// pageLimit applies the list routes' page size: 0 is 50; 1 to 200 is allowed.
func pageLimit(n int) (int, error) {
	switch {
	case n == 0:
		return 50, nil
	case n < 1 || n > 200:
		return 0, apperr.Validation(apperr.FieldError{Field: "limit", Message: "must be from 1 to 200"})
	}
	return n, nil
}

// Scans lists the actor's own scans, newest first, a page at a time. Secrets are
// never returned.
func (s *Service) Scans(ctx context.Context, a Actor, f ScanFilter) ([]Job, string, error) {
	f.OwnerID = a.ID
	var err error
	if f.Limit, err = pageLimit(f.Limit); err != nil {
		return nil, "", err
	}
	items, next, err := s.store.Scans(ctx, f)
	if err != nil {
		return nil, "", fmt.Errorf("list scans: %w", err)
	}
	for i := range items {
		items[i].Secret = ""
	}
	return items, next, nil
}

// ArtifactItem is one of the actor's artifacts with its containment state.
type ArtifactItem struct {
	Artifact
	Contained bool
}

// Artifacts lists the actor's own uploads, newest first, a page at a time, each
// with whether it is contained.
func (s *Service) Artifacts(ctx context.Context, a Actor, f ArtifactFilter) ([]ArtifactItem, string, error) {
	f.OwnerID = a.ID
	var err error
	if f.Limit, err = pageLimit(f.Limit); err != nil {
		return nil, "", err
	}
	arts, next, err := s.store.Artifacts(ctx, f)
	if err != nil {
		return nil, "", fmt.Errorf("list artifacts: %w", err)
	}
	items := make([]ArtifactItem, 0, len(arts))
	for _, art := range arts {
		c, ok, err := s.store.Containment(ctx, a.ID, Target{Kind: TargetArtifact, ArtifactID: art.ID}.Key())
		if err != nil {
			return nil, "", fmt.Errorf("list artifacts: %w", err)
		}
		items = append(items, ArtifactItem{Artifact: art, Contained: ok && c.Contained})
	}
	return items, next, nil
}

// Report is one scan's report as `mirror scan` writes it (the job and every finding,
// read a page at a time), for whoever may read its status: its owner or an admin.
func (s *Service) Report(ctx context.Context, a Actor, id string, tool Tool) (Report, error) {
	j, err := s.Status(ctx, a, id)
	if err != nil {
		return Report{}, err
	}
	var all []Finding
	f := FindingFilter{ScanID: j.ID, Limit: 200}
	for {
		items, next, err := s.Findings(ctx, a, f)
		if err != nil {
			return Report{}, fmt.Errorf("scan report: %w", err)
		}
		all = append(all, items...)
		if next == "" {
			break
		}
		f.Cursor = next
	}
	return JobReport(j, all, tool), nil
}

// Metrics returns the actor's security metrics.
func (s *Service) Metrics(ctx context.Context, a Actor) (Metrics, error) {
	m, err := s.store.Metrics(ctx, a.ID)
	if err != nil {
		return Metrics{}, fmt.Errorf("scan metrics: %w", err)
	}
	return m, nil
}

// ContainmentActions lists what containing a target of kind does, for the audit
// and the response.
func ContainmentActions(kind TargetKind) []string {
	switch kind {
	case TargetCatalogModel:
		return []string{"model_quarantined", "removed_from_models_listing", "generate_response_refused",
			"excluded_from_fallbacks", "excluded_from_judges"}
	case TargetArtifact:
		return []string{"artifact_quarantined", "download_blocked", "rescan_blocked"}
	}
	return []string{"target_quarantined", "flagged_in_metrics"}
}

// Contain contains the target of scan id; containing a contained target changes
// nothing (idempotent). Owners may contain their own artifacts and endpoints;
// a catalog model, which affects every user, needs an admin.
func (s *Service) Contain(ctx context.Context, a Actor, id string) (Containment, error) {
	return s.setContained(ctx, a, id, true)
}

// Release undoes Contain, with the same rules.
func (s *Service) Release(ctx context.Context, a Actor, id string) (Containment, error) {
	return s.setContained(ctx, a, id, false)
}

// containmentOwner is whose containment of a target of kind an owner's scan
// reads and writes: a catalog model's is everyone's (""), an endpoint's or an
// artifact's is the owner's own, so one user never releases, nor sees, another's.
func containmentOwner(kind TargetKind, ownerID string) string {
	if kind == TargetCatalogModel {
		return ""
	}
	return ownerID
}

func (s *Service) setContained(ctx context.Context, a Actor, id string, contained bool) (Containment, error) {
	j, err := s.Status(ctx, a, id)
	if err != nil {
		return Containment{}, err
	}
	if j.OwnerID != a.ID && j.Target.Kind != TargetCatalogModel {
		return Containment{}, errScanNotFound // owners contain their own artifacts and endpoints
	}
	if j.Target.Kind == TargetCatalogModel && !a.Admin {
		return Containment{}, apperr.Errorf(apperr.Forbidden, "Containing or releasing a catalog model needs an admin: it affects every user.")
	}
	owner := containmentOwner(j.Target.Kind, j.OwnerID)
	cur, ok, err := s.store.Containment(ctx, owner, j.TargetKey)
	if err != nil {
		return Containment{}, fmt.Errorf("containment: %w", err)
	}
	if (ok && cur.Contained == contained) || (!ok && !contained) {
		if !ok {
			cur = Containment{OwnerID: owner, TargetKey: j.TargetKey, TargetKind: j.Target.Kind, TargetID: j.Target.ID(), ScanID: j.ID}
		}
		return cur, nil
	}
	ids, err := s.store.FindingIDs(ctx, j.ID)
	if err != nil {
		return Containment{}, fmt.Errorf("containment: %w", err)
	}
	c := Containment{OwnerID: owner, TargetKey: j.TargetKey, TargetKind: j.Target.Kind, TargetID: j.Target.ID(), Contained: contained,
		ScanID: j.ID, UpdatedBy: a.ID, UpdatedAt: s.now().UTC().Truncate(time.Microsecond), FindingIDs: ids}
	if contained {
		c.Actions = ContainmentActions(j.Target.Kind)
	} else {
		c.Actions = []string{"released"}
	}
	if err := s.store.SetContainment(ctx, c); err != nil {
		return Containment{}, fmt.Errorf("containment: %w", err)
	}
	if s.o.OnContainment != nil {
		s.o.OnContainment(c.TargetKind, c.TargetID)
	}
	s.log.InfoContext(ctx, "containment changed", "target", c.TargetKey, "contained", contained, "scan_id", j.ID, "actor", a.ID)
	return c, nil
}

// maxFilename bounds a stored upload's name.
const maxFilename = 255

// SaveArtifact streams an upload to the artifact folder, hashing it as it goes, and
// records it. The file is synced and renamed into place before the row is written,
// so an acknowledged artifact is on disk. An error from r (a body over its limit)
// is returned as is, and nothing is kept.
func (s *Service) SaveArtifact(ctx context.Context, a Actor, filename string, r io.Reader) (Artifact, error) {
	name := cleanFilename(filename)
	if err := os.MkdirAll(s.o.ArtifactDir, 0o700); err != nil {
		return Artifact{}, fmt.Errorf("artifact folder: %w", err)
	}
	if quota := s.o.ArtifactQuota; quota > 0 {
		used, err := s.store.ArtifactBytes(ctx, a.ID)
		if err != nil {
			return Artifact{}, fmt.Errorf("store artifact: %w", err)
		}
		if used >= quota {
			return Artifact{}, QuotaError(quota, used)
		}
		r = &quotaReader{r: r, left: quota - used, quota: quota, used: used}
	}
	id := uuid.NewString()
	final := filepath.Join(s.o.ArtifactDir, id)
	tmp, err := os.CreateTemp(s.o.ArtifactDir, id+".*.part")
	if err != nil {
		return Artifact{}, fmt.Errorf("store artifact: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), r)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Artifact{}, fmt.Errorf("store artifact: %w", err)
	}
	if n == 0 {
		return Artifact{}, apperr.Validation(apperr.FieldError{Field: "file", Message: "is empty"})
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return Artifact{}, fmt.Errorf("store artifact: %w", err)
	}
	art := Artifact{ID: id, OwnerID: a.ID, Filename: name, SHA256: hex.EncodeToString(h.Sum(nil)), Size: n,
		StoragePath: final, CreatedAt: s.now().UTC().Truncate(time.Microsecond)}
	if err := s.store.CreateArtifact(ctx, art, s.o.ArtifactQuota); err != nil {
		os.Remove(final)
		return Artifact{}, fmt.Errorf("store artifact: %w", err)
	}
	return art, nil
}

// QuotaError is the error of an upload that would take the user's artifacts past
// their quota (ARTIFACT_QUOTA_BYTES): quota_exceeded, which the API answers 413.
func QuotaError(quota, used int64) error {
	return apperr.Errorf(apperr.QuotaExceeded, "This upload would take your artifacts past your quota of %d bytes (%d in use); delete artifacts you no longer need to make room.", quota, used)
}

// quotaReader fails with QuotaError once more than left bytes were read.
type quotaReader struct {
	r                 io.Reader
	left, quota, used int64
}

func (q *quotaReader) Read(p []byte) (int, error) {
	if int64(len(p)) > q.left+1 {
		p = p[:q.left+1]
	}
	n, err := q.r.Read(p)
	q.left -= int64(n)
	if q.left < 0 {
		return n, QuotaError(q.quota, q.used)
	}
	return n, err
}

// DeleteArtifact deletes one of the actor's artifacts, its record and its file. It
// is refused while the artifact is contained (model_contained) or a scan of it is
// queued or running (conflict).
func (s *Service) DeleteArtifact(ctx context.Context, a Actor, id string) error {
	art, _, err := s.Artifact(ctx, a, id)
	if err != nil {
		return err
	}
	if err := s.store.DeleteArtifact(ctx, a.ID, art.ID); err != nil {
		if _, ok := apperr.As(err); ok {
			return err
		}
		return fmt.Errorf("delete artifact: %w", err)
	}
	if err := os.Remove(art.StoragePath); err != nil && !errors.Is(err, os.ErrNotExist) {
		// The record is gone, so the file no longer counts; say so for the operator.
		s.log.WarnContext(ctx, "artifact file left behind", "artifact_id", art.ID, "error", err)
	}
	s.log.InfoContext(ctx, "artifact deleted", "artifact_id", art.ID, "actor", a.ID, "size", art.Size)
	return nil
}

// cleanFilename keeps the base name of an upload, without control characters or
// path separators, at most maxFilename bytes; empty becomes "upload".
func cleanFilename(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = filepath.Base("/" + name)
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	for len(name) > maxFilename {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "" || name == "/" || name == "." || name == ".." {
		return "upload"
	}
	return name
}

// Artifact returns one of the actor's artifacts and whether it is contained.
func (s *Service) Artifact(ctx context.Context, a Actor, id string) (Artifact, bool, error) {
	art, err := s.store.Artifact(ctx, id)
	if apperr.CodeOf(err) == apperr.NotFound || (err == nil && art.OwnerID != a.ID) {
		return Artifact{}, false, apperr.Errorf(apperr.NotFound, "Artifact not found.")
	}
	if err != nil {
		return Artifact{}, false, fmt.Errorf("get artifact: %w", err)
	}
	c, ok, err := s.store.Containment(ctx, a.ID, Target{Kind: TargetArtifact, ArtifactID: id}.Key())
	if err != nil {
		return Artifact{}, false, fmt.Errorf("get artifact: %w", err)
	}
	return art, ok && c.Contained, nil
}

// OpenArtifact opens one of the actor's artifacts for download; a contained one is
// refused (model_contained).
func (s *Service) OpenArtifact(ctx context.Context, a Actor, id string) (Artifact, *os.File, error) {
	art, contained, err := s.Artifact(ctx, a, id)
	if err != nil {
		return Artifact{}, nil, err
	}
	if contained {
		return Artifact{}, nil, apperr.Errorf(apperr.ModelContained, "Artifact is contained; it cannot be downloaded until it is released.")
	}
	f, err := os.Open(art.StoragePath)
	if err != nil {
		return Artifact{}, nil, fmt.Errorf("open artifact: %w", err)
	}
	return art, f, nil
}
