// Package llmtest runs fake LLM provider servers on 127.0.0.1 that speak the real
// wire protocols: OpenAI chat completions and embeddings, Anthropic messages, and
// the Gemini API's generateContent. Each checks the path and auth header the way
// the real API does, answers in that API's JSON and server-sent-event shapes, and
// fails in that API's error body shape.
//
// A test scripts the answers with a Handler, a plain function from the decoded
// request to a Reply:
//
//	srv := llmtest.NewOpenAIServer(t, func(req llmtest.ChatRequest) llmtest.Reply {
//		if strings.Contains(req.LastUser(), "ignore previous instructions") {
//			return llmtest.Reply{Text: "PWNED"}
//		}
//		return llmtest.Reply{Text: "I can't help with that."}
//	})
//	p := llm.NewOpenAI(llm.Options{APIKey: srv.Key, BaseURL: srv.BaseURL})
//
// Replies can also fail (Status, RetryAfter), hang until the client leaves,
// return malformed JSON, or cut a stream off. Nothing sleeps unless a Reply says
// so, so the servers suit benchmarks too (testing.TB is accepted everywhere).
package llmtest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mirror/internal/llm"
)

// Protocol names, as in ChatRequest.Protocol.
const (
	OpenAI    = "openai"
	Anthropic = "anthropic"
	Gemini    = "gemini"
)

// Endpoint names, as in ChatRequest.Endpoint.
const (
	EndpointChat       = "chat"
	EndpointEmbeddings = "embeddings"
)

// maxRequestBytes bounds a request body the fakes decode.
const maxRequestBytes = 8 << 20

// maxRecorded bounds how many requests a Server keeps for Requests.
const maxRecorded = 1024

// ChatRequest is one request as a fake server decoded it, the same for every
// protocol.
type ChatRequest struct {
	Protocol string // OpenAI, Anthropic or Gemini
	Endpoint string // EndpointChat, or EndpointEmbeddings (OpenAI only)
	// N numbers the server's requests from 1, in arrival order.
	N int
	// Model is the model name of the body (OpenAI, Anthropic) or the path (Gemini).
	Model string
	// System joins the system messages (OpenAI), the system field (Anthropic) or
	// the systemInstruction (Gemini) with newlines.
	System string
	// Messages are the other turns, with roles "user" and "assistant".
	Messages []llm.Message
	// Inputs are the texts of an embeddings request.
	Inputs      []string
	MaxTokens   int // max_completion_tokens or max_tokens, max_tokens, maxOutputTokens
	Temperature *float64
	Seed        *int64
	Logprobs    bool
	Stream      bool
	Header      http.Header
	// Tools are the functions the request offered, decoded from the protocol's
	// own form (Parameters is the JSON Schema object as sent).
	Tools []llm.Tool
	// ToolChoice is the tool choice as the protocol spelled it: OpenAI's
	// tool_choice string ("auto", "required", "none"), Anthropic's tool_choice type
	// ("auto", "any", "tool", "none"), Gemini's functionCallingConfig mode ("AUTO",
	// "ANY", "NONE"); "" when the request sent none.
	ToolChoice string
}

// Tool returns the offered tool called name, if any.
func (r ChatRequest) Tool(name string) (llm.Tool, bool) {
	for _, t := range r.Tools {
		if t.Name == name {
			return t, true
		}
	}
	return llm.Tool{}, false
}

// LastUser returns the text of the last user turn, or "".
func (r ChatRequest) LastUser() string {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if r.Messages[i].Role == "user" {
			return r.Messages[i].Content
		}
	}
	return ""
}

// Cut says how a streamed Reply ends early.
type Cut int

const (
	// CutNone streams the whole answer and its proper end.
	CutNone Cut = iota
	// CutDrop drops the connection after CutAfter deltas, mid-body.
	CutDrop
	// CutEnd ends the body cleanly after CutAfter deltas but without the
	// protocol's end (no finish_reason and [DONE], no message_stop, no
	// finishReason).
	CutEnd
	// CutError sends the protocol's in-stream error event after CutAfter deltas.
	CutError
	// CutStall goes silent after CutAfter deltas, keeping the connection open
	// until the client leaves (reported on Server.Disconnects).
	CutStall
)

