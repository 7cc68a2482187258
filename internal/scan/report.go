package scan

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
)

// Report is the result of one scan run as the CLI and the exports present it: the
// shape fixed by API.md's "CLI reports" section. Build it with NewReport so the
// summary and the order of findings are consistent.
type Report struct {
	Target     string       `json:"target"`
	ScanTypes  []Type       `json:"scan_types"`
	Findings   []Finding    `json:"findings"`
	NotScanned []NotScanned `json:"not_scanned"`
	Summary    Summary      `json:"summary"`
}

// Summary counts a report's findings by severity.
type Summary struct {
	Critical int `json:"critical"`
	High     int `json:"high"`
	Medium   int `json:"medium"`
	Low      int `json:"low"`
	Info     int `json:"info"`
}

// Add counts one finding of severity s. Unknown severities are not counted.
func (s *Summary) Add(sev Severity) {
	switch sev {
	case Critical:
		s.Critical++
	case High:
		s.High++
	case Medium:
		s.Medium++
	case Low:
		s.Low++
	case Info:
		s.Info++
	}
}

// NewReport builds a report: it copies the inputs (so callers may reuse theirs), sorts
// findings most severe first (stable, so an engine's own order survives within a
// severity, then by score), and fills the summary. Nil slices become empty ones so the
// JSON always has arrays, never null.
func NewReport(target string, types []Type, findings []Finding, notScanned []NotScanned) Report {
	r := Report{
		Target:     target,
		ScanTypes:  append([]Type{}, types...),
		Findings:   append([]Finding{}, findings...),
		NotScanned: append([]NotScanned{}, notScanned...),
	}
	slices.SortStableFunc(r.Findings, func(a, b Finding) int {
		if c := cmp.Compare(b.Severity.Rank(), a.Severity.Rank()); c != 0 {
			return c
		}
		return cmp.Compare(b.Score, a.Score)
	})
	for _, f := range r.Findings {
		r.Summary.Add(f.Severity)
	}
	return r
}

// ExitCode returns the CLI exit code of API.md: 1 if a finding is at or above failOn,
// else 2 if anything could not be scanned, else 0. An invalid failOn counts as High,
// the documented default.
func (r Report) ExitCode(failOn Severity) int {
	if failOn.Rank() == 0 {
		failOn = High
	}
	for _, f := range r.Findings {
		if f.Severity.Rank() >= failOn.Rank() {
			return 1
		}
	}
	if len(r.NotScanned) > 0 {
		return 2
	}
	return 0
}

// WriteJSON writes the report as indented JSON followed by a newline.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r.normalized()); err != nil {
		return fmt.Errorf("write json report: %w", err)
	}
	return nil
}

// normalized replaces nil slices (a Report built by hand) with empty ones so every
// export has arrays where consumers expect them.
func (r Report) normalized() Report {
	if r.ScanTypes == nil {
		r.ScanTypes = []Type{}
	}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	if r.NotScanned == nil {
		r.NotScanned = []NotScanned{}
	}
	return r
}

// WriteTable writes the report for people: one line per finding with its location,
// then what was not scanned, then the summary.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Target: %s\n", r.Target)
	if len(r.Findings) == 0 {
		fmt.Fprintln(tw, "No findings.")
	} else {
		fmt.Fprintln(tw, "SEVERITY\tSCORE\tTYPE\tLOCATION\tTITLE")
		for _, f := range r.Findings {
			fmt.Fprintf(tw, "%s\t%.1f\t%s\t%s\t%s\n", strings.ToUpper(string(f.Severity)), f.Score, f.ScanType, tableLocation(f), oneLine(f.Title))
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table report: %w", err)
	}
	if len(r.NotScanned) > 0 {
		fmt.Fprintf(w, "\nNot scanned (%d) — these inputs were NOT checked:\n", len(r.NotScanned))
		for _, n := range r.NotScanned {
			fmt.Fprintf(w, "  %s: %s\n", n.Path, oneLine(n.Reason))
		}
	}
	s := r.Summary
	_, err := fmt.Fprintf(w, "\nSummary: %d critical, %d high, %d medium, %d low, %d info; %d not scanned\n",
		s.Critical, s.High, s.Medium, s.Low, s.Info, len(r.NotScanned))
	if err != nil {
		return fmt.Errorf("write table report: %w", err)
	}
	return nil
}

