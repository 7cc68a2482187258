package httpapi

import (
	"io"
	"net/http"
	"time"
)

// uploadProgressBytes is how much of an upload must arrive within each
// BODY_READ_TIMEOUT for the read to go on: about 2 KiB/s at the default 30 s.
const uploadProgressBytes = 64 << 10

// bodyDeadline bounds how long a request body may take to arrive (slowloris on
// the body: a client that declares a body and sends it a byte at a time would
// hold its connection and goroutine for hours). A body capped by
// MAX_REQUEST_BODY_BYTES must arrive within BODY_READ_TIMEOUT; an upload, which may
// rightly take long, must send at least uploadProgressBytes in each such span. The
// deadline is the connection's own read deadline (http.ResponseController), so it
// also bounds what the server reads of a body no handler wanted (GET /health with
// a body): past it the read fails, the answer is sent and the connection closed.
// http.Server.ReadTimeout cannot do this: it would cut every upload at one length
// of time.
func (s *Server) bodyDeadline(next http.Handler) http.Handler {
	timeout := s.opts.BodyReadTimeout
	if timeout <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(timeout)); err != nil {
			next.ServeHTTP(w, r) // not a connection with deadlines (a test recorder)
			return
		}
		r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc, timeout: timeout, upload: isUpload(r)}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the read deadline once the whole body has arrived: the
// server then watches the connection for the client going away, and a deadline
// left behind would read as the client leaving (cancelling a long answer, such as
// a streamed generation). For an upload it moves the deadline forward each time
// another uploadProgressBytes have arrived.
type deadlineBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	upload  bool
	since   int
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.since += n
	switch {
	case err == io.EOF:
		_ = b.rc.SetReadDeadline(time.Time{})
	case b.upload && b.since >= uploadProgressBytes:
		b.since = 0
		_ = b.rc.SetReadDeadline(time.Now().Add(b.timeout))
	}
	return n, err
}
