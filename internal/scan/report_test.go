package scan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"mirror/internal/scan/reporttest"
)

func sampleFindings() []Finding {
	return []Finding{
		{ScanType: PromptArtifacts, Severity: Low, Score: 2, Title: "low one", Evidence: map[string]any{"file": "b.gguf", "config_key": "tokenizer.chat_template", "rule": "template.hidden_text"}, Remediation: "review", Target: "b.gguf"},
		{ScanType: SelfModification, Severity: Critical, Score: 9.8, Title: "os.system import", Evidence: map[string]any{"file": "models/a.pt", "member": "archive/data.pkl", "offset": int64(10), "file_offset": int64(42), "opcode": "STACK_GLOBAL", "import": "os.system", "rule": "pickle.dangerous_call"}, Remediation: "do not load", Target: "models/a.pt"},
		{ScanType: SelfModification, Severity: Medium, Score: 5, Title: "unknown import", Evidence: map[string]any{"file": "/abs/path with space.pkl", "offset": 7, "rule": "pickle.unknown_import"}, Remediation: "check", Target: "x"},
		{ScanType: SelfModification, Severity: Critical, Score: 9.9, Title: "second critical", Evidence: nil, Remediation: "do not load", Target: "c"},
	}
}

func TestNewReportSortsAndSummarises(t *testing.T) {
	in := sampleFindings()
	r := NewReport("models", []Type{SelfModification, PromptArtifacts}, in, nil)
	var titles []string
	for _, f := range r.Findings {
		titles = append(titles, f.Title)
	}
	want := []string{"second critical", "os.system import", "unknown import", "low one"}
	if diff := cmp.Diff(want, titles); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Summary{Critical: 2, Medium: 1, Low: 1}, r.Summary); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if in[0].Title != "low one" {
		t.Errorf("NewReport reordered the caller's slice")
	}
	if r.NotScanned == nil {
		t.Errorf("NotScanned is nil; JSON would say null")
	}
}

func TestExitCode(t *testing.T) {
	ns := []NotScanned{{Path: "x.bin", Reason: "unsupported format"}}
	tests := []struct {
		name       string
		findings   []Finding
		notScanned []NotScanned
		failOn     Severity
		want       int
	}{
		{"empty", nil, nil, High, 0},
		{"critical at high", []Finding{{Severity: Critical}}, nil, High, 1},
		{"high at high", []Finding{{Severity: High}}, nil, High, 1},
		{"medium at high", []Finding{{Severity: Medium}}, nil, High, 0},
		{"medium at medium", []Finding{{Severity: Medium}}, nil, Medium, 1},
		{"info at info", []Finding{{Severity: Info}}, nil, Info, 1},
		{"not scanned only", nil, ns, High, 2},
		{"medium and not scanned", []Finding{{Severity: Medium}}, ns, High, 2},
		{"findings beat not scanned", []Finding{{Severity: High}}, ns, High, 1},
		{"invalid failOn defaults to high", []Finding{{Severity: Medium}}, nil, Severity("bogus"), 0},
		{"invalid failOn still fails high", []Finding{{Severity: High}}, nil, Severity(""), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReport("t", nil, tt.findings, tt.notScanned)
			if got := r.ExitCode(tt.failOn); got != tt.want {
				t.Errorf("ExitCode(%q) = %d, want %d", tt.failOn, got, tt.want)
			}
		})
	}
}

