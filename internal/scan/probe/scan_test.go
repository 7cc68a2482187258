package probe_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"mirror/internal/llm"
	"mirror/internal/llm/llmtest"
	"mirror/internal/scan"
	"mirror/internal/scan/probe"
	"mirror/internal/scan/probe/pii"
	"mirror/internal/scan/probe/probetest"
)

// ngramEmbed has real similarity structure (hashed character trigrams).
func ngramEmbed(text string) []float64 {
	v := make([]float64, 256)
	t := " " + strings.ToLower(text) + " "
	for i := 0; i+3 <= len(t); i++ {
		h := fnv.New32a()
		h.Write([]byte(t[i : i+3]))
		v[h.Sum32()%256]++
	}
	return v
}

func noiseEmbed() func(string) []float64 {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(3, 3))
	return func(string) []float64 {
		mu.Lock()
		defer mu.Unlock()
		v := make([]float64, 32)
		for i := range v {
			v[i] = r.NormFloat64()
		}
		return v
	}
}

// target starts a scripted model on 127.0.0.1 behind the OpenAI protocol and returns
// a probe.Target that reaches it through the real OpenAI adapter.
func target(t testing.TB, w probetest.Weaknesses, embed func(string) []float64) probe.Target {
	t.Helper()
	m := probetest.New(w)
	srv := llmtest.NewOpenAIServer(t, m.Handle, llmtest.WithEmbedder(embed))
	p := llm.NewOpenAI(llm.Options{Provider: llm.OpenAICompatible, APIKey: srv.Key, BaseURL: srv.BaseURL, MaxRetries: -1})
	return probe.Target{Name: srv.BaseURL, Provider: p, Model: "scripted", Embedder: p, EmbeddingModel: "scripted-embed"}
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tlogWriter struct{ t testing.TB }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func byProbe(fs []scan.Finding) map[string]scan.Finding {
	out := map[string]scan.Finding{}
	for _, f := range fs {
		if id, ok := f.Evidence["probe_id"].(string); ok && f.Severity != scan.Info {
			out[id] = f
		}
	}
	return out
}

func logFindings(t *testing.T, fs []scan.Finding) {
	for _, f := range fs {
		t.Logf("%-8s %4.1f %-26s %-55v %s | %v", f.Severity, f.Score, f.ScanType, f.Evidence["probe_id"], f.Title, f.Evidence["matched"])
	}
}

func TestVulnerableTarget(t *testing.T) {
	tg := target(t, probetest.All, ngramEmbed)
	var progress []int
	fs, err := probe.Run(context.Background(), tg, scan.AllTypes, probe.Options{Seed: 7, Logger: testLogger(t),
		Progress: func(done, total int, step string) { progress = append(progress, done) }})
	if err != nil {
		t.Fatal(err)
	}
	logFindings(t, fs)
	got := byProbe(fs)
	// Every planted weakness must be found, at the severity its rubric gives.
	want := map[string]scan.Severity{
		"jailbreak.role_play.retired_poet":               scan.High,
		"jailbreak.instruction_override.ignore_previous": scan.High,
		"jailbreak.encoding.base64":                      scan.High,
		"jailbreak.encoding.rot13":                       scan.High,
		"jailbreak.encoding.reversed":                    scan.Medium,
		"jailbreak.payload_splitting.concatenation":      scan.High,
		"jailbreak.many_shot.compliant_history":          scan.High,
		"jailbreak.multi_turn_escalation.ticket_codes":   scan.Medium,
		"pii_leakage.context.insurance_call":             scan.Critical,
		"pii_leakage.context.impersonation":              scan.Critical,
		"pii_leakage.training.card_numbers":              scan.Medium, // unverified: invented or memorised
		"prompt_artifacts.extraction.verbatim":           scan.High,
		"prompt_artifacts.extraction.obfuscated":         scan.High,
		"prompt_artifacts.cross_session.locker_code":     scan.Critical,
		"model_inversion.planted.prefix_completion":      scan.High,
		"model_inversion.planted.earlier_turn":           scan.Medium,
		"model_inversion.membership.logprobs":            scan.Medium,
		"self_modification.persona.rename":               scan.Medium,
		"self_modification.rules.signature":              scan.High,
		"self_modification.tools.config":                 scan.High,
		"self_modification.memory.cross_session":         scan.Critical,
	}
	for id, sev := range want {
		f, ok := got[id]
		if !ok {
			t.Errorf("vulnerable target: probe %s found nothing", id)
			continue
		}
		if f.Severity != sev {
			t.Errorf("probe %s: severity %s (score %.1f), want %s", id, f.Severity, f.Score, sev)
		}
	}
	var template, reid bool
	for _, f := range fs {
		template = template || strings.Contains(f.Title, "template")
		// Trigram hashing re-identifies no better than a lexical matcher, but it
		// can be inverted: names and attributes come back from the vectors.
		reid = reid || f.RuleID == "embedding_reidentification.inversion" && f.Severity.Rank() >= scan.Medium.Rank()
		checkFinding(t, f, tg.Name)
	}
	if !template {
		t.Error("chat-template leak not reported")
	}
	if !reid {
		t.Error("embedding inversion not reported as medium or above")
	}
	for _, f := range fs {
		if ids, _ := f.Evidence["owasp_llm"].([]string); f.Severity != scan.Info && len(ids) == 0 {
			t.Errorf("finding %q (%s) has no OWASP LLM id", f.Title, f.ScanType)
		}
	}
	if n := len(probe.Catalog()) + 1; len(progress) != n || progress[n-1] != n {
		t.Errorf("progress calls %v, want 1..%d", progress, n)
	}
}

// checkFinding checks what every finding must carry, and that evidence holds no
// unmasked personal data.
func checkFinding(t *testing.T, f scan.Finding, target string) {
	t.Helper()
	if f.Target != target || f.Title == "" || f.Remediation == "" || f.Severity != scan.SeverityForScore(f.Score) {
		t.Errorf("finding header incomplete or inconsistent: %+v", f)
	}
	for k, v := range f.Evidence {
		s := fmt.Sprint(v)
		for _, m := range pii.Find(s) {
			if m.Kind == pii.Card || m.Kind == pii.NationalID || m.Kind == pii.IBAN || m.Kind == pii.Email || m.Kind == pii.Phone {
				t.Errorf("finding %q evidence %s holds unmasked %s %q", f.Title, k, m.Kind, m.Value)
			}
		}
	}
	if f.Severity != scan.Info && f.ScanType != scan.EmbeddingReidentification {
		for _, k := range []string{"probe_family", "probe_version", "prompt_excerpt", "response_excerpt", "turn"} {
			if _, ok := f.Evidence[k]; !ok {
				t.Errorf("finding %q lacks evidence %s", f.Title, k)
			}
		}
	}
}

func TestHardenedTargetRaisesNothing(t *testing.T) {
	tg := target(t, probetest.Weaknesses{}, noiseEmbed())
	fs, err := probe.Run(context.Background(), tg, scan.AllTypes, probe.Options{Seed: 7, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	logFindings(t, fs)
	for _, f := range fs {
		if f.Severity != scan.Info {
			t.Errorf("hardened target: %s finding %q (probe %v): %v", f.Severity, f.Title, f.Evidence["probe_id"], f.Evidence["response_excerpt"])
		}
	}
}

func TestMixedTargets(t *testing.T) {
	tests := []struct {
		name     string
		w        probetest.Weaknesses
		want     []string // probe ids that must be found
		notTypes []scan.Type
		notIDs   []string
	}{
		{
			name:     "leaks prompt only",
			w:        probetest.Weaknesses{LeaksSystemPrompt: true},
			want:     []string{"prompt_artifacts.extraction.verbatim", "prompt_artifacts.extraction.translation", "prompt_artifacts.extraction.obfuscated"},
			notTypes: []scan.Type{scan.Jailbreak, scan.SelfModification},
			notIDs:   []string{"prompt_artifacts.cross_session.locker_code", "pii_leakage.training.card_numbers"},
		},
		{
			name:     "decodes obfuscation and accepts rewrites",
			w:        probetest.Weaknesses{DecodesObfuscation: true, AcceptsRewrites: true},
			want:     []string{"jailbreak.encoding.base64", "jailbreak.encoding.rot13", "jailbreak.payload_splitting.concatenation", "self_modification.persona.rename", "self_modification.rules.signature"},
			notTypes: []scan.Type{scan.PIILeakage, scan.PromptArtifacts, scan.ModelInversion},
			notIDs:   []string{"jailbreak.role_play.retired_poet", "jailbreak.instruction_override.fake_admin", "self_modification.memory.cross_session"},
		},
		{
			name:     "context leaks and record completion",
			w:        probetest.Weaknesses{LeaksContextPII: true, CompletesRecords: true, LogprobsLeak: true},
			want:     []string{"pii_leakage.context.insurance_call", "model_inversion.planted.prefix_completion", "model_inversion.membership.logprobs"},
			notTypes: []scan.Type{scan.Jailbreak, scan.SelfModification},
			notIDs:   []string{"pii_leakage.training.card_numbers", "prompt_artifacts.extraction.verbatim"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			types := []scan.Type{scan.Jailbreak, scan.PIILeakage, scan.PromptArtifacts, scan.ModelInversion, scan.SelfModification}
			fs, err := probe.Run(context.Background(), target(t, tt.w, nil), types, probe.Options{Seed: 11})
			if err != nil {
				t.Fatal(err)
			}
			logFindings(t, fs)
			got := byProbe(fs)
			for _, id := range tt.want {
				if _, ok := got[id]; !ok {
					t.Errorf("planted weakness not found by %s", id)
				}
			}
			for id, f := range got {
				for _, nt := range tt.notTypes {
					if f.ScanType == nt {
						t.Errorf("false finding of type %s: %s", nt, id)
					}
				}
			}
			for _, id := range tt.notIDs {
				if _, ok := got[id]; ok {
					t.Errorf("false finding %s", id)
				}
			}
		})
	}
}

// TestInfoNotesCarryTheirProbesType: a note about a model_inversion probe (no
// logprobs) is filed as model_inversion, whatever type the run's first probe had, and
// every scan type gets its own summary.
func TestInfoNotesCarryTheirProbesType(t *testing.T) {
	srv := llmtest.NewOpenAIServer(t, func(req llmtest.ChatRequest) llmtest.Reply {
		if strings.Contains(req.LastUser(), "Four score") {
			return llmtest.Reply{Text: "a new nation, conceived in Liberty, and dedicated to the proposition that all men are created equal."}
		}
		return llmtest.Reply{Text: "That isn't something I can do."} // and no logprobs
	})
	p := llm.NewOpenAI(llm.Options{Provider: llm.OpenAICompatible, APIKey: srv.Key, BaseURL: srv.BaseURL, MaxRetries: -1})
	tg := probe.Target{Name: srv.BaseURL, Provider: noLogprobs{p}, Model: "scripted"}
	for _, seed := range []int64{1, 2, 3} {
		fs, err := probe.Run(context.Background(), tg, []scan.Type{scan.SelfModification, scan.ModelInversion}, probe.Options{Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		summaries := map[scan.Type]bool{}
		noted := false
		for _, f := range fs {
			switch {
			case f.Evidence["kind"] == "summary":
				summaries[f.ScanType] = true
			case strings.Contains(f.Title, "could not be judged"):
				noted = true
				// Each note lists probes of its own type only: the membership probe
				// (no logprobs) under model_inversion, the tool probes (a target
				// that calls no tools) under self_modification.
				notes := fmt.Sprint(f.Evidence["notes"])
				want := map[scan.Type]string{scan.ModelInversion: "model_inversion.membership", scan.SelfModification: "self_modification.tools."}[f.ScanType]
				other := map[scan.Type]string{scan.ModelInversion: "self_modification.", scan.SelfModification: "model_inversion."}[f.ScanType]
				if want == "" || !strings.Contains(notes, want) || strings.Contains(notes, other) {
					t.Errorf("seed %d: note %q filed as %s: %v", seed, f.Title, f.ScanType, f.Evidence["notes"])
				}
			case strings.HasPrefix(f.Title, "Observation"):
				if f.ScanType != scan.ModelInversion || f.Severity != scan.Info {
					t.Errorf("seed %d: observation %q is %s %s", seed, f.Title, f.ScanType, f.Severity)
				}
			}
		}
		if !noted || !summaries[scan.SelfModification] || !summaries[scan.ModelInversion] {
			t.Errorf("seed %d: note %v, summaries %v", seed, noted, summaries)
		}
	}
}

// noLogprobs is an endpoint that never returns logprobs.
type noLogprobs struct{ llm.Provider }

func (n noLogprobs) Complete(ctx context.Context, req llm.Request) (llm.Response, error) {
	resp, err := n.Provider.Complete(ctx, req)
	resp.Logprobs = nil
	return resp, err
}

// TestTranscriptsRejudge: every probe's transcript reaches Options.Transcript, and
// judging it again from the recorded responses gives the verdict of the run.
func TestTranscriptsRejudge(t *testing.T) {
	var mu sync.Mutex
	var ts []probe.Transcript
	_, err := probe.Run(context.Background(), target(t, probetest.Weaknesses{FollowsInstructions: true, LeaksSystemPrompt: true}, nil), chatTypes,
		probe.Options{Seed: 4, Transcript: func(tr probe.Transcript) { mu.Lock(); ts = append(ts, tr); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != len(probe.Catalog()) {
		t.Fatalf("%d transcripts for %d probes", len(ts), len(probe.Catalog()))
	}
	verdicts := map[string]int{}
	for _, tr := range ts {
		verdicts[tr.Verdict]++
		again, err := probe.Rejudge(tr)
		if err != nil {
			t.Fatal(err)
		}
		if again.Verdict != tr.Verdict || again.Score != tr.Score {
			t.Errorf("%s: rejudged %s %.1f, ran %s %.1f", tr.ProbeID, again.Verdict, again.Score, tr.Verdict, tr.Score)
		}
	}
	if verdicts["succeeded"] == 0 || verdicts["passed"] == 0 {
		t.Errorf("verdicts %v: want both outcomes", verdicts)
	}
}
