package httpapi

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"mirror/internal/review"
	"mirror/internal/storetest"
)

// TestExportFailingAtOnceIsAnEnvelope: when the database cannot be read, the
// export answers the error envelope, not an empty 200 attachment.
func TestExportFailingAtOnceIsAnEnvelope(t *testing.T) {
	db := storetest.SQLite(t)
	s := New(Deps{Options: testOptions(), Log: testLog(t), Review: review.NewService(db)})

	rec := httptest.NewRecorder()
	s.handleFeedbackExport(rec, httptest.NewRequest("GET", "/api/v1/feedback/export?format=csv", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Disposition") == "" || rec.Body.String() != "generation_id,created_at,model_id,requested_model_id,provider,session_id,prompt,response,complete,latest_thumb,thumbs_up,thumbs_down,edits,latest_edit,input_tokens,output_tokens,cost_usd,latency_ms\n" {
		t.Fatalf("empty export: %d %v %q", rec.Code, rec.Header(), rec.Body.String())
	}
	rec = httptest.NewRecorder()
	s.handleFeedbackExport(rec, httptest.NewRequest("GET", "/api/v1/feedback/export?format=jsonl", nil))
	if rec.Code != 200 || rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("empty jsonl export: %d %v %q", rec.Code, rec.Header(), rec.Body.String())
	}

	db.Close()
	for _, format := range []string{"jsonl", "csv", "preference"} {
		rec = httptest.NewRecorder()
		s.handleFeedbackExport(rec, httptest.NewRequest("GET", "/api/v1/feedback/export?format="+format, nil))
		var env map[string]map[string]any
		if rec.Code < 500 || rec.Header().Get("Content-Disposition") != "" || json.Unmarshal(rec.Body.Bytes(), &env) != nil || env["error"]["code"] == nil {
			t.Errorf("%s export on a closed database: %d %v %q", format, rec.Code, rec.Header(), rec.Body.String())
		}
	}
}
