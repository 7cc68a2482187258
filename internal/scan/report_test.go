package scan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func sampleFindings() []Finding {
	return []Finding{
		{ScanType: PromptArtifacts, Severity: Low, Score: 2, Title: "low one", Evidence: map[string]any{"file": "b.gguf", "config_key": "tokenizer.chat_template"}, Remediation: "review", Target: "b.gguf"},
		{ScanType: SelfModification, Severity: Critical, Score: 9.8, Title: "os.system import", Evidence: map[string]any{"file": "models/a.pt", "member": "archive/data.pkl", "offset": int64(10), "file_offset": int64(42), "opcode": "STACK_GLOBAL", "import": "os.system"}, Remediation: "do not load", Target: "models/a.pt"},
		{ScanType: SelfModification, Severity: Medium, Score: 5, Title: "unknown import", Evidence: map[string]any{"file": "/abs/path with space.pkl", "offset": 7}, Remediation: "check", Target: "x"},
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
	for _, k := range []string{"target", "scan_types", "findings", "not_scanned", "summary"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("JSON lacks %q; has %v", k, keys)
		}
	}
	if len(raw) != 5 {
		t.Errorf("JSON has keys %v, want exactly 5", keys)
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

// sarifDoc decodes the parts of SARIF 2.1.0 that code-scanning tools require.
type sarifDoc struct {
	Schema  string `json:"$schema"`
	Version string `json:"version"`
	Runs    []struct {
		Tool struct {
			Driver struct {
				Name    string `json:"name"`
				Version string `json:"version"`
				Rules   []struct {
					ID               string `json:"id"`
					ShortDescription struct {
						Text string `json:"text"`
					} `json:"shortDescription"`
				} `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		Invocations []struct {
			ExecutionSuccessful        *bool `json:"executionSuccessful"`
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
			Properties map[string]any `json:"properties"`
		} `json:"results"`
	} `json:"runs"`
}

func TestWriteSARIFStructure(t *testing.T) {
	r := NewReport("models", []Type{SelfModification}, sampleFindings(), []NotScanned{{Path: "z.bin", Reason: "unknown format"}})
	var buf bytes.Buffer
	if err := r.WriteSARIF(&buf, "1.2.3"); err != nil {
		t.Fatal(err)
	}
	var doc sarifDoc
	dec := json.NewDecoder(&buf)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if doc.Version != "2.1.0" || !strings.Contains(doc.Schema, "sarif-2.1.0") {
		t.Errorf("version %q schema %q", doc.Version, doc.Schema)
	}
	if len(doc.Runs) != 1 {
		t.Fatalf("runs = %d, want 1", len(doc.Runs))
	}
	run := doc.Runs[0]
	if run.Tool.Driver.Name != "mirror" || run.Tool.Driver.Version != "1.2.3" {
		t.Errorf("driver = %+v", run.Tool.Driver)
	}
	var ruleIDs []string
	for _, rule := range run.Tool.Driver.Rules {
		ruleIDs = append(ruleIDs, rule.ID)
		if rule.ShortDescription.Text == "" {
			t.Errorf("rule %s has no short description", rule.ID)
		}
	}
	// Requested type first, then a type seen only in findings.
	if diff := cmp.Diff([]string{"self_modification", "prompt_artifacts"}, ruleIDs); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
	if len(run.Results) != 4 {
		t.Fatalf("results = %d, want 4", len(run.Results))
	}
	for i, res := range run.Results {
		if ruleIDs[res.RuleIndex] != res.RuleID {
			t.Errorf("result %d: ruleIndex %d points at %s, ruleId %s", i, res.RuleIndex, ruleIDs[res.RuleIndex], res.RuleID)
		}
		if res.Message.Text == "" {
			t.Errorf("result %d has no message", i)
		}
		for _, k := range []string{"score", "severity", "evidence"} {
			if _, ok := res.Properties[k]; !ok {
				t.Errorf("result %d properties lack %s", i, k)
			}
		}
	}
	wantLevels := []string{"error", "error", "warning", "note"}
	for i, want := range wantLevels {
		if run.Results[i].Level != want {
			t.Errorf("result %d level = %q, want %q", i, run.Results[i].Level, want)
		}
	}
	// The first critical has no evidence file: no location.
	if len(run.Results[0].Locations) != 0 {
		t.Errorf("finding without file has locations %+v", run.Results[0].Locations)
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
	abs := run.Results[2].Locations[0].PhysicalLocation.ArtifactLocation.URI
	if abs != "file:///abs/path%20with%20space.pkl" {
		t.Errorf("absolute uri = %q", abs)
	}
	if len(run.Invocations) != 1 || run.Invocations[0].ExecutionSuccessful == nil {
		t.Fatalf("invocations = %+v", run.Invocations)
	}
	notes := run.Invocations[0].ToolExecutionNotifications
	if len(notes) != 1 || !strings.Contains(notes[0].Message.Text, "unknown format") || notes[0].Level != "warning" {
		t.Errorf("notifications = %+v", notes)
	}
}

func TestWriteTable(t *testing.T) {
	r := NewReport("models", []Type{SelfModification}, sampleFindings(), []NotScanned{{Path: "z.bin", Reason: "unknown\nformat"}})
	var buf bytes.Buffer
	if err := r.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"SEVERITY", "CRITICAL", "models/a.pt!archive/data.pkl@10", "os.system import",
		"Not scanned (1)", "z.bin: unknown format",
		"Summary: 2 critical, 0 high, 1 medium, 1 low, 0 info; 1 not scanned",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[2], "CRITICAL") {
		t.Errorf("first finding row is %q, want the critical one", lines[2])
	}
}
