package scan

import (
	"slices"
	"strings"
	"time"
)

// TargetKind says what a scan examines.
type TargetKind string

// The target kinds of API.md.
const (
	TargetCatalogModel TargetKind = "catalog_model"
	TargetEndpoint     TargetKind = "endpoint"
	TargetArtifact     TargetKind = "artifact"
	TargetEmbeddings   TargetKind = "embeddings"
)

// Target is what a scan examines. APIKey, for endpoint and embeddings targets, is
// used for that scan only: it is sealed in the job while the job lives and is never
// serialized, returned or logged.
type Target struct {
	Kind       TargetKind `json:"kind"`
	ModelID    string     `json:"model_id,omitempty"`    // catalog_model
	URL        string     `json:"url,omitempty"`         // endpoint, embeddings: the API's base URL
	Model      string     `json:"model,omitempty"`       // endpoint, embeddings: the model name sent
	Provider   string     `json:"provider,omitempty"`    // endpoint: openai (default), anthropic, gemini
	ArtifactID string     `json:"artifact_id,omitempty"` // artifact
	APIKey     string     `json:"-"`
}

// Key names the target for containment, findings and metrics: the same model
// scanned twice has the same key.
func (t Target) Key() string {
	switch t.Kind {
	case TargetCatalogModel:
		return "catalog_model:" + t.ModelID
	case TargetArtifact:
		return "artifact:" + t.ArtifactID
	default:
		return string(t.Kind) + ":" + strings.TrimRight(t.URL, "/") + "#" + t.Model
	}
}

// ID is the target's own identifier within its kind (the model id, the artifact id,
// or URL#model).
func (t Target) ID() string {
	_, id, _ := strings.Cut(t.Key(), ":")
	return id
}

// chatTypes are the scan types a live chat model can be probed for.
var chatTypes = []Type{Jailbreak, PIILeakage, PromptArtifacts, ModelInversion, SelfModification}

// ApplicableTypes returns the scan types that apply to a target kind (API.md).
func ApplicableTypes(k TargetKind) []Type {
	switch k {
	case TargetCatalogModel, TargetEndpoint:
		return slices.Clone(chatTypes)
	case TargetArtifact:
		return []Type{SelfModification, PromptArtifacts}
	case TargetEmbeddings:
		return []Type{EmbeddingReidentification}
	}
	return nil
}

// Status is where a scan job is in its life.
type Status string

// The four statuses of the status route.
const (
	Queued    Status = "queued"
	Running   Status = "running"
	Completed Status = "completed"
	Failed    Status = "failed"
	Cancelled Status = "cancelled"
)

// Done reports whether the status is final.
func (s Status) Done() bool { return s == Completed || s == Failed || s == Cancelled }

// JobOptions tune one scan. Zero values take the engines' defaults.
type JobOptions struct {
	Seed        *int64 `json:"seed,omitempty"`
	MaxRequests int    `json:"max_requests,omitempty"`
	MaxTokens   int    `json:"max_tokens,omitempty"`
	Concurrency int    `json:"concurrency,omitempty"`
	// RatePerSecond bounds requests to the target (0: unbounded; otherwise at
	// least MinRatePerSecond).
	RatePerSecond float64 `json:"rate_per_second,omitempty"`
	JudgeModelID  string  `json:"judge_model_id,omitempty"`
	// Strategies (StrategyNames) also run every probe they apply to transformed;
	// those of AttackerStrategies need AttackerModelID, a catalog model.
	Strategies      []string `json:"strategies,omitempty"`
	AttackerModelID string   `json:"attacker_model_id,omitempty"`
	// Samples is how many times each probe and strategy is tried (0: once), at
	// Temperature (0: greedy).
	Samples     int     `json:"samples,omitempty"`
	Temperature float64 `json:"temperature,omitempty"`
	// ToolChoice "required" makes the target call a tool on the planting turn of
	// each tool self-modification probe (later turns stay the model's choice);
	// "" or "auto": the model chooses everywhere (ToolChoices).
	ToolChoice string `json:"tool_choice,omitempty"`
	// SystemPrompt is the target's own system prompt: the probes run under it,
	// their planted data appended after it, instead of the scanner's invented
	// policies. It is the user's text, kept with the job and shown in the evidence
	// (never put credentials in it). Empty: a catalog model's own system prompt,
	// if it has one, else the scanner's policies.
	SystemPrompt string `json:"system_prompt,omitempty"`
	// Purpose is what the target is for, as a phrase; goal-hijack probes try to
	// make it leave it, and the judge is told it.
	Purpose string `json:"purpose,omitempty"`
	// ProbePackIDs are the owner's uploaded probe packs to run beside the
	// built-in probes.
	ProbePackIDs []string `json:"probe_pack_ids,omitempty"`
}