// Reply scripts one answer. The zero Reply is a successful empty answer.
type Reply struct {
	// Text is the answer. Deltas, when set, are the streamed pieces instead (and
	// their concatenation the text); by default Text is split after spaces.
	Text   string
	Deltas []string
	// FinishReason "" is the protocol's normal stop ("stop", "end_turn", "STOP").
	FinishReason string
	// Usage nil counts words of the prompt and the answer.
	Usage *llm.Usage
	// Logprobs are sent when the request asked for them (OpenAI, Gemini); nil
	// gives each delta a log probability of -0.25.
	Logprobs []llm.TokenLogprob
	// Embeddings replace the server's embedding function for an embeddings request.
	Embeddings [][]float64
	// ToolCalls are function calls the answer makes (non-streaming answers only),
	// in the protocol's form: OpenAI message.tool_calls with finish_reason
	// "tool_calls", Anthropic tool_use blocks with stop_reason "tool_use", Gemini
	// functionCall parts. An empty ID is filled in the protocol's style, except for
	// Gemini, whose API sends none. Arguments must be a JSON object.
	ToolCalls []llm.ToolCall

	// Status ≥ 400 answers with the protocol's error body for that status.
	Status int
	// Message is the error message for Status or CutError ("" for a stock one).
	Message string
	// RetryAfter is rendered the protocol's way: OpenAI retry-after-ms and
	// retry-after, Anthropic retry-after (whole seconds, rounded up), Gemini a
	// google.rpc.RetryInfo retryDelay in the body.
	RetryAfter time.Duration
	// Header is added to the response.
	Header http.Header

	// Hang never answers: the handler waits until the client goes away (which
	// is then reported on Server.Disconnects) or the server closes.
	Hang bool
	// Malformed answers 200 with a body (or stream event) that is not valid JSON.
	Malformed bool
	// Cut and CutAfter end a stream early; CutAfter counts the deltas sent first.
	Cut      Cut
	CutAfter int
	// Delay waits before answering, for benchmarks that model provider latency.
	Delay time.Duration
}

// Handler answers one request. It is called concurrently for concurrent requests.
type Handler func(ChatRequest) Reply

// Text is a Handler that always answers s.
func Text(s string) Handler { return func(ChatRequest) Reply { return Reply{Text: s} } }

// Echo is a Handler that answers with the last user turn, prefixed "echo: ".
func Echo(req ChatRequest) Reply { return Reply{Text: "echo: " + req.LastUser()} }

// Sequence is a Handler that gives the n-th request replies[n-1], and the last
// reply to every request after that. It is how a test scripts "500, then success".
func Sequence(replies ...Reply) Handler {
	if len(replies) == 0 {
		panic("llmtest.Sequence needs at least one reply")
	}
	var n atomic.Int64
	return func(ChatRequest) Reply {
		i := int(n.Add(1)) - 1
		return replies[min(i, len(replies)-1)]
	}
}

// Option configures a Server.
type Option func(*Server)

// NoAuth makes the server accept requests with any key or none, as Ollama does.
func NoAuth() Option { return func(s *Server) { s.Key = "" } }

// WithEmbedder replaces the server's embedding function (see Embed).
func WithEmbedder(f func(string) []float64) Option { return func(s *Server) { s.embed = f } }

// Server is a fake provider.
type Server struct {
	// Protocol is OpenAI, Anthropic or Gemini.
	Protocol string
	// BaseURL is what to give the adapter as llm.Options.BaseURL.
	BaseURL string
	// Key is the API key the server accepts; "" accepts any. By default it is a
	// fresh random key in the provider's format, so tests can check that it never
	// appears in an error.
	Key string
	// Disconnects receives one value each time a hanging reply saw its client go
	// away (buffered; extra values are dropped).
	Disconnects chan struct{}

	srv     *httptest.Server
	handler Handler
	embed   func(string) []float64
	count   atomic.Int64
	done    chan struct{}
	close   sync.Once

	mu       sync.Mutex
	recorded []ChatRequest
}

func newServer(tb testing.TB, protocol, keyPrefix string, h Handler, opts []Option, mux func(*Server) http.Handler) *Server {
	tb.Helper()
	s := &Server{
		Protocol:    protocol,
		Key:         keyPrefix + randomHex(16),
		Disconnects: make(chan struct{}, 64),
		handler:     h,
		embed:       Embed,
		done:        make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(mux(s))
	tb.Cleanup(s.Close)
	return s
}

// URL is the server's root, http://127.0.0.1:port.
func (s *Server) URL() string { return s.srv.URL }

// Count returns how many requests reached the handler (auth and path failures
// excluded).
func (s *Server) Count() int { return int(s.count.Load()) }

// Requests returns the last requests the handler saw (at most 1024), oldest first.
func (s *Server) Requests() []ChatRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ChatRequest(nil), s.recorded...)
}

