package llm

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode"

	"mirror/internal/apperr"
)

// maxMessageRunes bounds an upstream message kept in Error.Message.
const maxMessageRunes = 300

// defaultRateLimitRetryAfter is the Retry-After sent to clients when the upstream
// rate-limited us without saying for how long.
const defaultRateLimitRetryAfter = 5

// errAttemptTimeout is the cancel cause of an attempt that ran past Options.Timeout.
var errAttemptTimeout = errors.New("attempt timed out")

// apiFailure is what an adapter read from its SDK's API error: an upstream answer
// with an error status or an error event inside a stream.
type apiFailure struct {
	status     int
	message    string        // the provider's own text, not yet cleaned
	retryAfter time.Duration // from the body (Gemini's RetryInfo), if any
	kind       ErrorKind     // set when the body says more than the status
}

// failure classifies a failed attempt. ctx is the caller's context, actx the
// attempt's; api is the decoded upstream error if there was one; started says a
// stream's 2xx head arrived, so a broken connection means an incomplete answer.
func (c *core) failure(ctx, actx context.Context, meta *attemptMeta, err error, api *apiFailure, started bool) *Error {
	if ctx.Err() != nil {
		return contextError(c.provider, ctx, ctx.Err())
	}
	if errors.Is(context.Cause(actx), errAttemptTimeout) {
		return &Error{Provider: c.provider, Kind: KindTimeout, Err: context.DeadlineExceeded,
			Message: fmt.Sprintf("no answer within %s", c.timeout)}
	}
	status, retryAfter, responded := meta.get()
	if api != nil {
		e := &Error{Provider: c.provider, Status: api.status, Kind: api.kind,
			Message: c.clean(api.message), RetryAfter: max(api.retryAfter, retryAfter)}
		if e.Kind == "" {
			e.Kind = kindOfStatus(api.status)
		}
		if e.Message == "" {
			e.Message = strings.ToLower(http.StatusText(api.status))
		}
		return e
	}
	// Every body byte passes through limitedBody, so bodyErr is the only
	// trustworthy sign of a broken connection after the head: the SDKs report a
	// truncated document as io.ErrUnexpectedEOF whether the wire or the JSON was cut.
	bodyErr := meta.bodyError()
	e := &Error{Provider: c.provider, Err: safeCause(cmp.Or(bodyErr, err))}
	switch ok := responded && status >= 200 && status < 300; {
	case errors.Is(err, errResponseTooLarge) || errors.Is(bodyErr, errResponseTooLarge):
		e.Kind, e.Message = KindMalformed, "the answer exceeds the response size limit"
		e.Err = errResponseTooLarge
	case isBlocked(err): // also after a redirect: the 3xx head was seen, its target refused
		e.Kind, e.Message = KindBlocked, "the address is not allowed: "+c.clean(innermost(err).Error())
	case started && bodyErr != nil:
		e.Kind, e.Message = KindIncomplete, "the stream broke off before the answer was complete"
	case ok && bodyErr != nil:
		e.Kind, e.Message = KindConnection, "the connection broke while reading the answer"
	case ok:
		e.Kind, e.Message = KindMalformed, malformedReason(err)
		e.Err = nil // the whole body arrived; the SDK's complaint is about its content
	case responded && status >= 300 && status < 400:
		// Redirects are never followed (a redirect could lead a request, and its
		// key, anywhere); asking again would only be redirected again.
		e.Kind, e.Status = KindBadRequest, status
		e.Message = fmt.Sprintf("the provider redirected the request (%d %s); redirects are not followed, so configure the final URL",
			status, strings.ToLower(http.StatusText(status)))
	case responded:
		e.Kind, e.Status, e.Message = kindOfStatus(status), status, strings.ToLower(http.StatusText(status))
	default:
		e.Kind, e.Message = KindConnection, "could not reach the provider: "+c.clean(innermost(err).Error())
	}
	return e
}