func TestWriteJSONShape(t *testing.T) {
	r := NewReport("models", []Type{SelfModification}, sampleFindings(), []NotScanned{{Path: "z.bin", Reason: "unknown format"}})
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
		t.Fatalf("decode: %v\n%s", err, buf.String())
	}
	var keys []string
	for k := range raw {
		keys = append(keys, k)
	}
	// API.md's five keys plus docs/report-format.md's; times are omitted when unset.
	want := []string{"schema_version", "tool", "target", "scan_types", "findings", "not_scanned", "summary", "files", "scanned", "skipped"}
	slices.Sort(keys)
	slices.Sort(want)
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("JSON keys (-want +got):\n%s", diff)
	}
	if string(raw["schema_version"]) != `"`+ReportSchemaVersion+`"` {
		t.Errorf("schema_version = %s", raw["schema_version"])
	}
	var summary map[string]int
	if err := json.Unmarshal(raw["summary"], &summary); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"critical": 2, "high": 0, "medium": 1, "low": 1, "info": 0}, summary); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Findings[1].RuleID != "pickle.dangerous_call" || back.Findings[0].RuleID != "self_modification" {
		t.Errorf("rule ids = %q, %q", back.Findings[1].RuleID, back.Findings[0].RuleID)
	}
	if back.Findings[1].Evidence["import"] != "os.system" || back.NotScanned[0].Path != "z.bin" {
		t.Errorf("round trip lost data: %+v", back)
	}
}

func TestWriteJSONEmptyHasArrays(t *testing.T) {
	var buf bytes.Buffer
	if err := (Report{Target: "x"}).WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"findings": []`, `"not_scanned": []`, `"scan_types": []`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("JSON lacks %s:\n%s", want, buf.String())
		}
	}
}

// sarifDoc decodes the parts of SARIF 2.1.0 the tests look at.
type sarifDoc struct {
	Runs []struct {
		Tool struct {
			Driver struct {
				Name           string `json:"name"`
				Version        string `json:"version"`
				InformationURI string `json:"informationUri"`
				Rules          []struct {
					ID         string `json:"id"`
					Help       struct{ Text, Markdown string }
					HelpURI    string         `json:"helpUri"`
					Properties map[string]any `json:"properties"`
				} `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		Invocations []struct {
			ToolExecutionNotifications []struct {
				Level   string `json:"level"`
				Message struct {
					Text string `json:"text"`
				} `json:"message"`
			} `json:"toolExecutionNotifications"`
		} `json:"invocations"`
		Results []struct {
			RuleID    string `json:"ruleId"`
			RuleIndex int    `json:"ruleIndex"`
			Level     string `json:"level"`
			Message   struct {
				Text string `json:"text"`
			} `json:"message"`
			Locations []struct {
				PhysicalLocation struct {
					ArtifactLocation struct {
						URI string `json:"uri"`
					} `json:"artifactLocation"`
					Region *struct {
						ByteOffset *int64 `json:"byteOffset"`
					} `json:"region"`
				} `json:"physicalLocation"`
				LogicalLocations []struct {
					Name string `json:"name"`
				} `json:"logicalLocations"`
			} `json:"locations"`
			PartialFingerprints map[string]string `json:"partialFingerprints"`
			Properties          map[string]any    `json:"properties"`
		} `json:"results"`
	} `json:"runs"`
}

func sampleReport() Report {
	r := NewReport("models", []Type{SelfModification}, append(sampleFindings(), probeFinding()), []NotScanned{{Path: "z.bin", Reason: "unknown format"}})
	r.Tool = Tool{Name: "mirror", Version: "1.2.3", InformationURI: "https://example.org/mirror"}
	r.StartedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r.FinishedAt = r.StartedAt.Add(1500 * time.Millisecond)
	return r
}

func probeFinding() Finding {
	return Finding{ScanType: Jailbreak, Severity: High, Score: 7.4, Title: "Role-play persona talks the model out of its policy",
		Evidence:    map[string]any{"probe_id": "jailbreak.role_play.retired_poet", "probe_family": "role_play", "model": "m"},
		Remediation: "Train the model to keep its policy.", Target: "http://127.0.0.1:9/v1 (m)"}
}

func writeSARIF(t *testing.T, r Report) (sarifDoc, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := r.WriteSARIF(&buf); err != nil {
		t.Fatal(err)
	}
	if err := reporttest.ValidateSARIF(buf.Bytes()); err != nil {
		t.Fatalf("invalid SARIF: %v\n%s", err, buf.String())
	}
	var doc sarifDoc
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return doc, buf.Bytes()
}

