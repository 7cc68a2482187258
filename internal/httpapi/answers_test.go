package httpapi

import (
	"encoding/json"
	"testing"

	"mirror/internal/llm/llmtest"
)

// TestEmptyAnswerIsAnUpstreamError: every provider's empty answer that ends
// normally is a 502 upstream_error, blocking or streamed, never a 200 with "".
func TestEmptyAnswerIsAnUpstreamError(t *testing.T) {
	for _, pc := range providerCases {
		t.Run(pc.provider, func(t *testing.T) {
			t.Parallel()
			srv := pc.start(t, llmtest.Text(""))
			ts := gatewayServer(t, map[string]string{pc.provider: srv.Key}, map[string]string{pc.provider: srv.BaseURL})
			resp, out := ts.do(t, "POST", "/generate_response", gen(pc.model))
			e := checkEnvelope(t, resp, out, 502, "upstream_error")
			t.Logf("message: %v", e["message"])
			// Streamed: nothing was sent yet, so the answer is the envelope itself.
			sresp := streamReq(t, ts, pc.model)
			var body map[string]any
			json.NewDecoder(sresp.Body).Decode(&body)
			checkEnvelope(t, sresp, body, 502, "upstream_error")
		})
	}
}

// TestBrokenStreamKeepsItsUsage: a stream cut after text was sent stores the
// usage the provider reported so far, and estimates (and marks) what it did not,
// rather than zeros.
func TestBrokenStreamKeepsItsUsage(t *testing.T) {
	for _, pc := range providerCases {
		t.Run(pc.provider, func(t *testing.T) {
			t.Parallel()
			cut := pc.start(t, llmtest.Sequence(llmtest.Reply{Text: "one two three four five", Cut: llmtest.CutDrop, CutAfter: 2}))
			ts := gatewayServer(t, map[string]string{pc.provider: cut.Key}, map[string]string{pc.provider: cut.BaseURL})
			_, events, last := readSSE(t, streamReq(t, ts, pc.model))
			if events[len(events)-1] != "error" {
				t.Fatalf("events %v", events)
			}
			id, _ := last["generation_id"].(string)
			resp, stored := ts.do(t, "GET", "/generations/"+id, "")
			if resp.StatusCode != 200 {
				t.Fatalf("stored generation: %d %v", resp.StatusCode, stored)
			}
			u, _ := stored["usage"].(map[string]any)
			if in, _ := u["input_tokens"].(float64); in <= 0 {
				t.Errorf("input tokens of the broken answer: %v", u)
			}
			if out, _ := u["output_tokens"].(float64); out <= 0 {
				t.Errorf("output tokens of the broken answer: %v", u)
			}
			if u["estimated"] != true {
				t.Errorf("usage without the provider's final count is not marked estimated: %v", u)
			}
		})
	}
}