// malformedReason says in a few words why a complete 2xx body could not be read. The
// SDKs' own texts name their internals ("deserializeUnaryResponse", destination
// types) and may quote the upstream body, so they stay in the logs.
func malformedReason(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("a JSON %s where %s was expected", typ.Value, cmp.Or(typ.Field, "another type"))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON document is cut short"
	case strings.Contains(strings.ToLower(err.Error()), "content-type"):
		return "the body is not JSON"
	}
	return "the body could not be decoded"
}

// isBlocked reports whether a dial was refused by a network policy: an error in
// the chain with a Blocked() bool method (ssrf.BlockedError) that says so. Such a
// refusal would repeat on every attempt, so it is not retried.
func isBlocked(err error) bool {
	var b interface{ Blocked() bool }
	return errors.As(err, &b) && b.Blocked()
}

// kindOfStatus maps an upstream HTTP status to an ErrorKind.
func kindOfStatus(status int) ErrorKind {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return KindAuth
	case status == http.StatusTooManyRequests:
		return KindRateLimited
	case status == http.StatusRequestTimeout || status >= 500:
		return KindServer
	case status >= 400:
		return KindBadRequest
	}
	return KindServer // an error event inside a 200 stream
}

// safeCause returns the part of err worth keeping in Error.Err: a sentinel or a
// network error whose text holds no URL, header or body. SDK errors are dropped
// because their text may quote request URLs and upstream bodies.
func safeCause(err error) error {
	for _, target := range []error{context.Canceled, context.DeadlineExceeded, errResponseTooLarge, io.ErrUnexpectedEOF, io.EOF} {
		if errors.Is(err, target) {
			return target
		}
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return op
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return syn
	}
	return nil
}

// innermost unwraps single-error chains down to the root cause, whose text is
// the useful part ("connect: connection refused") without the URL around it.
func innermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		if _, isOp := err.(*net.OpError); isOp {
			return err // "dial tcp 127.0.0.1:1: connect: connection refused" says it best
		}
		err = next
	}
}

// secretPattern matches credentials in free text: bearer tokens, vendor-prefixed
// keys (OpenAI and OpenRouter sk-, Groq gsk_, xAI xai-, Hugging Face hf_), Google API
// keys, and key=, x-api-key / x-goog-api-key values.
var secretPattern = regexp.MustCompile(`(?i)(bearer\s+)[^\s"',;]+|\b(?:sk|gsk|xai|hf)[_-][a-z0-9_\-*.]{4,}|\baiza[0-9a-z_\-]{16,}|((?:api[_-]?)?key\s*[=:]\s*)[^\s"',;&]+|(x-(?:goog-)?api-key\s*[=:]?\s*)[^\s"',;]+`)

// wordPattern is a run of characters that a key could be part of.
var wordPattern = regexp.MustCompile(`[^\s"'\x60,;()<>\[\]{}]+`)

// keyPrefixRunes is how much of the configured key a word may share before it is
// taken for (part of) the key: providers echo keys cut short ("sk-abc…") or masked
// ("gsk_GROQ****bbbb").
const keyPrefixRunes = 8

// scrub removes key, any word that starts like it, and anything shaped like a
// credential, from s.
func scrub(s, key string) string {
	if len(key) >= 4 {
		s = strings.ReplaceAll(s, key, "[redacted]")
		n := min(keyPrefixRunes, len(key))
		s = wordPattern.ReplaceAllStringFunc(s, func(w string) string {
			if len(w) >= n && w[:n] == key[:n] {
				return "[redacted]"
			}
			return w
		})
	}
	return secretPattern.ReplaceAllStringFunc(s, func(m string) string {
		sub := secretPattern.FindStringSubmatch(m)
		for _, prefix := range sub[1:] {
			if prefix != "" {
				return prefix + "[redacted]"
			}
		}
		return "[redacted]"
	})
}

// clean makes an upstream message safe to show: credentials scrubbed, control
// characters and runs of space collapsed, at most maxMessageRunes long.
func (c *core) clean(s string) string { return cleanMessage(s, c.key) }