// tableLocation renders evidence's file, member and offset as file!member@offset.
func tableLocation(f Finding) string {
	file, _ := f.Evidence["file"].(string)
	if file == "" {
		file = f.Target
	}
	loc := file
	if m, _ := f.Evidence["member"].(string); m != "" {
		loc += "!" + m
	}
	if off, ok := evidenceInt(f.Evidence["offset"]); ok {
		loc += fmt.Sprintf("@%d", off)
	}
	return oneLine(loc)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// evidenceInt reads an integer from evidence, which may hold any Go integer type, or
// a float64 once the finding has been through JSON.
func evidenceInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case int32:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint64:
		if n > 1<<62 {
			return 0, false
		}
		return int64(n), true
	case float64:
		if n != float64(int64(n)) {
			return 0, false
		}
		return int64(n), true
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

// SARIF 2.1.0 structures: only the parts this tool fills in.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations"`
	Results     []sarifResult     `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string          `json:"id"`
	Name                 string          `json:"name"`
	ShortDescription     sarifMessage    `json:"shortDescription"`
	FullDescription      sarifMessage    `json:"fullDescription"`
	DefaultConfiguration sarifRuleConfig `json:"defaultConfiguration"`
}

type sarifRuleConfig struct {
	Level string `json:"level"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level     string          `json:"level"`
	Message   sarifMessage    `json:"message"`
	Locations []sarifLocation `json:"locations,omitempty"`
}

type sarifResult struct {
	RuleID     string          `json:"ruleId"`
	RuleIndex  int             `json:"ruleIndex"`
	Level      string          `json:"level"`
	Message    sarifMessage    `json:"message"`
	Locations  []sarifLocation `json:"locations,omitempty"`
	Properties map[string]any  `json:"properties"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysicalLocation `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogicalLocation `json:"logicalLocations,omitempty"`
}

type sarifPhysicalLocation struct {
	ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
	Region           *sarifRegion          `json:"region,omitempty"`
}

type sarifArtifactLocation struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	ByteOffset int64 `json:"byteOffset"`
}

type sarifLogicalLocation struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName,omitempty"`
	Kind               string `json:"kind,omitempty"`
}

// SARIFSchema is the schema URI written into SARIF exports.
const SARIFSchema = "https://json.schemastore.org/sarif-2.1.0.json"

// ruleText describes each scan type as a SARIF rule.
var ruleText = map[Type][2]string{
	ModelInversion:            {"Model inversion", "The model reveals training data or internals when probed."},
	PIILeakage:                {"PII leakage", "The model discloses personal data."},
	EmbeddingReidentification: {"Embedding re-identification", "Embeddings allow the source text or person to be recovered."},
	PromptArtifacts:           {"Prompt artifacts", "System prompts, hidden instructions or chat templates that smuggle instructions are exposed or embedded."},
	Jailbreak:                 {"Jailbreak", "The model can be made to ignore its safety policy."},
	SelfModification:          {"Self-modification / code on load", "Loading or running the model executes code that can rewrite the model or its host."},
}

// SARIFLevel maps a severity to a SARIF result level: critical and high are errors,
// medium a warning, low and info notes.
func SARIFLevel(s Severity) string {
	switch s {
	case Critical, High:
		return "error"
	case Medium:
		return "warning"
	}
	return "note"
}