func TestWriteSARIFOneRulePerDetector(t *testing.T) {
	doc, _ := writeSARIF(t, sampleReport())
	run := doc.Runs[0]
	if d := run.Tool.Driver; d.Name != "mirror" || d.Version != "1.2.3" || d.InformationURI != "https://example.org/mirror" {
		t.Errorf("driver = %+v", d)
	}
	var ids []string
	for _, r := range run.Tool.Driver.Rules {
		ids = append(ids, r.ID)
	}
	// In the order results first use them (most severe first).
	want := []string{"self_modification", "pickle.dangerous_call", "jailbreak.role_play", "pickle.unknown_import", "template.hidden_text"}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
	rules := run.Tool.Driver.Rules
	if got := rules[1].Properties["security-severity"]; got != "9.8" {
		t.Errorf("pickle.dangerous_call security-severity = %v, want \"9.8\"", got)
	}
	tags := fmt.Sprint(rules[1].Properties["tags"])
	for _, tag := range []string{"external/cwe/cwe-502", "external/owasp-llm/llm03", "external/mitre-atlas/aml.t0011.000"} {
		if !strings.Contains(tags, tag) {
			t.Errorf("pickle.dangerous_call tags %s lack %s", tags, tag)
		}
	}
	if !strings.Contains(fmt.Sprint(rules[2].Properties["tags"]), "external/mitre-atlas/aml.t0054") {
		t.Errorf("jailbreak tags = %v", rules[2].Properties["tags"])
	}
	if !strings.Contains(rules[1].Help.Markdown, "**Fix:**") || !strings.Contains(rules[1].Help.Text, "Do not load this file") {
		t.Errorf("help = %+v", rules[1].Help)
	}
	wantLevels := []string{"error", "error", "error", "warning", "note"}
	for i, res := range run.Results {
		if ids[res.RuleIndex] != res.RuleID {
			t.Errorf("result %d: ruleIndex %d points at %s, ruleId %s", i, res.RuleIndex, ids[res.RuleIndex], res.RuleID)
		}
		if res.Level != wantLevels[i] {
			t.Errorf("result %d level %q, want %q", i, res.Level, wantLevels[i])
		}
		if strings.Contains(res.Message.Text, "Remediation") || strings.Contains(res.Message.Text, "do not load") {
			t.Errorf("result %d message carries the fix: %q", i, res.Message.Text)
		}
	}
	loc := run.Results[1].Locations[0]
	if loc.PhysicalLocation.ArtifactLocation.URI != "models/a.pt" {
		t.Errorf("uri = %q", loc.PhysicalLocation.ArtifactLocation.URI)
	}
	if loc.PhysicalLocation.Region == nil || loc.PhysicalLocation.Region.ByteOffset == nil || *loc.PhysicalLocation.Region.ByteOffset != 42 {
		t.Errorf("region = %+v, want byteOffset 42", loc.PhysicalLocation.Region)
	}
	if len(loc.LogicalLocations) != 1 || loc.LogicalLocations[0].Name != "archive/data.pkl" {
		t.Errorf("logical locations = %+v", loc.LogicalLocations)
	}
	if got := run.Results[2].Locations[0].PhysicalLocation.ArtifactLocation.URI; got != "http://127.0.0.1:9/v1" {
		t.Errorf("live target uri = %q", got)
	}
	if abs := run.Results[3].Locations[0].PhysicalLocation.ArtifactLocation.URI; abs != "file:///abs/path%20with%20space.pkl" {
		t.Errorf("absolute uri = %q", abs)
	}
	notes := run.Invocations[0].ToolExecutionNotifications
	if len(notes) != 1 || !strings.Contains(notes[0].Message.Text, "unknown format") || notes[0].Level != "warning" {
		t.Errorf("notifications = %+v", notes)
	}
}

