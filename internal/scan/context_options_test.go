package scan_test

import (
	"strings"
	"testing"

	"mirror/internal/apperr"
	"mirror/internal/scan"
)

// TestCreateValidatesTargetContext: system_prompt, purpose and probe_pack_ids are
// bounded, for chat targets only, and each problem names its field.
func TestCreateValidatesTargetContext(t *testing.T) {
	chat := scan.Target{Kind: scan.TargetEndpoint, URL: "https://model.example/v1", Model: "m"}
	art := scan.Target{Kind: scan.TargetArtifact, ArtifactID: "a"}
	emb := scan.Target{Kind: scan.TargetEmbeddings, URL: "https://model.example/v1", Model: "e"}
	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = strings.Repeat("p", i+1)
		}
		return out
	}
	for _, c := range []struct {
		name  string
		t     scan.Target
		o     scan.JobOptions
		field string // "" for valid
	}{
		{"prompt and purpose on an endpoint", chat, scan.JobOptions{SystemPrompt: "You are Basil.", Purpose: "orders", ProbePackIDs: []string{"a", "b"}}, ""},
		{"largest prompt", chat, scan.JobOptions{SystemPrompt: strings.Repeat("x", scan.MaxSystemPromptBytes)}, ""},
		{"prompt too long", chat, scan.JobOptions{SystemPrompt: strings.Repeat("x", scan.MaxSystemPromptBytes+1)}, "options.system_prompt"},
		{"prompt not UTF-8", chat, scan.JobOptions{SystemPrompt: "\xff"}, "options.system_prompt"},
		{"prompt on an artifact", art, scan.JobOptions{SystemPrompt: "x"}, "options.system_prompt"},
		{"purpose too long", chat, scan.JobOptions{Purpose: strings.Repeat("x", scan.MaxPurposeBytes+1)}, "options.purpose"},
		{"purpose on embeddings", emb, scan.JobOptions{Purpose: "x"}, "options.purpose"},
		{"too many packs", chat, scan.JobOptions{ProbePackIDs: ids(scan.MaxPacksPerScan + 1)}, "options.probe_pack_ids"},
		{"packs on an artifact", art, scan.JobOptions{ProbePackIDs: []string{"a"}}, "options.probe_pack_ids"},
		{"empty pack id", chat, scan.JobOptions{ProbePackIDs: []string{" "}}, "options.probe_pack_ids[0]"},
		{"pack named twice", chat, scan.JobOptions{ProbePackIDs: []string{"a", "a"}}, "options.probe_pack_ids[1]"},
		{"pack id too long", chat, scan.JobOptions{ProbePackIDs: []string{strings.Repeat("p", 257)}}, "options.probe_pack_ids[0]"},
	} {
		err := scan.CreateInput{Target: c.t, Options: c.o}.Validate()
		if c.field == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		e, ok := apperr.As(err)
		if !ok || e.Code != apperr.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != c.field {
			t.Errorf("%s: %v, want one validation_error on %s", c.name, err, c.field)
		}
	}
}

// TestProbePacksWithoutParserAreRefused: a service without a pack parser refuses
// packs rather than storing what it cannot check.
func TestProbePacksWithoutParserAreRefused(t *testing.T) {
	_, mk, owner := setup(t, &fakeEngine{}, 0)
	_, err := mk().SaveProbePack(t.Context(), scan.Actor{ID: owner}, scan.PackInput{Name: "p", Content: "schema: 1"})
	if apperr.CodeOf(err) != apperr.Unavailable {
		t.Errorf("no parser: %v", err)
	}
	_, err = mk().SaveProbePack(t.Context(), scan.Actor{ID: owner}, scan.PackInput{Name: "bad\nname", Content: ""})
	if e, ok := apperr.As(err); !ok || len(e.Fields) != 2 || e.Fields[0].Field != "name" || e.Fields[1].Field != "content" {
		t.Errorf("bad name and empty content: %v", err)
	}
}
