package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/google/uuid"

	"mirror/internal/apperr"
)

// net/http answers a request it cannot parse (an invalid header byte or name, a
// malformed Host, headers over MaxHeaderBytes, an unknown transfer coding, an
// unsupported HTTP version) by itself, before any handler runs, in plain text:
//
//	HTTP/1.1 400 Bad Request: invalid header value\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request: invalid header value
//
// http.Server has no hook for these answers (its ErrorLog does not even see them):
// conn.serve writes them with one fmt.Fprintf straight to the net.Conn that the
// Listener returned. ServeEnvelopeErrors therefore wraps the listener's
// connections and replaces that one write with the same status in the error
// envelope. To never touch a handler's own bytes, a connection rewrites only while
// no handler's response is under way: Server.ServeHTTP marks the connection busy
// (found through ConnContext), and the ConnState hook marks it free again at
// StateIdle, which net/http enters only after the response was flushed.

// ServeEnvelopeErrors sets srv's ConnContext and ConnState (calling any hooks
// already set) and returns ln wrapped, for srv.Serve: net/http's own refusals of
// malformed requests are then answered in the error envelope.
func ServeEnvelopeErrors(srv *http.Server, ln net.Listener, log *slog.Logger) net.Listener {
	prevCtx, prevState := srv.ConnContext, srv.ConnState
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if prevCtx != nil {
			ctx = prevCtx(ctx, c)
		}
		if ec, ok := c.(*envelopeConn); ok {
			ctx = context.WithValue(ctx, envelopeConnKey{}, ec)
		}
		return ctx
	}
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		if ec, ok := c.(*envelopeConn); ok && st == http.StateIdle {
			ec.busy.Store(false)
		}
		if prevState != nil {
			prevState(c, st)
		}
	}
	return &envelopeListener{Listener: ln, log: log}
}

type envelopeConnKey struct{}

// markBusy records that a handler is answering on r's connection.
func markBusy(r *http.Request) {
	if ec, ok := r.Context().Value(envelopeConnKey{}).(*envelopeConn); ok {
		ec.busy.Store(true)
	}
}

type envelopeListener struct {
	net.Listener
	log *slog.Logger
}

func (l *envelopeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &envelopeConn{Conn: c, log: l.log}, nil
}

type envelopeConn struct {
	net.Conn
	log  *slog.Logger
	busy atomic.Bool
}

// plainErrorHeaders follows the status line of every answer net/http writes by itself.
const plainErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

func (c *envelopeConn) Write(p []byte) (int, error) {
	if c.busy.Load() {
		return c.Conn.Write(p)
	}
	status, detail, ok := parsePlainError(p)
	if !ok {
		return c.Conn.Write(p)
	}
	if _, err := c.Conn.Write(envelopeResponse(status, detail, c.log)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// parsePlainError recognizes net/http's own error answer: "HTTP/1.1 NNN Text" with
// an optional ": detail", then exactly plainErrorHeaders.
func parsePlainError(p []byte) (status int, detail string, ok bool) {
	rest, found := bytes.CutPrefix(p, []byte("HTTP/1.1 "))
	if !found || len(rest) < 4 || rest[3] != ' ' {
		return 0, "", false
	}
	status, err := strconv.Atoi(string(rest[:3]))
	if err != nil || status < 400 || status > 599 {
		return 0, "", false
	}
	line, after, found := bytes.Cut(rest[4:], []byte("\r\n"))
	if !found || !bytes.HasPrefix(after, []byte(plainErrorHeaders[2:])) {
		return 0, "", false
	}
	text := http.StatusText(status)
	if text == "" || !bytes.HasPrefix(line, []byte(text)) {
		return 0, "", false
	}
	if d, ok := bytes.CutPrefix(line[len(text):], []byte(": ")); ok {
		detail = string(d)
	}
	return status, detail, true
}

// envelopeResponse is the whole HTTP answer for a request net/http refused.
func envelopeResponse(status int, detail string, log *slog.Logger) []byte {
	code, msg := apperr.BadRequest, "Malformed HTTP request."
	switch status {
	case http.StatusRequestHeaderFieldsTooLarge:
		code, msg = apperr.HeaderTooLarge, "The request's headers are too large."
	case http.StatusNotImplemented:
		code, msg = apperr.NotImplemented, "Unsupported transfer encoding."
	case http.StatusHTTPVersionNotSupported:
		code, msg = apperr.VersionRejected, "Unsupported HTTP version."
	}
	if detail != "" {
		// net/http's details are fixed strings ("invalid header value", "missing
		// required Host header"), never the request's bytes.
		msg = "Malformed HTTP request: " + detail + "."
	}
	id := uuid.NewString()
	log.Debug("malformed request refused by net/http", "status", status, "detail", detail, "request_id", id)
	body, _ := json.Marshal(errorBody{Error: errorDetail{Code: code, Message: msg, RequestID: id}})
	body = append(body, '\n')
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\n")
	b.WriteString("Content-Type: application/json\r\n")
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	b.WriteString("Connection: close\r\n")
	b.WriteString("Cache-Control: no-store\r\n")
	b.WriteString("X-Content-Type-Options: nosniff\r\n")
	b.WriteString("X-Request-ID: " + id + "\r\n\r\n")
	b.Write(body)
	return b.Bytes()
}
