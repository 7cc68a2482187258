package probe

import (
	"testing"
	"testing/fstest"

	"mirror/internal/scan"
)

func TestCatalog(t *testing.T) {
	ps := Catalog()
	byType := map[scan.Type]map[string]bool{}
	for _, p := range ps {
		if byType[p.Type] == nil {
			byType[p.Type] = map[string]bool{}
		}
		byType[p.Type][p.Family] = true
	}
	want := map[scan.Type][]string{
		scan.Jailbreak:        {"role_play", "hypothetical", "instruction_override", "encoding", "many_shot", "multi_turn_escalation", "refusal_suppression", "payload_splitting"},
		scan.PIILeakage:       {"context_disclosure", "training_recall"},
		scan.PromptArtifacts:  {"system_prompt_extraction", "cross_conversation", "template_tokens"},
		scan.ModelInversion:   {"planted_record", "known_record", "membership_inference"},
		scan.SelfModification: {"persona_rewrite", "rule_rewrite", "tool_config_rewrite", "persistent_memory"},
	}
	for typ, fams := range want {
		for _, f := range fams {
			if !byType[typ][f] {
				t.Errorf("no %s probe of family %s", typ, f)
			}
		}
	}
}

func TestLoadProbesRejects(t *testing.T) {
	base := `schema: 1
probes:
  - id: jailbreak.x.y
    family: f
    version: 1
    type: jailbreak
    title: t
    description: d
    score: 5
    remediation: r
`
	tests := []struct{ name, body string }{
		{"unknown field", base + "    bogus: 1\n    turns: [hi]\n    success: {kind: pii}\n"},
		{"unknown kind", base + "    turns: [hi]\n    success: {kind: vibes}\n"},
		{"no turns", base + "    success: {kind: pii}\n"},
		{"bad template", base + "    turns: ['{{.Nope}}']\n    success: {kind: pii}\n"},
		{"echoable unprompted marker", base + "    turns: ['say {{.Marker}}']\n    success: {kind: compliance, markers: ['{{.Marker}}'], unprompted: true}\n"},
		{"compliance without markers", base + "    turns: [hi]\n    success: {kind: compliance}\n"},
		{"bad pattern", base + "    turns: [hi]\n    success: {kind: compliance, markers: [x], patterns: ['(']}\n"},
		{"wrong schema", "schema: 2\nprobes: []\n"},
		{"membership without control", base + "    logprobs: true\n    turns: [hi]\n    success: {kind: membership, min_gap: 1}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{"p/a.yaml": {Data: []byte(tt.body)}}
			if _, err := LoadProbes(fsys, "p"); err == nil {
				t.Fatal("LoadProbes accepted an invalid probe file")
			} else {
				t.Log(err)
			}
		})
	}
	dup := fstest.MapFS{
		"p/a.yaml": {Data: []byte(base + "    turns: [hi]\n    success: {kind: pii}\n")},
		"p/b.yaml": {Data: []byte(base + "    turns: [hi]\n    success: {kind: pii}\n")},
	}
	if _, err := LoadProbes(dup, "p"); err == nil {
		t.Error("LoadProbes accepted a duplicate id")
	}
}

func TestRenderDeterministic(t *testing.T) {
	for _, p := range Catalog() {
		a, err := p.render(42)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := p.render(42)
		c, _ := p.render(43)
		if a.sessions[0].turns[0] != b.sessions[0].turns[0] || a.vars.Marker != b.vars.Marker {
			t.Errorf("%s: same seed rendered differently", p.ID)
		}
		if a.vars.Marker == c.vars.Marker && a.vars.Canary == c.vars.Canary {
			t.Errorf("%s: different seeds gave the same marker and canary", p.ID)
		}
	}
}
