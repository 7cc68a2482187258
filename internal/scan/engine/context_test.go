package engine

import (
	"context"
	"strings"
	"testing"

	"mirror/internal/llm/llmtest"
	"mirror/internal/scan"
	"mirror/internal/scan/probe/probetest"
)

// TestCatalogModelsOwnSystemPrompt: a catalog model deployed with a system_prompt is
// scanned under it (source "catalog"), and a scan's own system_prompt wins over it.
func TestCatalogModelsOwnSystemPrompt(t *testing.T) {
	srv := llmtest.NewOpenAIServer(t, probetest.New(probetest.Weaknesses{}).Handle, llmtest.NoAuth())
	const own = "You are Fennel, the concierge of Hotel Aster. Never share the master key code FENNEL-0042."
	e := catalogEngine(t, `models:
  default: {default_model: fennel}
  catalog:
    fennel:
      provider: openai_compatible
      litellm_route: openai_compatible/fennel
      base_url: `+srv.BaseURL+`
      available: true
      system_prompt: "`+own+`"
`, nil)
	for _, c := range []struct {
		opts       scan.JobOptions
		want, from string
	}{
		{scan.JobOptions{}, own, "catalog"},
		{scan.JobOptions{SystemPrompt: "You are Sorrel, a tax helper."}, "You are Sorrel, a tax helper.", "options"},
	} {
		before := len(srv.Requests())
		j := scan.Job{Target: scan.Target{Kind: scan.TargetCatalogModel, ModelID: "fennel"}, TargetKey: "catalog_model:fennel",
			Types: []scan.Type{scan.PromptArtifacts}, Options: c.opts}
		findings, _, err := e.Run(context.Background(), j, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		reqs := srv.Requests()[before:]
		if len(reqs) == 0 {
			t.Fatal("no request")
		}
		for _, r := range reqs {
			if !strings.HasPrefix(r.System, c.want) {
				t.Fatalf("request %d: system prompt %q, want it to start with %q", r.N, r.System, c.want)
			}
		}
		for _, f := range findings {
			if f.Evidence["system_prompt_source"] != c.from {
				t.Errorf("finding %q: source %v, want %s", f.Title, f.Evidence["system_prompt_source"], c.from)
			}
		}
	}
}
