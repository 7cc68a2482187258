package engine_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"mirror/internal/llm/llmtest"
	"mirror/internal/scan"
	"mirror/internal/scan/engine"
	"mirror/internal/scan/probe/probetest"
)

// TestScanEndpoints runs the command line's endpoint scan against a scripted model
// on 127.0.0.1 (no SSRF guard: the user named it), with the key the target carries,
// and refuses a type its targets do not allow before sending anything.
func TestScanEndpoints(t *testing.T) {
	model := llmtest.NewOpenAIServer(t, probetest.New(probetest.All).Handle)
	chat := scan.Target{Kind: scan.TargetEndpoint, URL: model.BaseURL, Model: "victim", APIKey: model.Key}
	seed := int64(7)
	s := engine.EndpointScan{Chat: chat, Types: []scan.Type{scan.Jailbreak}, Options: scan.JobOptions{Seed: &seed}}
	r, err := engine.ScanEndpoints(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if r.Target != model.BaseURL+" (victim)" || r.Summary.High+r.Summary.Critical == 0 {
		t.Errorf("report of a vulnerable model: target %q, summary %+v", r.Target, r.Summary)
	}

	s.Chat.APIKey = "wrong"
	if _, err := engine.ScanEndpoints(context.Background(), s); err == nil {
		t.Error("a scan with a key the endpoint refuses succeeded")
	}

	embeddings := engine.EndpointScan{Embeddings: scan.Target{Kind: scan.TargetEmbeddings, URL: model.BaseURL, Model: "e"}}
	if got := embeddings.Applicable(); !slices.Equal(got, []scan.Type{scan.EmbeddingReidentification}) {
		t.Errorf("types an embeddings target allows: %v", got)
	}
	embeddings.Types = []scan.Type{scan.Jailbreak}
	before := len(model.Requests())
	if _, err := engine.ScanEndpoints(context.Background(), embeddings); err == nil || !strings.Contains(err.Error(), "jailbreak") {
		t.Errorf("jailbreak against an embeddings endpoint: %v", err)
	}
	if len(model.Requests()) != before {
		t.Error("a refused scan sent requests")
	}
}
