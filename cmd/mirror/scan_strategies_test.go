package main

import (
	"strconv"
	"strings"
	"sync"
	"testing"

	"mirror/internal/llm"
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
		{"--tool-choice any", "--tool-choice"},
		{"--attacker-endpoint http://127.0.0.1:1/v1", "--attacker-model"},
	} {
		args := append([]string{"--endpoint", refusing.BaseURL, "--model", "m"}, strings.Fields(tc.args)...)
		if code, _, stderr := scanCLI(t, env, args...); code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, %q", tc.args, code, stderr)
		}
	}
	if code, _, stderr := scanCLI(t, env, "--tool-choice", "required", "model.bin"); code != 2 || !strings.Contains(stderr, "--tool-choice") {
		t.Errorf("--tool-choice on a file scan: exit %d, %q", code, stderr)
	}
	if code, _, stderr := scanCLI(t, env, "--samples", "2", "model.bin"); code != 2 || !strings.Contains(stderr, "--samples") {
		t.Errorf("--samples on a file scan: exit %d, %q", code, stderr)
	}
}

// TestScanEndpointToolChoiceCLI: --tool-choice required reaches the target as
// tool_choice "required" on the tool-support check and each tool probe's planting
// turn, and a model that calls tools only when made to is then judged.
func TestScanEndpointToolChoiceCLI(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := llmtest.NewOpenAIServer(t, func(req llmtest.ChatRequest) llmtest.Reply {
		mu.Lock()
		seen[req.ToolChoice]++
		mu.Unlock()
		if req.ToolChoice == "required" && len(req.Tools) > 0 {
			return llmtest.Reply{ToolCalls: []llm.ToolCall{{Name: req.Tools[0].Name, Arguments: `{"prompt":` + strconv.Quote(req.LastUser()) + `}`}}}
		}
		return llmtest.Reply{Text: "Noted."}
	})
	env := map[string]string{"TARGET_KEY": srv.Key}
	code, r, stderr := scanCLI(t, env, "--endpoint", srv.BaseURL, "--model", "m", "--api-key-env", "TARGET_KEY", "--format", "json",
		"--types", "self_modification", "--tool-choice", "required", "--fail-on", "critical")
	if code != 0 {
		t.Fatalf("exit %d (%s)", code, stderr)
	}
	found := false
	for _, f := range r.Findings {
		if f.Evidence["probe_id"] == "self_modification.tools.set_system_prompt" && f.Severity != "info" && f.Evidence["tool_choice"] == "required" {
			found = true
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !found || seen["required"] == 0 || seen["auto"] == 0 {
		t.Errorf("set_system_prompt write found: %v; tool choices sent: %v", found, seen)
	}
}