// Bounds on JobOptions' texts (bytes) and packs per scan.
const (
	MaxSystemPromptBytes = 32 << 10
	MaxPurposeBytes      = 1 << 10
	MaxPacksPerScan      = 10
)

// Job is a durable scan: created by the API, claimed and run by a worker on any
// instance, and kept with its findings afterwards.
type Job struct {
	ID        string
	OwnerID   string
	Target    Target
	TargetKey string
	Types     []Type
	Options   JobOptions
	// Packs are the probe packs Options.ProbePackIDs names, as they were when the
	// job was created: a pack deleted or re-uploaded later does not change a scan
	// already queued. Kept with the job, never taken from a request; a store fills
	// it in the job ClaimScan returns (the one that runs), not in status reads.
	Packs []PackSnapshot
	// Secret is the target's API key, sealed (see Sealer); empty when none. It is
	// erased when the job ends.
	Secret        string
	Status        Status
	Progress      int
	CurrentStep   string
	FindingsCount int
	Error         string
	Attempts      int
	CreatedAt     time.Time
	StartedAt     *time.Time
	CompletedAt   *time.Time
}

// Result is how a run ended, written with the findings in one transaction.
type Result struct {
	Status   Status
	Findings []Finding
	Error    string
	At       time.Time
}

// Artifact is an uploaded model file, stored on disk under the data folder.
type Artifact struct {
	ID          string
	OwnerID     string
	Filename    string
	SHA256      string
	Size        int64
	StoragePath string
	CreatedAt   time.Time
}

// Actor is who asks: the signed-in user's id and whether they are an admin.
type Actor struct {
	ID    string
	Admin bool
}

// Containment is the state of a target's containment and the audit of its last change.
type Containment struct {
	OwnerID    string // whose containment: "" for a catalog model (everyone's)
	TargetKey  string
	TargetKind TargetKind
	TargetID   string
	Contained  bool
	ScanID     string
	UpdatedBy  string
	UpdatedAt  time.Time
	Actions    []string
	FindingIDs []string
}

// FindingFilter selects findings of one owner; empty fields match everything.
// Cursor continues a previous page.
type FindingFilter struct {
	OwnerID  string // "": every owner's (the service sets it but for an admin naming a scan)
	ScanID   string
	Severity Severity
	// MinSeverity keeps findings of this severity or higher.
	MinSeverity Severity
	Type        Type
	Target      string
	Limit       int
	Cursor      string
}

// ScanFilter selects one owner's scans; empty fields match everything. Cursor
// continues a previous page.
type ScanFilter struct {
	OwnerID      string
	Status       Status
	Target       string // a target key, as in Finding.Target
	Type         Type   // scans that ran this scan type
	CreatedAfter time.Time
	Limit        int
	Cursor       string
}

// ArtifactFilter selects one owner's artifacts, a page at a time.
type ArtifactFilter struct {
	OwnerID string
	Limit   int
	Cursor  string
}

// Metrics are one owner's security metrics (GET /api/v1/scans/metrics).
type Metrics struct {
	ScansByStatus      map[Status]int   `json:"scans_by_status"`
	FindingsBySeverity map[Severity]int `json:"findings_by_severity"`
	FindingsByType     map[Type]int     `json:"findings_by_type"`
	RiskByTarget       []TargetRisk     `json:"risk_by_target"`
	MeanTimeToDetect   *float64         `json:"mean_time_to_detect_seconds"`
	MeanTimeToContain  *float64         `json:"mean_time_to_contain_seconds"`
	ScansTotal         int              `json:"scans_total"`
	FindingsTotal      int              `json:"findings_total"`
}

// TargetRisk summarises one target's findings. RiskScore is the sum of severity
// weights over its findings (critical 10, high 5, medium 2, low 0.5, info 0), capped
// at 100: one critical outweighs several mediums, and many lows add up.
type TargetRisk struct {
	Target      string   `json:"target"`
	Findings    int      `json:"findings"`
	MaxSeverity Severity `json:"max_severity"`
	MaxScore    float64  `json:"max_score"`
	RiskScore   float64  `json:"risk_score"`
	Contained   bool     `json:"contained"`
}

// SeverityWeight is a finding's contribution to TargetRisk.RiskScore.
func SeverityWeight(s Severity) float64 {
	switch s {
	case Critical:
		return 10
	case High:
		return 5
	case Medium:
		return 2
	case Low:
		return 0.5
	}
	return 0
}
