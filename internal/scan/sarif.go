package scan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

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
	Properties  map[string]any    `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	SemanticVer    string      `json:"semanticVersion,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string              `json:"id"`
	Name                 string              `json:"name"`
	ShortDescription     sarifMessage        `json:"shortDescription"`
	FullDescription      sarifMessage        `json:"fullDescription"`
	Help                 sarifMultiformat    `json:"help"`
	HelpURI              string              `json:"helpUri,omitempty"`
	DefaultConfiguration sarifRuleConfig     `json:"defaultConfiguration"`
	Properties           sarifRuleProperties `json:"properties"`
}

type sarifRuleProperties struct {
	Tags             []string `json:"tags"`
	Precision        string   `json:"precision"`
	SecuritySeverity string   `json:"security-severity"`
	ProblemSeverity  string   `json:"problem.severity"`
}

type sarifRuleConfig struct {
	Level string `json:"level"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifMultiformat struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	StartTimeUTC               string              `json:"startTimeUtc,omitempty"`
	EndTimeUTC                 string              `json:"endTimeUtc,omitempty"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level     string          `json:"level"`
	Message   sarifMessage    `json:"message"`
	Locations []sarifLocation `json:"locations,omitempty"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifMessage      `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          map[string]any    `json:"properties"`
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
	StartLine  int    `json:"startLine"`
	ByteOffset *int64 `json:"byteOffset,omitempty"`
}

type sarifLogicalLocation struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName,omitempty"`
	Kind               string `json:"kind,omitempty"`
}

// SARIFSchema is the schema URI written into SARIF exports.
const SARIFSchema = "https://json.schemastore.org/sarif-2.1.0.json"

// MaxSARIFResults is GitHub code scanning's limit on results in one run; past it
// the upload is refused. Findings are sorted most severe first, so the ones left
// out are the least severe, and a tool notification says how many.
const MaxSARIFResults = 25000

// FingerprintKey names the partialFingerprints entry of every SARIF result.
const FingerprintKey = "mirrorFinding/v1"

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

// Fingerprint identifies a finding across runs: a hash of its rule, where it is
// (file and member, or target and probe) and its title. It leaves out what varies
// between identical runs (ids, times, scores of sampled probes, counts).
func Fingerprint(f Finding) string {
	file, _ := f.Evidence["file"].(string)
	member, _ := f.Evidence["member"].(string)
	probeID, _ := f.Evidence["probe_id"].(string)
	where := filepath.ToSlash(file)
	if where == "" {
		where = f.Target
	}
	h := sha256.New()
	for _, part := range []string{RuleID(f), where, member, probeID, f.Title} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// securitySeverity formats a 0–10 score the way GitHub code scanning reads
// properties.security-severity: a decimal string. Zero scores (notes) become 0.1, the
// lowest "low", since GitHub reads the property only between 0.1 and 10.
func securitySeverity(score float64) string {
	score = min(max(score, 0.1), 10)
	return strconv.FormatFloat(score, 'f', 1, 64)
}

// WriteSARIF writes the report as a SARIF 2.1.0 log with one run that GitHub code
// scanning accepts: one rule per detector seen in the findings (short and full
// descriptions, help text and Markdown with the fix, helpUri, tags naming CWE, OWASP
// LLM and MITRE ATLAS ids, and security-severity: the highest score of its results),
// one result per finding with a location (the file and byte offset, or the live
// target) and a stable partial fingerprint, and one tool notification per input that
// was not scanned, so code-scanning tools show the gap rather than a clean result.
func (r Report) WriteSARIF(w io.Writer) error {
	r = r.normalized()
	driver := sarifDriver{Name: r.Tool.Name, Version: r.Tool.Version, InformationURI: r.Tool.InformationURI, Rules: []sarifRule{}}
	ruleIndex := map[string]int{}
	maxScore := map[string]float64{}
	findings, omitted := r.Findings, 0
	if len(findings) > MaxSARIFResults {
		findings, omitted = findings[:MaxSARIFResults], len(findings)-MaxSARIFResults
	}
	run := sarifRun{Results: make([]sarifResult, 0, len(findings))}
	for _, f := range findings {
		rule := RuleFor(f)
		idx, ok := ruleIndex[rule.ID]
		if !ok {
			idx = len(driver.Rules)
			ruleIndex[rule.ID] = idx
			driver.Rules = append(driver.Rules, sarifRuleFor(rule, f.ScanType))
			maxScore[rule.ID] = f.Score
		}
		maxScore[rule.ID] = max(maxScore[rule.ID], f.Score)
		run.Results = append(run.Results, sarifResult{
			RuleID:              rule.ID,
			RuleIndex:           idx,
			Level:               SARIFLevel(f.Severity),
			Message:             sarifMessage{Text: resultMessage(f)},
			Locations:           []sarifLocation{findingLocation(f)},
			PartialFingerprints: map[string]string{FingerprintKey: Fingerprint(f)},
			Properties: map[string]any{
				"score":       f.Score,
				"severity":    f.Severity,
				"scan_type":   f.ScanType,
				"evidence":    nonNilMap(f.Evidence),
				"remediation": f.Remediation,
				"target":      f.Target,
			},
		})
	}
	for id, i := range ruleIndex {
		driver.Rules[i].Properties.SecuritySeverity = securitySeverity(maxScore[id])
		level := SARIFLevel(SeverityForScore(maxScore[id]))
		driver.Rules[i].DefaultConfiguration.Level = level
		driver.Rules[i].Properties.ProblemSeverity = map[string]string{"error": "error", "warning": "warning"}[level]
		if driver.Rules[i].Properties.ProblemSeverity == "" {
			driver.Rules[i].Properties.ProblemSeverity = "recommendation"
		}
	}
	run.Tool = sarifTool{Driver: driver}
	inv := sarifInvocation{ExecutionSuccessful: true, StartTimeUTC: sarifTime(r.StartedAt), EndTimeUTC: sarifTime(r.FinishedAt)}
	if omitted > 0 {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{
			Level:   "warning",
			Message: sarifMessage{Text: fmt.Sprintf("%d further findings (the least severe) were left out: GitHub accepts at most %d results a run; see the JSON report for all of them.", omitted, MaxSARIFResults)},
		})
	}
	for _, n := range r.NotScanned {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{
			Level:   "warning",
			Message: sarifMessage{Text: "Not scanned: " + Printable(n.Reason)},
			Locations: []sarifLocation{{PhysicalLocation: &sarifPhysicalLocation{
				ArtifactLocation: sarifArtifactLocation{URI: sarifURI(n.Path)},
			}}},
		})
	}
	run.Invocations = []sarifInvocation{inv}
	run.Properties = map[string]any{"target": r.Target, "scan_types": r.ScanTypes, "scanned": r.Scanned, "summary": r.Summary}
	log := sarifLog{Schema: SARIFSchema, Version: "2.1.0", Runs: []sarifRun{run}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(log); err != nil {
		return fmt.Errorf("write sarif report: %w", err)
	}
	return nil
}

func sarifTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// sarifRuleFor renders a catalogue rule; the fix goes into help, never into a
// result's message.
func sarifRuleFor(rule Rule, t Type) sarifRule {
	md := fmt.Sprintf("**%s**\n\n%s\n\n**Fix:** %s", rule.Title, rule.Description, rule.Help)
	var refs []string
	if rule.CWE > 0 {
		refs = append(refs, fmt.Sprintf("[CWE-%d](https://cwe.mitre.org/data/definitions/%d.html)", rule.CWE, rule.CWE))
	}
	if rule.OWASPLLM != "" {
		refs = append(refs, "OWASP Top 10 for LLM Applications 2025: "+rule.OWASPLLM)
	}
	if rule.ATLAS != "" {
		refs = append(refs, fmt.Sprintf("[MITRE ATLAS %s](https://atlas.mitre.org/techniques/%s)", rule.ATLAS, rule.ATLAS))
	}
	if len(refs) > 0 {
		md += "\n\n**References:** " + strings.Join(refs, "; ")
	}
	return sarifRule{
		ID:               rule.ID,
		Name:             ruleName(rule.ID),
		ShortDescription: sarifMessage{Text: rule.Title},
		FullDescription:  sarifMessage{Text: rule.Description},
		Help:             sarifMultiformat{Text: rule.Help, Markdown: md},
		HelpURI:          rule.HelpURI,
		Properties: sarifRuleProperties{
			Tags:      rule.Tags(t),
			Precision: "high",
		},
	}
}

// resultMessage is the finding's own text: its title and where, never the fix.
func resultMessage(f Finding) string {
	msg := Printable(f.Title)
	if m, _ := f.Evidence["member"].(string); m != "" {
		msg += " (in member " + Printable(m) + ")"
	}
	if n, ok := evidenceInt(f.Evidence["count"]); ok && n > 1 {
		msg += fmt.Sprintf(" [%d occurrences]", n)
	}
	if msg == "" {
		msg = RuleFor(f).Title
	}
	return msg
}

// ruleName turns a rule id into SARIF's PascalCase rule name.
func ruleName(id string) string {
	var b strings.Builder
	for part := range strings.FieldsFuncSeq(id, func(r rune) bool { return r == '_' || r == '.' || r == '-' }) {
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
// byte offset (see fileOffset). Findings about a live model have no file: their
// location is the target (the endpoint's URL), so every result has one, as GitHub
// code scanning requires.
func findingLocation(f Finding) sarifLocation {
	file, _ := f.Evidence["file"].(string)
	if file == "" {
		loc := sarifLocation{PhysicalLocation: &sarifPhysicalLocation{
			ArtifactLocation: sarifArtifactLocation{URI: targetURI(f.Target)},
			Region:           &sarifRegion{StartLine: 1},
		}}
		if m, _ := f.Evidence["model"].(string); m != "" {
			loc.LogicalLocations = []sarifLogicalLocation{{Name: m, Kind: "module"}}
		}
		return loc
	}
	loc := sarifLocation{PhysicalLocation: &sarifPhysicalLocation{
		ArtifactLocation: sarifArtifactLocation{URI: sarifURI(file)},
		Region:           &sarifRegion{StartLine: 1},
	}}
	if off, ok := fileOffset(f.Evidence); ok {
		loc.PhysicalLocation.Region.ByteOffset = &off
	}
	if m, _ := f.Evidence["member"].(string); m != "" {
		loc.LogicalLocations = []sarifLogicalLocation{{Name: m, FullyQualifiedName: file + "!" + m, Kind: "member"}}
	}
	return loc
}

// targetURI turns a live target's name ("https://host/v1 (model)") into a URI: its
// first URL, else a relative reference made of the name.
func targetURI(target string) string {
	first, _, _ := strings.Cut(target, " ")
	if u, err := url.Parse(first); err == nil && u.Scheme != "" && u.Host != "" {
		u.User = nil
		return u.String()
	}
	if target == "" {
		target = "target"
	}
	return (&url.URL{Path: strings.ReplaceAll(target, ":", "_")}).String()
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