func TestSARIFFingerprintsStable(t *testing.T) {
	a, _ := writeSARIF(t, sampleReport())
	// The same findings from another run: other scores, counts and order.
	f := sampleFindings()
	f[1].Score, f[1].Evidence["count"] = 9.1, 7
	slices.Reverse(f)
	b, _ := writeSARIF(t, NewReport("models", nil, append(f, probeFinding()), nil))
	fps := func(d sarifDoc) map[string]string {
		m := map[string]string{}
		for _, r := range d.Runs[0].Results {
			fp := r.PartialFingerprints[FingerprintKey]
			if fp == "" {
				t.Fatalf("result without %s", FingerprintKey)
			}
			if _, dup := m[fp]; dup {
				t.Errorf("two results share fingerprint %s", fp)
			}
			m[fp] = r.RuleID
		}
		return m
	}
	if diff := cmp.Diff(fps(a), fps(b)); diff != "" {
		t.Errorf("fingerprints changed between runs (-first +second):\n%s", diff)
	}
	g := sampleFindings()[1]
	g.Evidence["member"] = "archive/other.pkl"
	if Fingerprint(g) == Fingerprint(sampleFindings()[1]) {
		t.Error("a finding in another member has the same fingerprint")
	}
}

func TestWriteSARIFEmptyIsValid(t *testing.T) {
	doc, _ := writeSARIF(t, Report{})
	if len(doc.Runs) != 1 || len(doc.Runs[0].Results) != 0 {
		t.Errorf("runs = %+v", doc.Runs)
	}
}

