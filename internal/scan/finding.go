// Package scan owns MirrorScan's vocabulary and use cases: scan types, findings and
// their severity, reports, and scan jobs. The engines live in sub-packages: probe
// (live models), embedding (embeddings endpoints) and artifact (model files).
package scan

import (
	"fmt"
	"time"
)

// Type is a scan type id, as in the spec's list of scans.
type Type string

// The six scan types.
const (
	ModelInversion            Type = "model_inversion"
	PIILeakage                Type = "pii_leakage"
	EmbeddingReidentification Type = "embedding_reidentification"
	PromptArtifacts           Type = "prompt_artifacts"
	Jailbreak                 Type = "jailbreak"
	SelfModification          Type = "self_modification"
)

// AllTypes lists every scan type in a stable order.
var AllTypes = []Type{ModelInversion, PIILeakage, EmbeddingReidentification, PromptArtifacts, Jailbreak, SelfModification}

// ParseType returns the Type named s, or an error naming it.
func ParseType(s string) (Type, error) {
	for _, t := range AllTypes {
		if string(t) == s {
			return t, nil
		}
	}
	return "", fmt.Errorf("unknown scan type %q", s)
}

// Severity grades a finding. The zero value is invalid.
type Severity string

// Severities, most severe first.
const (
	Critical Severity = "critical"
	High     Severity = "high"
	Medium   Severity = "medium"
	Low      Severity = "low"
	Info     Severity = "info"
)

// Rank orders severities: critical 5 … info 1; unknown 0.
func (s Severity) Rank() int {
	switch s {
	case Critical:
		return 5
	case High:
		return 4
	case Medium:
		return 3
	case Low:
		return 2
	case Info:
		return 1
	}
	return 0
}

// ParseSeverity returns the Severity named s, or an error.
func ParseSeverity(s string) (Severity, error) {
	if v := Severity(s); v.Rank() > 0 {
		return v, nil
	}
	return "", fmt.Errorf("unknown severity %q (want critical, high, medium, low or info)", s)
}

// SeverityForScore maps a 0–10 score to a severity with the CVSS v3 bands:
// 9.0+ critical, 7.0+ high, 4.0+ medium, 0.1+ low, else info.
func SeverityForScore(score float64) Severity {
	switch {
	case score >= 9:
		return Critical
	case score >= 7:
		return High
	case score >= 4:
		return Medium
	case score > 0:
		return Low
	}
	return Info
}

// Finding is one weakness found by a scan. Evidence holds what a reviewer needs to
// check it: the probe and response excerpts for a live model, the file, member path,
// byte offset, opcode and imported name for a model file. Evidence never holds an
// unmasked secret or personal datum. RuleID names the detector that produced the
// finding ("pickle.dangerous_call", "jailbreak.role_play"): stable across versions,
// one SARIF rule each; scanners should set it, and RuleID(f) derives it from the
// evidence when they do not.
type Finding struct {
	ID          string         `json:"id,omitempty"`
	ScanID      string         `json:"scan_id,omitempty"`
	ScanType    Type           `json:"scan_type"`
	RuleID      string         `json:"rule_id,omitempty"`
	Severity    Severity       `json:"severity"`
	Score       float64        `json:"score"`
	Title       string         `json:"title"`
	Evidence    map[string]any `json:"evidence"`
	Remediation string         `json:"remediation"`
	Target      string         `json:"target"`
	CreatedAt   time.Time      `json:"created_at,omitzero"`
}

// NotScanned records an input that could not be scanned and why. It is reported
// beside the findings, never silently dropped.
type NotScanned struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// ProgressFunc receives progress as an engine works: done of total units, and a
// short description of the current step. It must not block.
type ProgressFunc func(done, total int, step string)
