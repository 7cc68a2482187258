package scan

import (
	"cmp"
	"time"
	"unicode"
	"unicode/utf8"

	"encoding/json"
	"fmt"
	"github.com/fatih/color"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// ReportSchemaVersion is the version of the JSON report's shape (docs/report-format.md).
// The minor number grows when fields are added, the major when any changes meaning.
const ReportSchemaVersion = "1.1"

// Report is the result of one scan run as the CLI and the exports present it: the
// shape of API.md's "CLI reports" section plus the fields of docs/report-format.md.
// Build it with NewReport so the summary and the order of findings are consistent.
type Report struct {
	SchemaVersion string       `json:"schema_version"`
	Tool          Tool         `json:"tool"`
	StartedAt     time.Time    `json:"started_at,omitzero"`
	FinishedAt    time.Time    `json:"finished_at,omitzero"`
	Target        string       `json:"target"`
	ScanTypes     []Type       `json:"scan_types"`
	Findings      []Finding    `json:"findings"`
	NotScanned    []NotScanned `json:"not_scanned"`
	Summary       Summary      `json:"summary"`
	// Files lists every file met, scanned or skipped, with its hash and format.
	Files []File `json:"files"`
	// Scanned lists the paths of the files that were scanned; Skipped the inputs
	// (files or folders) that were not scanned at all, with the reason. NotScanned
	// also holds parts of scanned files (an archive member) that were not checked.
	Scanned []string     `json:"scanned"`
	Skipped []NotScanned `json:"skipped"`
}

// Tool names the program that made a report.
type Tool struct {
	Name           string `json:"name"`
	Version        string `json:"version"`
	InformationURI string `json:"information_uri,omitempty"`
}

// File is one input file of a model-file scan.
type File struct {
	Path      string `json:"path"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	Format    string `json:"format"`              // detected from the content, e.g. "pickle", "zip", "gguf"
	Framework string `json:"framework,omitempty"` // the ML framework the format implies, e.g. "pytorch"
	Status    string `json:"status"`              // "scanned" or "skipped"
	Reason    string `json:"reason,omitempty"`    // why a skipped file was skipped
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
		SchemaVersion: ReportSchemaVersion,
		Tool:          Tool{Name: "mirror"},
		Target:        target,
		ScanTypes:     append([]Type{}, types...),
		Findings:      append([]Finding{}, findings...),
		NotScanned:    append([]NotScanned{}, notScanned...),
	}
	slices.SortStableFunc(r.Findings, func(a, b Finding) int {
		if c := cmp.Compare(b.Severity.Rank(), a.Severity.Rank()); c != 0 {
			return c
		}
		return cmp.Compare(b.Score, a.Score)
	})
	for _, f := range WithRuleIDs(r.Findings) {
		r.Summary.Add(f.Severity)
	}
	r.Skipped = append([]NotScanned{}, r.NotScanned...)
	return r
}

// WithFiles records the files a model-file scan met and sorts inputs into scanned
// and skipped: a file is skipped when a not_scanned entry names it exactly (not one
// of its members); every not_scanned entry that is not about a member of a scanned
// file is listed in Skipped.
func (r Report) WithFiles(files []File) Report {
	reasons := map[string]string{}
	for _, n := range r.NotScanned {
		if _, ok := reasons[n.Path]; !ok {
			reasons[n.Path] = n.Reason
		}
	}
	r.Files = make([]File, 0, len(files))
	r.Scanned = []string{}
	scanned := map[string]bool{}
	for _, f := range files {
		if reason, ok := reasons[f.Path]; ok {
			f.Status, f.Reason = "skipped", reason
		} else {
			f.Status, f.Reason = "scanned", ""
			r.Scanned = append(r.Scanned, f.Path)
			scanned[f.Path] = true
		}
		r.Files = append(r.Files, f)
	}
	r.Skipped = []NotScanned{}
	for _, n := range r.NotScanned {
		file, _, member := strings.Cut(n.Path, "!")
		if member && scanned[file] {
			continue
		}
		r.Skipped = append(r.Skipped, n)
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
	r.SchemaVersion = cmp.Or(r.SchemaVersion, ReportSchemaVersion)
	r.Tool.Name = cmp.Or(r.Tool.Name, "mirror")
	r.Tool.Version = cmp.Or(r.Tool.Version, "unknown")
	if r.Files == nil {
		r.Files = []File{}
	}
	if r.Scanned == nil {
		r.Scanned = []string{}
	}
	if r.Skipped == nil {
		r.Skipped = []NotScanned{}
	}
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

// TableOptions tunes the human-readable table.
type TableOptions struct {
	// Color paints severities with ANSI colours; leave it off unless the output is
	// a terminal and the user has not asked for no colour (NO_COLOR, --no-color).
	Color bool
}

// severityColors uses one SGR attribute each, so every coloured cell carries the
// same number of invisible bytes and the columns stay aligned.
var severityColors = map[Severity]color.Attribute{
	Critical: color.FgHiRed, High: color.FgRed, Medium: color.FgYellow, Low: color.FgCyan, Info: color.FgHiBlack,
	"": 39, // default foreground, for the header
}

func paint(s string, sev Severity, on bool) string {
	if !on {
		return s
	}
	c := color.New(severityColors[sev])
	c.EnableColor()
	return c.Sprint(s)
}

// WriteTable writes the report for people: one line per finding (severity, score,
// rule id, location, title), then the files scanned and skipped, what inside them
// was not checked, and the summary. Every string from a scanned input is escaped
// (Printable), so a crafted file name or title cannot drive the terminal.
func (r Report) WriteTable(w io.Writer, opts TableOptions) error {
	r = r.normalized()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Target: %s\n", Printable(r.Target))
	if len(r.Findings) == 0 {
		fmt.Fprintln(tw, "No findings.")
	} else {
		// The header cell carries invisible codes of the same length as the rows'.
		fmt.Fprintln(tw, paint("SEVERITY", "", opts.Color)+"\tSCORE\tRULE\tLOCATION\tTITLE")
		for _, f := range r.Findings {
			sev := paint(fmt.Sprintf("%-8s", strings.ToUpper(string(f.Severity))), f.Severity, opts.Color)
			fmt.Fprintf(tw, "%s\t%.1f\t%s\t%s\t%s\n", sev, f.Score, Printable(RuleID(f)), tableLocation(f), Printable(f.Title))
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table report: %w", err)
	}
	if len(r.Files) > 0 {
		fmt.Fprintf(w, "\nScanned (%d):\n", len(r.Scanned))
		for _, f := range r.Files {
			if f.Status == "scanned" {
				fmt.Fprintf(w, "  %s  [%s]\n", Printable(f.Path), f.Format)
			}
		}
	}
	if len(r.Skipped) > 0 {
		fmt.Fprintf(w, "\nSkipped (%d) — these inputs were NOT checked:\n", len(r.Skipped))
		for _, n := range r.Skipped {
			fmt.Fprintf(w, "  %s: %s\n", Printable(n.Path), Printable(n.Reason))
		}
	}
	if inner := len(r.NotScanned) - len(r.Skipped); inner > 0 {
		fmt.Fprintf(w, "\nNot checked inside scanned files (%d):\n", inner)
		skipped := map[NotScanned]bool{}
		for _, n := range r.Skipped {
			skipped[n] = true
		}
		for _, n := range r.NotScanned {
			if !skipped[n] {
				fmt.Fprintf(w, "  %s: %s\n", Printable(n.Path), Printable(n.Reason))
			}
		}
	}
	s := r.Summary
	line := fmt.Sprintf("\nSummary: %d critical, %d high, %d medium, %d low, %d info; %d not scanned",
		s.Critical, s.High, s.Medium, s.Low, s.Info, len(r.NotScanned))
	if len(r.Files) > 0 {
		line += fmt.Sprintf("; %d files scanned, %d skipped", len(r.Scanned), len(r.Files)-len(r.Scanned))
	}
	if !r.StartedAt.IsZero() && !r.FinishedAt.IsZero() {
		line += fmt.Sprintf("; %s", r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond))
	}
	if _, err := fmt.Fprintln(w, line); err != nil {
		return fmt.Errorf("write table report: %w", err)
	}
	return nil
}

// Printable makes untrusted text safe to show on one line of a terminal or a log:
// whitespace runs become one space, invalid UTF-8 bytes become \xNN, and control,
// format (bidi overrides, zero-width) and other non-graphic characters become \uNNNN.
func Printable(s string) string {
	var b strings.Builder
	space := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			if !space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = true
			i += size
			continue
		case unicode.Is(unicode.Cf, r) || !unicode.IsGraphic(r):
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
		space = false
		i += size
	}
	return strings.TrimRight(b.String(), " ")
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
	return Printable(loc)
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

// JobReport builds the report of a stored scan job from its findings, for the API
// to export (WriteHTML, WriteSARIF, WriteCycloneDX, WriteJSON) the way the CLI
// does. Stored jobs do not keep a file inventory, so Files stays empty.
func JobReport(j Job, findings []Finding, tool Tool) Report {
	r := NewReport(j.TargetKey, j.Types, findings, nil)
	r.Tool = tool
	if j.StartedAt != nil {
		r.StartedAt = j.StartedAt.UTC()
	}
	if j.CompletedAt != nil {
		r.FinishedAt = j.CompletedAt.UTC()
	}
	return r
}
