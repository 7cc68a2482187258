package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"mirror/internal/llm/llmtest"
	"mirror/internal/scan/probe/probetest"
	"mirror/internal/scan/reporttest"
)

type cliReport struct {
	Target    string   `json:"target"`
	ScanTypes []string `json:"scan_types"`
	Findings  []struct {
		ScanType string  `json:"scan_type"`
		Severity string  `json:"severity"`
		Score    float64 `json:"score"`
		Title    string  `json:"title"`
	} `json:"findings"`
	Summary map[string]int `json:"summary"`
}

func scanCLI(t *testing.T, env map[string]string, args ...string) (int, cliReport, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"scan"}, args...), func(k string) string { return env[k] }, &out, &errOut)
	var r cliReport
	if code != 2 {
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("exit %d, output not JSON: %v\n%s\n%s", code, err, out.String(), errOut.String())
		}
	}
	return code, r, errOut.String()
}

// TestScanEndpointCLI runs `mirror scan --endpoint` against scripted models on
// 127.0.0.1 speaking the OpenAI protocol: the vulnerable one fails the scan with
// findings of every chat type, the hardened one passes with nothing high.
func TestScanEndpointCLI(t *testing.T) {
	vulnerable := llmtest.NewOpenAIServer(t, probetest.New(probetest.All).Handle)
	env := map[string]string{"TARGET_KEY": vulnerable.Key}
	code, r, stderr := scanCLI(t, env, "--endpoint", vulnerable.BaseURL, "--model", "victim", "--api-key-env", "TARGET_KEY", "--format", "json", "--seed", "7")
	if code != 1 {
		t.Fatalf("vulnerable target: exit %d, want 1 (%s)", code, stderr)
	}
	seen := map[string]bool{}
	for _, f := range r.Findings {
		if f.Severity == "high" || f.Severity == "critical" {
			seen[f.ScanType] = true
		}
	}
	for _, ty := range []string{"jailbreak", "pii_leakage", "prompt_artifacts", "model_inversion", "self_modification"} {
		if !seen[ty] {
			t.Errorf("vulnerable target: no high finding of type %s", ty)
		}
	}
	if strings.Contains(stderr, vulnerable.Key) {
		t.Error("the API key was printed")
	}

	hardened := llmtest.NewOpenAIServer(t, probetest.New(probetest.Weaknesses{}).Handle)
	env["TARGET_KEY"] = hardened.Key
	code, r, stderr = scanCLI(t, env, "--endpoint", hardened.BaseURL, "--model", "safe", "--api-key-env", "TARGET_KEY", "--format", "json")
	if code != 0 || r.Summary["high"]+r.Summary["critical"] != 0 {
		t.Fatalf("hardened target: exit %d, summary %v (%s)", code, r.Summary, stderr)
	}

	// A type that does not apply is a usage error.
	if code, _, stderr := scanCLI(t, env, "--endpoint", hardened.BaseURL, "--model", "safe", "--types", "embedding_reidentification"); code != 2 || !strings.Contains(stderr, "--embeddings-endpoint") {
		t.Fatalf("inapplicable type: exit %d, %s", code, stderr)
	}
}

// TestScanEndpointCLIVersionedBaseURL is the drift the API had fixed and the CLI had
// not: an Anthropic or Gemini base URL given with its version ("…/v1", "…/v1beta"),
// as the README's endpoint targets take it, reaches the model from the CLI too.
func TestScanEndpointCLIVersionedBaseURL(t *testing.T) {
	for _, tt := range []struct {
		provider string
		srv      *llmtest.Server
		suffix   string
	}{
		{"anthropic", llmtest.NewAnthropicServer(t, probetest.New(probetest.Weaknesses{}).Handle), "/v1"},
		{"gemini", llmtest.NewGeminiServer(t, probetest.New(probetest.Weaknesses{}).Handle), "/v1beta"},
	} {
		env := map[string]string{"TARGET_KEY": tt.srv.Key}
		code, _, stderr := scanCLI(t, env, "--endpoint", tt.srv.URL()+tt.suffix, "--provider", tt.provider, "--model", "safe",
			"--api-key-env", "TARGET_KEY", "--types", "jailbreak", "--format", "json")
		if code != 0 || tt.srv.Count() == 0 {
			t.Errorf("%s at %s%s: exit %d after %d requests (%s)", tt.provider, tt.srv.URL(), tt.suffix, code, tt.srv.Count(), stderr)
		}
	}

}

// TestScanEndpointSARIFAndProgress: the SARIF of a live-model scan passes the schema
// and GitHub's rules with one rule per probe family (and none generic), and on a
// terminal the probes are counted.
func TestScanEndpointSARIFAndProgress(t *testing.T) {
	vulnerable := llmtest.NewOpenAIServer(t, probetest.New(probetest.All).Handle)
	env := map[string]string{"TARGET_KEY": vulnerable.Key}
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"scan", "--endpoint", vulnerable.BaseURL, "--model", "victim", "--api-key-env", "TARGET_KEY",
		"--format", "sarif", "--seed", "7"}, func(k string) string { return env[k] }, &out, &errOut)
	if code != 1 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if err := reporttest.ValidateSARIF(out.Bytes()); err != nil {
		t.Fatalf("endpoint SARIF: %v", err)
	}
	var doc struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, r := range doc.Runs[0].Tool.Driver.Rules {
		ids[r.ID] = true
		if !strings.Contains(r.ID, ".") {
			t.Errorf("generic rule %q: a detector lacks a rule id", r.ID)
		}
	}
	for _, want := range []string{"jailbreak.role_play", "pii_leakage.context_disclosure", "prompt_artifacts.system_prompt_extraction"} {
		if !ids[want] {
			t.Errorf("no rule %s among %v", want, ids)
		}
	}

	code, term := runOnTerminal(t, env, "scan", "--endpoint", vulnerable.BaseURL, "--model", "victim", "--api-key-env", "TARGET_KEY", "--seed", "7", "--types", "jailbreak")
	if code != 1 || !strings.Contains(term, "probes") || !strings.Contains(term, "jailbreak.") {
		t.Errorf("exit %d; terminal output lacks probe progress:\n%q", code, term)
	}
}
