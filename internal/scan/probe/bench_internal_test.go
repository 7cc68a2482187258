package probe

import (
	"context"
	"testing"

	"mirror/internal/llm"
	"mirror/internal/llm/llmtest"
	"mirror/internal/scan/probe/probetest"
)

// BenchmarkReplayRaw is the same-run baseline of BenchmarkScanSequential: it sends
// exactly the requests a scan sends (every probe's rendered turns, with the target's
// replies as history), one after another, with no scanner around them: no
// evaluation, budget, pacing or findings. The ratio of the two is the scanner's own
// overhead per probe.
func BenchmarkReplayRaw(b *testing.B) {
	m := probetest.New(probetest.All)
	srv := llmtest.NewOpenAIServer(b, m.Handle)
	p := llm.NewOpenAI(llm.Options{Provider: llm.OpenAICompatible, APIKey: srv.Key, BaseURL: srv.BaseURL, MaxRetries: -1})
	probes := Catalog()
	var rs []rendered
	for i := range probes {
		r, err := probes[i].render(1)
		if err != nil {
			b.Fatal(err)
		}
		rs = append(rs, r)
	}
	temp := 0.0
	for b.Loop() {
		for i, r := range rs {
			for _, s := range r.sessions {
				var msgs []llm.Message
				if s.system != "" {
					msgs = append(msgs, llm.Message{Role: "system", Content: s.system})
				}
				for _, turn := range s.turns {
					msgs = append(msgs, llm.Message{Role: "user", Content: turn})
					resp, err := p.Complete(context.Background(), llm.Request{Model: "m", Messages: msgs, MaxOutputTokens: DefaultMaxOutputTokens, Temperature: &temp, Seed: 1, Logprobs: probes[i].Logprobs})
					if err != nil {
						b.Fatal(err)
					}
					msgs = append(msgs, llm.Message{Role: "assistant", Content: resp.Text})
				}
			}
		}
	}
	b.ReportMetric(float64(len(rs)*b.N)/b.Elapsed().Seconds(), "probes/s")
}