// WriteSARIF writes the report as a SARIF 2.1.0 log with one run: a rule per scan
// type (those requested and any seen in findings), a result per finding with its
// file and byte offset where the evidence has them, and one tool notification per
// input that was not scanned, so code-scanning tools show the gap rather than a clean
// result.
func (r Report) WriteSARIF(w io.Writer, toolVersion string) error {
	types := append([]Type{}, r.ScanTypes...)
	for _, f := range r.Findings {
		if !slices.Contains(types, f.ScanType) {
			types = append(types, f.ScanType)
		}
	}
	driver := sarifDriver{Name: "mirror", Version: toolVersion, Rules: make([]sarifRule, 0, len(types))}
	ruleIndex := make(map[Type]int, len(types))
	for _, t := range types {
		text, ok := ruleText[t]
		if !ok {
			text = [2]string{string(t), "Findings of scan type " + string(t) + "."}
		}
		ruleIndex[t] = len(driver.Rules)
		driver.Rules = append(driver.Rules, sarifRule{
			ID:                   string(t),
			Name:                 ruleName(t),
			ShortDescription:     sarifMessage{Text: text[0]},
			FullDescription:      sarifMessage{Text: text[1]},
			DefaultConfiguration: sarifRuleConfig{Level: "error"},
		})
	}
	run := sarifRun{Tool: sarifTool{Driver: driver}, Results: make([]sarifResult, 0, len(r.Findings))}
	for _, f := range r.Findings {
		msg := f.Title
		if f.Remediation != "" {
			msg += " Remediation: " + f.Remediation
		}
		res := sarifResult{
			RuleID:    string(f.ScanType),
			RuleIndex: ruleIndex[f.ScanType],
			Level:     SARIFLevel(f.Severity),
			Message:   sarifMessage{Text: msg},
			Properties: map[string]any{
				"score":       f.Score,
				"severity":    f.Severity,
				"evidence":    nonNilMap(f.Evidence),
				"remediation": f.Remediation,
				"target":      f.Target,
			},
		}
		if loc, ok := findingLocation(f); ok {
			res.Locations = []sarifLocation{loc}
		}
		run.Results = append(run.Results, res)
	}
	inv := sarifInvocation{ExecutionSuccessful: true}
	for _, n := range r.NotScanned {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{
			Level:   "warning",
			Message: sarifMessage{Text: "Not scanned: " + n.Reason},
			Locations: []sarifLocation{{PhysicalLocation: &sarifPhysicalLocation{
				ArtifactLocation: sarifArtifactLocation{URI: sarifURI(n.Path)},
			}}},
		})
	}
	run.Invocations = []sarifInvocation{inv}
	log := sarifLog{Schema: SARIFSchema, Version: "2.1.0", Runs: []sarifRun{run}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(log); err != nil {
		return fmt.Errorf("write sarif report: %w", err)
	}
	return nil
}

// ruleName turns a scan type id into SARIF's PascalCase rule name.
func ruleName(t Type) string {
	var b strings.Builder
	for part := range strings.SplitSeq(string(t), "_") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

func nonNilMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// findingLocation builds a SARIF location from evidence "file", "member" and the
// byte offset (see fileOffset); findings without a file have none.
func findingLocation(f Finding) (sarifLocation, bool) {
	file, _ := f.Evidence["file"].(string)
	if file == "" {
		return sarifLocation{}, false
	}
	loc := sarifLocation{PhysicalLocation: &sarifPhysicalLocation{
		ArtifactLocation: sarifArtifactLocation{URI: sarifURI(file)},
	}}
	if off, ok := fileOffset(f.Evidence); ok {
		loc.PhysicalLocation.Region = &sarifRegion{ByteOffset: off}
	}
	if m, _ := f.Evidence["member"].(string); m != "" {
		loc.LogicalLocations = []sarifLogicalLocation{{Name: m, FullyQualifiedName: file + "!" + m, Kind: "member"}}
	}
	return loc, true
}

// fileOffset is the finding's byte offset within its file: evidence "file_offset"
// when set, else "offset" unless that is relative to a member of a container.
func fileOffset(ev map[string]any) (int64, bool) {
	if off, ok := evidenceInt(ev["file_offset"]); ok && off >= 0 {
		return off, true
	}
	if m, _ := ev["member"].(string); m != "" {
		return 0, false
	}
	off, ok := evidenceInt(ev["offset"])
	return off, ok && off >= 0
}

// sarifURI turns a file path into a URI reference: absolute paths become file: URIs,
// relative ones stay relative (percent-encoded where needed).
func sarifURI(p string) string {
	slash := filepath.ToSlash(p)
	if filepath.IsAbs(p) {
		if !strings.HasPrefix(slash, "/") {
			slash = "/" + slash
		}
		return (&url.URL{Scheme: "file", Path: slash}).String()
	}
	return (&url.URL{Path: slash}).String()
}