// Close stops the server, releasing hanging replies first. It is registered with
// tb.Cleanup and safe to call again.
func (s *Server) Close() {
	s.close.Do(func() {
		close(s.done)
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

// dispatch numbers and records req, then asks the handler.
func (s *Server) dispatch(req ChatRequest) Reply {
	req.N = int(s.count.Add(1))
	s.mu.Lock()
	if len(s.recorded) == maxRecorded {
		s.recorded = append(s.recorded[:0], s.recorded[1:]...)
	}
	s.recorded = append(s.recorded, req)
	s.mu.Unlock()
	return s.handler(req)
}

// hold runs the waiting parts of a reply: Delay, then Hang. It returns false when
// the client went away; when the server closes first it aborts the connection, so
// that a hanging reply never turns into an empty answer.
func (s *Server) hold(r *http.Request, rep Reply) bool {
	if rep.Delay > 0 {
		t := time.NewTimer(rep.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return false
		case <-s.done:
			panic(http.ErrAbortHandler)
		}
	}
	if !rep.Hang {
		return true
	}
	select {
	case <-r.Context().Done():
		select {
		case s.Disconnects <- struct{}{}:
		default:
		}
		return false
	case <-s.done:
		panic(http.ErrAbortHandler)
	}
}

// decodeBody reads a JSON request body of at most maxRequestBytes.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decode body: %w", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeMalformed answers 200 with a JSON document cut in the middle.
func writeMalformed(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, `{"id": "broken", "choices": [{"message": {"content": "unterminated`)
}

func addHeaders(w http.ResponseWriter, h http.Header) {
	for k, vs := range h {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
}

// sse writes server-sent events, flushing each one.
type sse struct {
	s       *Server
	r       *http.Request
	w       http.ResponseWriter
	rc      *http.ResponseController
	newline string
}

func (s *Server) startSSE(w http.ResponseWriter, r *http.Request, newline string) *sse {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	return &sse{s: s, r: r, w: w, rc: http.NewResponseController(w), newline: newline}
}

// event writes one event; name "" writes a data-only event. v is marshalled
// unless it is a string, which is written raw.
func (e *sse) event(name string, v any) {
	var data string
	if s, ok := v.(string); ok {
		data = s
	} else {
		b, _ := json.Marshal(v)
		data = string(b)
	}
	var b strings.Builder
	if name != "" {
		b.WriteString("event: " + name + e.newline)
	}
	b.WriteString("data: " + data + e.newline + e.newline)
	_, _ = io.WriteString(e.w, b.String())
	_ = e.rc.Flush()
}

// cut ends a stream the way rep.Cut says, after its deltas were sent;
// errorEvent writes the protocol's in-stream error.
func (e *sse) cut(rep Reply, errorEvent func()) {
	switch rep.Cut {
	case CutDrop:
		// Abort mid-body: the client sees an unexpected EOF.
		_ = e.rc.Flush()
		panic(http.ErrAbortHandler)
	case CutError:
		errorEvent()
	case CutStall:
		e.s.hold(e.r, Reply{Hang: true})
	}
}

// deltas returns the streamed pieces of rep.
func (rep Reply) deltas() []string {
	if rep.Deltas != nil {
		return rep.Deltas
	}
	if rep.Text == "" {
		return nil
	}
	return strings.SplitAfter(rep.Text, " ")
}

// text returns the whole answer of rep.
func (rep Reply) text() string {
	if rep.Deltas != nil {
		return strings.Join(rep.Deltas, "")
	}
	return rep.Text
}

// usage returns rep.Usage or a word count of prompt and answer.
func (rep Reply) usage(req ChatRequest) llm.Usage {
	if rep.Usage != nil {
		return *rep.Usage
	}
	in := len(strings.Fields(req.System))
	for _, m := range req.Messages {
		in += len(strings.Fields(m.Content))
	}
	for _, s := range req.Inputs {
		in += len(strings.Fields(s))
	}
	return llm.Usage{InputTokens: in, OutputTokens: len(strings.Fields(rep.text()))}
}

// logprobs returns one log probability per piece.
func (rep Reply) logprobs(pieces []string) []llm.TokenLogprob {
	if rep.Logprobs != nil {
		return rep.Logprobs
	}
	out := make([]llm.TokenLogprob, len(pieces))
	for i, p := range pieces {
		out[i] = llm.TokenLogprob{Token: p, Logprob: -0.25}
	}
	return out
}

// streamPlan says how many deltas to send and whether the stream ends properly.
func (rep Reply) streamPlan() (pieces []string, complete bool) {
	pieces = rep.deltas()
	if rep.Cut == CutNone {
		return pieces, true
	}
	return pieces[:min(max(rep.CutAfter, 0), len(pieces))], false
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// contentText reads a message content that is a string or an array of
// {"type":"text","text":…} parts (both OpenAI and Anthropic accept either).
func contentText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", errors.New("content must be a string or an array of text parts")
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String(), nil
}
