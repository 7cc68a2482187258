package main

import (
	"encoding/base64"
	"regexp"
	"strings"
	"testing"

	"mirror/internal/llm/llmtest"
	"mirror/internal/scan"
	"mirror/internal/scan/probe"
)

// TestScanStrategiesEndToEnd: the API takes strategies, samples and an attacker per
// scan, refuses bad ones in the error envelope naming the field, and a scan of a
// target that obeys only Base64 reports, per strategy, what the strategy found with
// its attack success rate and counts.
func TestScanStrategiesEndToEnd(t *testing.T) {
	base, stop := startServe(t, scanEnv(t))
	defer stop()
	user := signUp(t, base, "strategist@example.com")

	codes := regexp.MustCompile(`[A-Z]+-[A-Z0-9]{4,}-\d{4}`)
	runs := regexp.MustCompile(`[A-Za-z0-9+/]{16,}={0,2}`)
	target := llmtest.NewOpenAIServer(t, func(req llmtest.ChatRequest) llmtest.Reply {
		for _, run := range runs.FindAllString(req.LastUser(), -1) {
			if dec, err := base64.StdEncoding.DecodeString(run); err == nil {
				return llmtest.Reply{Text: "Sure, here it is: " + strings.Join(codes.FindAllString(string(dec), -1), " ")}
			}
		}
		return llmtest.Reply{Text: "I'm sorry, but I can't help with that request."}
	})
	endpoint := `{"kind":"endpoint","url":"` + target.BaseURL + `","model":"m","api_key":"` + target.Key + `"}`

	for _, tc := range []struct{ options, field string }{
		{`{"strategies":["caesar"]}`, "options.strategies[0]"},
		{`{"strategies":["base64","base64"]}`, "options.strategies[1]"},
		{`{"strategies":["crescendo"]}`, "options.strategies[0]"},
		{`{"samples":21}`, "options.samples"},
		{`{"temperature":2.5}`, "options.temperature"},
		{`{"strategies":["paraphrase"],"attacker_model_id":"no-such-model"}`, "options.attacker_model_id"},
	} {
		status, out := user.json("POST", "/api/v1/scans/analyze", `{"target":`+endpoint+`,"scan_types":["jailbreak"],"options":`+tc.options+`}`)
		fields := ""
		if e, ok := out["error"].(map[string]any); ok {
			for _, d := range anySlice(e["details"]) {
				fields += d.(map[string]any)["field"].(string) + " "
			}
		}
		if status != 422 || !strings.Contains(fields, tc.field) {
			t.Errorf("options %s: %d %v, want 422 naming %s", tc.options, status, out, tc.field)
		}
	}

	id := user.startScan(`{"target":` + endpoint + `,"scan_types":["jailbreak"],"options":{"seed":4,"strategies":["base64","paraphrase"],"attacker_model_id":"offline-demo","samples":2,"temperature":0.5}}`)
	if st := user.wait(id); st["status"] != "completed" {
		t.Fatalf("scan: %v", st)
	}
	var summary map[string]any
	byBase64 := 0
	for _, f := range user.findings("scan_id=" + id + "&limit=200") {
		ev := f["evidence"].(map[string]any)
		if ev["kind"] == "summary" {
			summary = ev
		}
		if f["severity"] != "info" && ev["strategy"] == "base64" {
			byBase64++
			if ev["attempts"] != 2.0 || ev["succeeded"].(float64) < 1 || !strings.Contains(f["title"].(string), "(strategy: base64)") {
				t.Errorf("base64 finding: %v %v", f["title"], ev)
			}
		}
	}
	if byBase64 < 5 {
		t.Errorf("%d jailbreak probes found under base64, want most of them", byBase64)
	}
	if summary == nil {
		t.Fatal("no summary")
	}
	bs := summary["by_strategy"].(map[string]any)
	none, b64 := bs["none"].(map[string]any), bs["base64"].(map[string]any)
	if b64["attack_success_rate"].(float64) <= none["attack_success_rate"].(float64) || b64["succeeded"].(float64) == 0 {
		t.Errorf("by strategy: none %v, base64 %v", none, b64)
	}
	// The demo attacker echoes more than it paraphrases: the attempts whose marker it
	// lost are not sent, and every attempt is counted.
	// Every jailbreak probe (each judged by compliance, leak or PII) gets a paraphrase
	// attempt per sample.
	jailbreaks := 0
	for _, p := range probe.Catalog() {
		if p.Type == scan.Jailbreak {
			jailbreaks++
		}
	}
	if p := bs["paraphrase"].(map[string]any); p["attempts"] != float64(2*jailbreaks) || summary["attacker_requests"].(float64) == 0 {
		t.Errorf("paraphrase with the offline demo attacker: %v, attacker requests %v", p, summary["attacker_requests"])
	}
}

func anySlice(v any) []any {
	s, _ := v.([]any)
	return s
}
