package scan_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"mirror/internal/apperr"
	"mirror/internal/scan"
)

// TestCreateLimitsEveryTargetField: a target field that its kind does not use is still
// held to its documented limit (schemathesis found a 300-character artifact_id, and a
// provider "AAA", on a catalog_model target accepted).
func TestCreateLimitsEveryTargetField(t *testing.T) {
	_, mk, owner := setup(t, &fakeEngine{}, time.Minute)
	svc := mk()
	a := scan.Actor{ID: owner}
	long := strings.Repeat("x", 300)
	tests := []struct {
		name  string
		in    scan.Target
		field string
	}{
		{"artifact_id on a catalog model", scan.Target{Kind: scan.TargetCatalogModel, ModelID: "m", ArtifactID: long}, "target.artifact_id"},
		{"model_id on an endpoint", scan.Target{Kind: scan.TargetEndpoint, URL: "http://x/v1", Model: "m", ModelID: long}, "target.model_id"},
		{"model on an artifact", scan.Target{Kind: scan.TargetArtifact, ArtifactID: "a", Model: long}, "target.model"},
		{"url on a catalog model", scan.Target{Kind: scan.TargetCatalogModel, ModelID: "m", URL: strings.Repeat("x", 2049)}, "target.url"},
		{"api_key on a catalog model", scan.Target{Kind: scan.TargetCatalogModel, ModelID: "m", APIKey: strings.Repeat("k", 4097)}, "target.api_key"},
		{"provider off its enum on a catalog model", scan.Target{Kind: scan.TargetCatalogModel, ModelID: "m", Provider: "AAA"}, "target.provider"},
		{"url that is not a URL on a catalog model", scan.Target{Kind: scan.TargetCatalogModel, ModelID: "m", URL: "not a url"}, "target.url"},
		{"invalid UTF-8 in an unused field", scan.Target{Kind: scan.TargetCatalogModel, ModelID: "m", Model: "\xff"}, "target.model"},
	}
	for _, tt := range tests {
		_, err := svc.Create(context.Background(), a, scan.CreateInput{Target: tt.in})
		e, ok := apperr.As(err)
		if !ok || e.Code != apperr.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != tt.field {
			t.Errorf("%s: %v, want one validation_error on %s", tt.name, err, tt.field)
		}
	}
	// Within their limits, unused fields are ignored as before.
	if _, err := svc.Create(context.Background(), a, scan.CreateInput{Target: scan.Target{Kind: scan.TargetCatalogModel, ModelID: "m", ArtifactID: "a", Model: "x", Provider: "gemini", URL: "https://model.example/v1"}}); err != nil {
		t.Errorf("short unused fields: %v", err)
	}
}

// TestCreateInputValidate: the input is checked on its own, with no store, checker or
// network, every invalid field listed at once; Validate leaves the input as it was.
func TestCreateInputValidate(t *testing.T) {
	ok := scan.CreateInput{Target: scan.Target{Kind: scan.TargetEndpoint, URL: "https://model.example/v1", Model: "m"},
		Types: []string{"jailbreak", "jailbreak"}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid input: %v", err)
	}
	if ok.Target.Provider != "" || len(ok.Types) != 2 {
		t.Errorf("Validate changed its input: %+v", ok)
	}
	bad := scan.CreateInput{Target: scan.Target{Kind: scan.TargetArtifact, ArtifactID: "a"}, Types: []string{"nope"},
		Options: scan.JobOptions{MaxTokens: -1, JudgeModelID: "j"}}
	e, isApp := apperr.As(bad.Validate())
	var fields []string
	if isApp {
		for _, f := range e.Fields {
			fields = append(fields, f.Field)
		}
	}
	if want := "scan_types[0] options.max_tokens options.judge_model_id"; !isApp || e.Code != apperr.Invalid || strings.Join(fields, " ") != want {
		t.Errorf("fields %v, want %s", fields, want)
	}
}

// TestCreateNormalizes: Create queues the validated input with an endpoint's
// provider defaulted to openai and each scan type once.
func TestCreateNormalizes(t *testing.T) {
	_, mk, owner := setup(t, &fakeEngine{}, time.Minute)
	j, err := mk().Create(context.Background(), scan.Actor{ID: owner}, scan.CreateInput{
		Target: scan.Target{Kind: scan.TargetEndpoint, URL: " https://model.example/v1 ", Model: "m"},
		Types:  []string{"jailbreak", "pii_leakage", "jailbreak"}})
	if err != nil {
		t.Fatal(err)
	}
	if j.Target.Provider != "openai" || j.Target.URL != "https://model.example/v1" || len(j.Types) != 2 || j.Types[0] != scan.Jailbreak || j.Types[1] != scan.PIILeakage {
		t.Errorf("queued %+v, types %v", j.Target, j.Types)
	}
}
