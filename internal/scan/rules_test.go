package scan

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCatalogueCoversEveryDetector reads the scanners' own rule tables (the model-file
// rules in artifact/findings.go, the probe families in probe/probes/*.yaml) so a new
// detector without a catalogue entry fails here rather than reaching SARIF with the
// generic fallback help.
func TestCatalogueCoversEveryDetector(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("artifact", "findings.go"))
	if err != nil {
		t.Fatal(err)
	}
	ids := regexp.MustCompile(`rule\{"([a-z0-9_.]+)", scan\.`).FindAllStringSubmatch(string(src), -1)
	if len(ids) < 30 {
		t.Fatalf("found only %d model-file rules; has artifact/findings.go changed shape?", len(ids))
	}
	for _, m := range ids {
		if _, ok := rules[m[1]]; !ok {
			t.Errorf("model-file rule %s has no catalogue entry in rules.go", m[1])
		}
	}
	files, err := filepath.Glob(filepath.Join("probe", "probes", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("probe catalogues: %v %v", files, err)
	}
	famRe := regexp.MustCompile(`(?m)^\s+family: (\S+)\s*\n(?:.*\n)*?\s+type: (\S+)`)
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range famRe.FindAllStringSubmatch(string(b), -1) {
			n++
			id := m[2] + "." + m[1]
			if _, ok := rules[id]; !ok {
				t.Errorf("%s: probe family rule %s has no catalogue entry", filepath.Base(f), id)
			}
		}
	}
	if n < 20 {
		t.Errorf("found only %d probes", n)
	}
}

func TestRuleIDDerivation(t *testing.T) {
	for _, c := range []struct {
		f    Finding
		want string
	}{
		{Finding{RuleID: "set.by_scanner", Evidence: map[string]any{"rule": "other"}}, "set.by_scanner"},
		{Finding{ScanType: SelfModification, Evidence: map[string]any{"rule": "pickle.dangerous_call"}}, "pickle.dangerous_call"},
		{Finding{ScanType: Jailbreak, Evidence: map[string]any{"probe_family": "role_play"}}, "jailbreak.role_play"},
		{Finding{ScanType: PromptArtifacts, Evidence: map[string]any{"probe_family": "role_play", "responses_affected": 3}}, "prompt_artifacts.template_token_leak"},
		{Finding{ScanType: EmbeddingReidentification, Evidence: map[string]any{"attribute": "x"}}, "embedding_reidentification.attribute_inference"},
		{Finding{ScanType: EmbeddingReidentification}, "embedding_reidentification.reidentification"},
		{Finding{ScanType: EmbeddingReidentification, Evidence: map[string]any{"secrets": 16}}, "embedding_reidentification.inversion"},
		{Finding{ScanType: PIILeakage, Severity: Info, Evidence: map[string]any{"failures": []string{"x"}}}, "pii_leakage.scan_note"},
		{Finding{ScanType: PIILeakage, Severity: High}, "pii_leakage"},
	} {
		if got := RuleID(c.f); got != c.want {
			t.Errorf("RuleID(%+v) = %q, want %q", c.f, got, c.want)
		}
		r := RuleFor(c.f)
		if r.ID != c.want || r.Title == "" || r.Help == "" || r.HelpURI == "" {
			t.Errorf("RuleFor(%q) = %+v", c.want, r)
		}
	}
	for _, r := range Rules() {
		if r.Title == "" || r.Description == "" || r.Help == "" || !strings.HasPrefix(r.HelpURI, "https://") || r.Severity < 0 || r.Severity > 10 {
			t.Errorf("incomplete rule %+v", r)
		}
	}
}

// TestWithRuleIDs: the API's finding lists and the reports fill in a missing rule id
// from the evidence and keep one a scanner set.
func TestWithRuleIDs(t *testing.T) {
	fs := WithRuleIDs([]Finding{
		{ScanType: Jailbreak, Evidence: map[string]any{"probe_family": "goal_hijack"}},
		{RuleID: "set.by_scanner", ScanType: Jailbreak, Evidence: map[string]any{"probe_family": "goal_hijack"}},
	})
	if fs[0].RuleID != "jailbreak.goal_hijack" || fs[1].RuleID != "set.by_scanner" {
		t.Errorf("rule ids = %q, %q", fs[0].RuleID, fs[1].RuleID)
	}
}
