package review

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"

	"mirror/internal/apperr"
)

// Format is an export format.
type Format string

// The export formats.
const (
	// JSONL is one generation a line, with its feedback events.
	JSONL Format = "jsonl"
	// CSV is one generation a row, with its feedback summarised (latest thumb,
	// latest edit, counts).
	CSV Format = "csv"
	// Preference is one JSON line per training example: a pair
	// {prompt, chosen, rejected} for every edited generation (the latest edit is
	// chosen over the model's answer), and for generations thumbed but not edited
	// an unpaired example {prompt, completion, label} whose label is true for a
	// thumb up (the latest thumb counts). This is the layout TRL's DPO (pairs) and
	// KTO (labels) trainers read.
	Preference Format = "preference"
)

// ParseFormat returns the Format named s; anything else, "" included, is invalid.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case JSONL, CSV, Preference:
		return f, nil
	}
	return "", apperr.Validation(apperr.FieldError{Field: "format", Message: "must be jsonl, csv or preference"})
}

// ContentType is the media type of an export in f.
func (f Format) ContentType() string {
	if f == CSV {
		return "text/csv; charset=utf-8"
	}
	return "application/x-ndjson"
}

// Ext is the file extension of an export in f.
func (f Format) Ext() string {
	if f == CSV {
		return "csv"
	}
	return "jsonl"
}

// FeedbackJSON is a feedback event as exported and listed.
type FeedbackJSON struct {
	FeedbackID     string    `json:"feedback_id"`
	Kind           string    `json:"kind"`
	Thumb          *string   `json:"thumb,omitempty"`
	EditedResponse *string   `json:"edited_response,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
}

// GenerationJSON is a generation with its feedback as exported and listed.
type GenerationJSON struct {
	GenerationID     string         `json:"generation_id"`
	ModelID          string         `json:"model_id"`
	RequestedModelID string         `json:"requested_model_id"`
	Provider         string         `json:"provider"`
	SessionID        *string        `json:"session_id"`
	Prompt           string         `json:"prompt"`
	Response         string         `json:"response"`
	Complete         bool           `json:"complete"`
	FinishReason     *string        `json:"finish_reason"`
	InputTokens      int            `json:"input_tokens"`
	OutputTokens     int            `json:"output_tokens"`
	CostUSD          float64        `json:"cost_usd"`
	LatencyMS        int64          `json:"latency_ms"`
	CreatedAt        time.Time      `json:"created_at"`
	Feedback         []FeedbackJSON `json:"feedback"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// JSON is r in the shape of the list and the JSON lines export.
func (r Record) JSON() GenerationJSON {
	g := r.Generation
	out := GenerationJSON{GenerationID: g.ID, ModelID: g.ModelID, RequestedModelID: g.RequestedModelID, Provider: g.Provider,
		SessionID: optional(g.SessionID), Prompt: g.Input, Response: g.Response, Complete: g.Complete,
		FinishReason: optional(g.FinishReason), InputTokens: g.Usage.InputTokens, OutputTokens: g.Usage.OutputTokens,
		CostUSD: g.CostUSD, LatencyMS: g.LatencyMS, CreatedAt: g.CreatedAt, Feedback: []FeedbackJSON{}}
	for _, e := range r.Feedback {
		fj := FeedbackJSON{FeedbackID: e.ID, Kind: e.Kind, CreatedAt: e.CreatedAt, Thumb: optional(e.Thumb)}
		if e.Kind == "edit" {
			fj.EditedResponse = &e.EditedResponse
		}
		out.Feedback = append(out.Feedback, fj)
	}
	return out
}

type pair struct {
	Prompt       string `json:"prompt"`
	Chosen       string `json:"chosen"`
	Rejected     string `json:"rejected"`
	GenerationID string `json:"generation_id"`
	ModelID      string `json:"model_id"`
}

type labelled struct {
	Prompt       string `json:"prompt"`
	Completion   string `json:"completion"`
	Label        bool   `json:"label"`
	GenerationID string `json:"generation_id"`
	ModelID      string `json:"model_id"`
}

var csvHeader = []string{"generation_id", "created_at", "model_id", "requested_model_id", "provider", "session_id", "prompt",
	"response", "complete", "latest_thumb", "thumbs_up", "thumbs_down", "edits", "latest_edit", "input_tokens",
	"output_tokens", "cost_usd", "latency_ms"}

// csvCell defuses a cell a spreadsheet would run as a formula (=, +, -, @, tab,
// carriage return first) by prefixing a quote, as OWASP advises for CSV exports.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// Export writes every generation f selects to w in format, a record at a time;
// flush, if not nil, is called after each page of output so a client sees it
// stream. It returns the number of records written (lines or rows, header apart).
func (s *Service) Export(ctx context.Context, f Filter, format Format, w io.Writer, flush func()) (int, error) {
	n := 0
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	var cw *csv.Writer
	if format == CSV {
		cw = csv.NewWriter(w)
		if err := cw.Write(csvHeader); err != nil {
			return 0, err
		}
	}
	since := 0
	err := s.Each(ctx, f, func(r Record) error {
		g := r.Generation
		var err error
		switch format {
		case JSONL:
			err = enc.Encode(r.JSON())
			n++
		case Preference:
			if edit, ok := r.LatestEdit(); ok {
				if edit != g.Response {
					err = enc.Encode(pair{Prompt: g.Input, Chosen: edit, Rejected: g.Response, GenerationID: g.ID, ModelID: g.ModelID})
					n++
				}
			} else if t := r.LatestThumb(); t != "" {
				err = enc.Encode(labelled{Prompt: g.Input, Completion: g.Response, Label: t == "up", GenerationID: g.ID, ModelID: g.ModelID})
				n++
			}
		case CSV:
			up, down, edits := 0, 0, 0
			for _, e := range r.Feedback {
				switch {
				case e.Kind == "edit":
					edits++
				case e.Thumb == "up":
					up++
				case e.Thumb == "down":
					down++
				}
			}
			edit, _ := r.LatestEdit()
			err = cw.Write([]string{g.ID, g.CreatedAt.Format(time.RFC3339Nano), csvCell(g.ModelID), csvCell(g.RequestedModelID),
				csvCell(g.Provider), csvCell(g.SessionID), csvCell(g.Input), csvCell(g.Response), strconv.FormatBool(g.Complete),
				r.LatestThumb(), strconv.Itoa(up), strconv.Itoa(down), strconv.Itoa(edits), csvCell(edit),
				strconv.Itoa(g.Usage.InputTokens), strconv.Itoa(g.Usage.OutputTokens), strconv.FormatFloat(g.CostUSD, 'f', -1, 64),
				strconv.FormatInt(g.LatencyMS, 10)})
			n++
		}
		if err != nil {
			return err
		}
		if since++; since == exportPage {
			since = 0
			if cw != nil {
				cw.Flush()
			}
			if flush != nil {
				flush()
			}
		}
		return nil
	})
	if cw != nil && err == nil {
		cw.Flush()
		err = cw.Error()
	}
	return n, err
}
