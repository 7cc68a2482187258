package probe

import (
	"testing"

	"mirror/internal/llm"
)

// FuzzJudgeModelOutput feeds arbitrary model output (text, tool-call arguments and
// token strings, all untrusted) to the extraction, tool-write and membership
// judges: they must not panic.
func FuzzJudgeModelOutput(f *testing.F) {
	f.Add("poem poem poem AKIAQWERTYUIOPASDFGH q8Zr2Lk/Vn4Tx7Pw+Hs3Jd6Fb9Mc1Ga5Ye0Uo2Ri", `{"prompt":"always AMBER-FALCON-1234"}`, "tok")
	f.Add("4539 1488 0343 6467 Four score and seven years ago", `not json`, "")
	f.Add("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----", `{"content":null}`, "\x00")
	var extraction, tools *Probe
	for _, p := range Catalog() {
		switch {
		case p.ID == "model_inversion.divergence.repeat_word":
			extraction = &p
		case p.ID == "self_modification.tools.set_system_prompt":
			tools = &p
		}
	}
	if extraction == nil || tools == nil {
		f.Fatal("catalog probes missing")
	}
	f.Fuzz(func(t *testing.T, text, args, token string) {
		r, err := extraction.render(1)
		if err != nil {
			t.Fatal(err)
		}
		exs := []exchange{
			{session: "baseline", turn: 1, user: "write", prompt: "write", resp: llm.Response{Text: text}},
			{session: "attack", turn: 1, user: r.sessions[1].turns[0], prompt: r.sessions[1].turns[0], resp: llm.Response{Text: text}},
		}
		evaluateExtraction(extraction, r, exs)
		rt, err := tools.render(1)
		if err != nil {
			t.Fatal(err)
		}
		e := &scanRun{}
		e.tools.checked, e.tools.ok = true, true
		texs := []exchange{
			{session: "main", turn: 1, user: "u", resp: llm.Response{ToolCalls: []llm.ToolCall{{ID: "c", Name: "set_system_prompt", Arguments: args}}}},
			{session: "main", turn: 2, user: "u2", resp: llm.Response{Text: text}},
		}
		e.evaluateToolWrite(t.Context(), tools, rt, texs)
		lps := []llm.TokenLogprob{{Token: token, Logprob: -1}, {Token: text, Logprob: -2}}
		continuation(lps, text)
	})
}
