package scan_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"mirror/internal/apperr"
	"mirror/internal/llm"
	"mirror/internal/scan"
)

func TestStrategyOptionsValidate(t *testing.T) {
	endpoint := scan.Target{Kind: scan.TargetEndpoint, URL: "https://model.example/v1", Model: "m"}
	tests := []struct {
		name   string
		target scan.Target
		opts   scan.JobOptions
		fields string // "" when valid
	}{
		{"every static strategy, samples and temperature", endpoint,
			scan.JobOptions{Strategies: []string{"base64", "rot13", "hex", "leetspeak", "homoglyph", "zero_width", "payload_splitting", "best_of_n"}, Samples: 20, Temperature: 2}, ""},
		{"attacker strategies with an attacker", endpoint,
			scan.JobOptions{Strategies: []string{"paraphrase", "translation", "crescendo"}, AttackerModelID: "attacker"}, ""},
		{"unknown and repeated strategies", endpoint,
			scan.JobOptions{Strategies: []string{"base64", "caesar", "base64"}}, "options.strategies[1] options.strategies[2]"},
		{"attacker strategy without an attacker", endpoint,
			scan.JobOptions{Strategies: []string{"crescendo"}}, "options.strategies[0]"},
		{"samples and temperature out of range", endpoint,
			scan.JobOptions{Samples: 21, Temperature: 2.5}, "options.samples options.temperature"},
		{"negative samples and temperature", endpoint,
			scan.JobOptions{Samples: -1, Temperature: -0.1}, "options.samples options.temperature"},
		{"tool choice required", endpoint, scan.JobOptions{ToolChoice: "required"}, ""},
		{"tool choice auto", endpoint, scan.JobOptions{ToolChoice: "auto"}, ""},
		{"unknown tool choice", endpoint, scan.JobOptions{ToolChoice: "any"}, "options.tool_choice"},
		{"tool choice on an artifact", scan.Target{Kind: scan.TargetArtifact, ArtifactID: "a"},
			scan.JobOptions{ToolChoice: "required"}, "options.tool_choice"},
		{"too many strategies", endpoint,
			scan.JobOptions{Strategies: make([]string, len(scan.StrategyNames)+1)}, "options.strategies"},
		{"overlong attacker id", endpoint,
			scan.JobOptions{AttackerModelID: strings.Repeat("a", 300)}, "options.attacker_model_id"},
		{"strategies on an artifact", scan.Target{Kind: scan.TargetArtifact, ArtifactID: "a"},
			scan.JobOptions{Strategies: []string{"base64"}, Samples: 2}, "options.strategies options.samples"},
		{"attacker on an embeddings scan", scan.Target{Kind: scan.TargetEmbeddings, URL: "https://e.example/v1", Model: "e"},
			scan.JobOptions{AttackerModelID: "a", Temperature: 1}, "options.attacker_model_id options.temperature"},
	}
	for _, tt := range tests {
		err := scan.CreateInput{Target: tt.target, Options: tt.opts}.Validate()
		if tt.fields == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		e, ok := apperr.As(err)
		var fields []string
		if ok {
			for _, f := range e.Fields {
				fields = append(fields, f.Field)
			}
		}
		if !ok || e.Code != apperr.Invalid || strings.Join(fields, " ") != tt.fields {
			t.Errorf("%s: fields %v (%v), want %s", tt.name, fields, err, tt.fields)
		}
	}
}

// The options are stored as JSON with the job: they must come back as they went in.
func TestStrategyOptionsRoundTrip(t *testing.T) {
	in := scan.JobOptions{Strategies: []string{"base64", "crescendo"}, AttackerModelID: "att", Samples: 3, Temperature: 0.7, ToolChoice: "required"}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out scan.JobOptions
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip %+v -> %s -> %+v", in, b, out)
	}
	for _, k := range []string{`"strategies"`, `"attacker_model_id"`, `"samples"`, `"temperature"`, `"tool_choice"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("%s missing from %s", k, b)
		}
	}
}

// TestToolChoicesMatchLLM: scan restates llm's tool choices (it must not import
// llm), so the two lists must stay equal.
func TestToolChoicesMatchLLM(t *testing.T) {
	if !reflect.DeepEqual(scan.ToolChoices, llm.ToolChoices) {
		t.Errorf("scan.ToolChoices = %q, llm.ToolChoices = %q", scan.ToolChoices, llm.ToolChoices)
	}
}