func TestValidateSARIFRejectsWhatGitHubRejects(t *testing.T) {
	_, good := writeSARIF(t, sampleReport())
	for name, edit := range map[string]func(map[string]any){
		"rule without help": func(m map[string]any) { rule(m, 0)["help"] = map[string]any{"text": ""} },
		"numeric severity":  func(m map[string]any) { rule(m, 0)["properties"].(map[string]any)["security-severity"] = 9.8 },
		"no fingerprints":   func(m map[string]any) { delete(result(m, 0), "partialFingerprints") },
		"unknown rule":      func(m map[string]any) { result(m, 0)["ruleId"] = "nope" },
		"fix in message": func(m map[string]any) {
			r := result(m, 0)
			r["message"] = map[string]any{"text": "x " + r["properties"].(map[string]any)["remediation"].(string)}
		},
		"schema: bad level": func(m map[string]any) { result(m, 0)["level"] = "fatal" },
	} {
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		b, _ := json.Marshal(m)
		if err := reporttest.ValidateSARIF(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func rule(m map[string]any, i int) map[string]any {
	run := m["runs"].([]any)[0].(map[string]any)
	return run["tool"].(map[string]any)["driver"].(map[string]any)["rules"].([]any)[i].(map[string]any)
}

func result(m map[string]any, i int) map[string]any {
	return m["runs"].([]any)[0].(map[string]any)["results"].([]any)[i].(map[string]any)
}

func TestWriteTable(t *testing.T) {
	r := NewReport("models", []Type{SelfModification}, sampleFindings(), []NotScanned{
		{Path: "z.bin", Reason: "unknown\nformat"}, {Path: "models/a.pt!big.bin", Reason: "too large"}})
	r = r.WithFiles([]File{{Path: "models/a.pt", Format: "zip"}, {Path: "z.bin", Format: "unknown"}, {Path: "b.gguf", Format: "gguf"}})
	var buf bytes.Buffer
	if err := r.WriteTable(&buf, TableOptions{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"SEVERITY", "RULE", "CRITICAL", "pickle.dangerous_call", "models/a.pt!archive/data.pkl@10", "os.system import",
		"Scanned (2):\n  models/a.pt  [zip]\n  b.gguf  [gguf]\n",
		"Skipped (1) — these inputs were NOT checked:\n  z.bin: unknown format\n",
		"Not checked inside scanned files (1):\n  models/a.pt!big.bin: too large",
		"Summary: 2 critical, 0 high, 1 medium, 1 low, 0 info; 2 not scanned; 2 files scanned, 1 skipped",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("colour without TableOptions.Color:\n%s", out)
	}
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[2], "CRITICAL") {
		t.Errorf("first finding row is %q, want the critical one", lines[2])
	}
	buf.Reset()
	if err := r.WriteTable(&buf, TableOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	colored := strings.Split(buf.String(), "\n")
	if !strings.HasPrefix(colored[2], "\x1b[91mCRITICAL") || !strings.HasPrefix(colored[4], "\x1b[33mMEDIUM") {
		t.Errorf("rows not coloured by severity: %q, %q", colored[2], colored[4])
	}
	// Colour codes of equal length keep the columns aligned.
	plain := regexp.MustCompile("\x1b\\[[0-9;]*m")
	header, row := plain.ReplaceAllString(colored[1], ""), plain.ReplaceAllString(colored[3], "")
	if strings.Index(header, "SCORE") != strings.Index(row, "9.8") || strings.Index(header, "TITLE") != strings.Index(row, "os.system") {
		t.Errorf("columns misaligned with colour:\n%s", buf.String())
	}
}

func TestPrintableEscapes(t *testing.T) {
	for in, want := range map[string]string{
		"plain name.pkl":   "plain name.pkl",
		"a\nb\t\tc  ":      "a b c",
		"\x1b[2Jclear":     "\\u001b[2Jclear",
		"bad\xff\xfebytes": "bad\\xff\\xfebytes",
		"rtl\u202eevil":    "rtl\\u202eevil",
		"zero\u200bwidth":  "zero\\u200bwidth",
		"naïve — ok":       "naïve — ok",
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriteTableEscapesUntrustedText(t *testing.T) {
	f := Finding{ScanType: SelfModification, Severity: High, Score: 8, Title: "Pickle imports \x1b]0;pwned\x07os.system",
		Evidence: map[string]any{"file": "evil\x1b[31m.pkl", "rule": "pickle.dangerous_import"}}
	var buf bytes.Buffer
	if err := NewReport("x", nil, []Finding{f}, []NotScanned{{Path: "\x9b.bin", Reason: "r\x00"}}).WriteTable(&buf, TableOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, b := range buf.Bytes() {
		if b < 0x20 && b != '\n' {
			t.Fatalf("table holds control byte %#x:\n%q", b, buf.String())
		}
	}
	if strings.Contains(buf.String(), "\u009b") || !strings.Contains(buf.String(), `\x9b.bin`) {
		t.Errorf("raw C1 byte not escaped: %q", buf.String())
	}
}

func TestWriteSARIFCapsResultsAtGitHubLimit(t *testing.T) {
	fs := make([]Finding, MaxSARIFResults+3)
	for i := range fs {
		fs[i] = Finding{ScanType: SelfModification, Severity: Low, Score: 3, Title: fmt.Sprintf("import %d", i),
			Evidence: map[string]any{"file": "m.pkl", "rule": "pickle.unknown_import"}}
	}
	fs[len(fs)-1].Severity, fs[len(fs)-1].Score = Critical, 9.8
	doc, _ := writeSARIF(t, NewReport("m.pkl", nil, fs, nil))
	run := doc.Runs[0]
	if len(run.Results) != MaxSARIFResults || run.Results[0].Level != "error" {
		t.Fatalf("%d results, first %q; want %d with the critical kept", len(run.Results), run.Results[0].Level, MaxSARIFResults)
	}
	notes := run.Invocations[0].ToolExecutionNotifications
	if len(notes) != 1 || !strings.Contains(notes[0].Message.Text, "3 further findings") {
		t.Errorf("notifications = %+v", notes)
	}
}
