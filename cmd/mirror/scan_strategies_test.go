package main

import (
	"strings"
	"sync"
	"testing"

	"mirror/internal/llm/llmtest"
)

// TestScanEndpointStrategiesCLI: --strategies, --samples, --temperature and the
// attacker flags reach the scan; a hardened target stays quiet under every static
// strategy, with the attempts counted; usage errors name the flag.
func TestScanEndpointStrategiesCLI(t *testing.T) {
	var mu sync.Mutex
	var temps []float64
	refusing := llmtest.NewOpenAIServer(t, func(req llmtest.ChatRequest) llmtest.Reply {
		if req.Temperature != nil && req.System != "" {
			mu.Lock()
			temps = append(temps, *req.Temperature)
			mu.Unlock()
		}
		return llmtest.Reply{Text: "I'm sorry, but I can't help with that request."}
	})
	attacker := llmtest.NewOpenAIServer(t, llmtest.Echo)
	env := map[string]string{"TARGET_KEY": refusing.Key, "ATTACKER_KEY": attacker.Key}
	code, r, stderr := scanCLI(t, env, "--endpoint", refusing.BaseURL, "--model", "safe", "--api-key-env", "TARGET_KEY", "--format", "json",
		"--types", "jailbreak", "--strategies", "base64,rot13,hex,leetspeak,homoglyph,zero_width,payload_splitting,best_of_n,crescendo",
		"--samples", "2", "--temperature", "0.4", "--max-requests", "300",
		"--attacker-endpoint", attacker.BaseURL, "--attacker-model", "echo", "--attacker-api-key-env", "ATTACKER_KEY")
	if code != 0 {
		t.Fatalf("hardened target: exit %d (%s)", code, stderr)
	}
	var summary map[string]any
	for _, f := range r.Findings {
		if f.Severity != "info" {
			t.Errorf("finding on a refusing target: %s %v", f.Title, f.Evidence["strategy"])
		}
		if f.Evidence["kind"] == "summary" {
			summary = f.Evidence
		}
	}
	if summary == nil || len(summary["by_strategy"].(map[string]any)) != 10 || summary["samples"] != 2.0 || summary["requests_used"].(float64) > 300 {
		t.Errorf("summary %v", summary)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(temps) == 0 || temps[0] != 0.4 {
		t.Errorf("temperatures sent: %v", temps[:min(len(temps), 3)])
	}
	for _, tc := range []struct{ args, want string }{
		{"--strategies caesar", "--strategies"},
		{"--strategies crescendo", "--attacker-endpoint"},
		{"--samples 21", "--samples"},
		{"--temperature 3", "--temperature"},
		{"--attacker-endpoint http://127.0.0.1:1/v1", "--attacker-model"},
	} {
		args := append([]string{"--endpoint", refusing.BaseURL, "--model", "m"}, strings.Fields(tc.args)...)
		if code, _, stderr := scanCLI(t, env, args...); code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, %q", tc.args, code, stderr)
		}
	}
	if code, _, stderr := scanCLI(t, env, "--samples", "2", "model.bin"); code != 2 || !strings.Contains(stderr, "--samples") {
		t.Errorf("--samples on a file scan: exit %d, %q", code, stderr)
	}
}