func cleanMessage(s, key string) string {
	s = strings.ToValidUTF8(s, "")
	s = scrub(s, key)
	var b strings.Builder
	runes, space := 0, false
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = b.Len() > 0
			continue
		}
		if runes >= maxMessageRunes {
			b.WriteString("…")
			break
		}
		if space {
			b.WriteByte(' ')
			runes++
			space = false
		}
		b.WriteRune(r)
		runes++
	}
	// Scrubbing came first, so the cut can only shorten a "[redacted]", never
	// expose part of a key.
	return b.String()
}

// AppError maps a provider failure to the error the API sends:
//
//   - not configured: 503 provider_not_configured
//   - upstream 429 after retries: upstream_rate_limited with RetryAfter in seconds
//     (the upstream's, or 5 when it gave none)
//   - timeout: upstream_timeout (504)
//   - upstream 4xx, 5xx, connection, malformed or incomplete answers:
//     upstream_error (502) naming the provider, with its cleaned message
//   - a request Mirror does not send that way (tools in a stream):
//     not_implemented (501), nothing having been sent
//
// It returns nil when err is nil, is not an *Error, or is a cancellation (the
// caller went away): return those unchanged, as in
//
//	if ae := llm.AppError(err); ae != nil {
//		return ae
//	}
//	return err
func AppError(err error) *apperr.Error {
	var e *Error
	if !errors.As(err, &e) || e.Kind == KindCanceled {
		return nil
	}
	p := e.Provider
	msg := func(format string, args ...any) string {
		s := fmt.Sprintf(format, args...)
		if e.Message != "" {
			s += ": " + e.Message
		}
		if strings.HasSuffix(s, ".") || strings.HasSuffix(s, "!") || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "…") {
			return s
		}
		return s + "."
	}
	status := ""
	if e.Status != 0 {
		status = fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	out := &apperr.Error{Code: apperr.UpstreamError, Err: e}
	switch e.Kind {
	case KindNotConfigured:
		out.Code, out.Message = apperr.ProviderNotConfigured, msg("Provider %s is not configured", p)
	case KindRateLimited:
		out.Code, out.Message = apperr.UpstreamRateLimited, fmt.Sprintf("Provider %s is rate limiting requests; retry later.", p)
		out.RetryAfter = defaultRateLimitRetryAfter
		if e.RetryAfter > 0 {
			out.RetryAfter = int(math.Ceil(e.RetryAfter.Seconds()))
		}
	case KindTimeout:
		out.Code, out.Message = apperr.UpstreamTimeout, fmt.Sprintf("Provider %s did not answer in time.", p)
	case KindAuth:
		out.Message = msg("Provider %s rejected the credentials%s", p, status)
	case KindBadRequest:
		out.Message = msg("Provider %s rejected the request%s", p, status)
	case KindServer:
		out.Message = msg("Provider %s failed%s", p, status)
	case KindConnection:
		out.Message = msg("Provider %s could not be reached", p)
	case KindBlocked:
		out.Message = msg("Provider %s is at an address scans may not reach", p)
	case KindMalformed:
		out.Message = msg("Provider %s sent an unreadable answer", p)
	case KindIncomplete:
		out.Message = msg("Provider %s stopped before the answer was complete", p)
	case KindUnsupported:
		out.Code, out.Message = apperr.NotImplemented, msg("Provider %s was not asked", p)
	default:
		out.Message = msg("Provider %s failed", p)
	}
	return out
}

// maxEventBytes bounds one upstream JSON object decoded outside the SDKs.
const maxEventBytes = 1 << 20

// decodeBounded unmarshals an upstream JSON object of at most maxEventBytes.
func decodeBounded(data []byte, v any) error {
	if len(data) > maxEventBytes {
		return fmt.Errorf("upstream JSON of %d bytes exceeds %d", len(data), maxEventBytes)
	}
	return json.Unmarshal(data, v)
}
