package httpapi

import (
	"testing"

	"mirror/internal/llm/llmtest"
)

// TestNULRefusedBeforeTheModelIsCalled: a NUL byte in /generate_response's text
// is 422 before the (paid) model call, not a database error after it.
func TestNULRefusedBeforeTheModelIsCalled(t *testing.T) {
	srv := llmtest.NewOpenAIServer(t, llmtest.Text("answer"))
	ts := gatewayServer(t, map[string]string{"openai": srv.Key}, map[string]string{"openai": srv.BaseURL})
	for _, body := range []string{
		`{"submission":{"model_id":"oai","text":"hi \u0000"}}`,
		`{"submission":{"model_id":"oai","text":"hi","session_id":"s\u0000"}}`,
		`{"submission":{"model_id":"oai","text":"hi","system_prompt":"\u0000"}}`,
	} {
		resp, out := ts.do(t, "POST", "/generate_response", body)
		e := checkEnvelope(t, resp, out, 422, "validation_error")
		if d, _ := e["details"].([]any); len(d) != 1 {
			t.Errorf("%s: details %v", body, e["details"])
		}
	}
	if n := srv.Count(); n != 0 {
		t.Errorf("the model was called %d times for requests that were refused", n)
	}
	// The same text without the NUL reaches the model.
	if resp, out := ts.do(t, "POST", "/generate_response", `{"submission":{"model_id":"oai","text":"hi"}}`); resp.StatusCode != 200 {
		t.Fatalf("clean request: %d %v", resp.StatusCode, out)
	}
}

func FuzzNoNUL(f *testing.F) {
	f.Add("plain", "x")
	f.Add("a\x00b", "")
	f.Fuzz(func(t *testing.T, a, b string) {
		type inner struct {
			S []string          `json:"s"`
			M map[string]string `json:"m"`
		}
		v := struct {
			A string `json:"a"`
			P *inner `json:"p"`
		}{A: a, P: &inner{S: []string{"ok", b}, M: map[string]string{b: a}}}
		err := noNUL(v)
		has := false
		for _, s := range []string{a, b} {
			for i := range len(s) {
				has = has || s[i] == 0
			}
		}
		if (err != nil) != has {
			t.Fatalf("noNUL(%q, %q) = %v", a, b, err)
		}
	})
}
