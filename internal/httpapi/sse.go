package httpapi

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"
)

// heartbeatEvery is how often an idle stream gets a comment line, so proxies and
// browsers keep the connection open (API.md: every 15 s).
const heartbeatEvery = 15 * time.Second

func wantsEventStream(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "text/event-stream" {
			return true
		}
	}
	return false
}

// eventStream writes server-sent events. Headers are sent lazily, with the first
// event or heartbeat, so an error found before anything was streamed can still be an
// ordinary error response with its own status.
type eventStream struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	mu   sync.Mutex
	sent bool
	done chan struct{}
	once sync.Once
}

func newEventStream(w http.ResponseWriter, r *http.Request) *eventStream {
	s := &eventStream{w: w, rc: http.NewResponseController(w), done: make(chan struct{})}
	go func() {
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = s.write(": heartbeat\n\n") // a gone client fails the next event send too
			case <-s.done:
				return
			case <-r.Context().Done():
				return
			}
		}
	}()
	return s
}

func (s *eventStream) started() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

func (s *eventStream) write(chunk string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.sent {
		h := s.w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
		s.w.WriteHeader(http.StatusOK)
		s.sent = true
	}
	if _, err := fmt.Fprint(s.w, chunk); err != nil {
		return err
	}
	return s.rc.Flush()
}

// send writes one event whose data is v as JSON (one line: JSON has no raw newlines).
func (s *eventStream) send(event string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.write("event: " + event + "\ndata: " + string(b) + "\n\n")
}

func (s *eventStream) stop() { s.once.Do(func() { close(s.done) }) }
