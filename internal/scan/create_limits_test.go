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
