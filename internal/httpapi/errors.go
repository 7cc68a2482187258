package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"mirror/internal/apperr"
	"mirror/internal/llm"
)

// statusOf is the one table from domain error codes to HTTP statuses.
var statusOf = map[apperr.Code]int{
	apperr.Invalid:               http.StatusUnprocessableEntity,
	apperr.InvalidJSON:           http.StatusBadRequest,
	apperr.NotFound:              http.StatusNotFound,
	apperr.MethodNotAllowed:      http.StatusMethodNotAllowed,
	apperr.Conflict:              http.StatusConflict,
	apperr.UnknownModel:          http.StatusUnprocessableEntity,
	apperr.ProviderNotConfigured: http.StatusServiceUnavailable,
	apperr.ModelContained:        http.StatusConflict,
	apperr.RateLimited:           http.StatusTooManyRequests,
	apperr.RateLimiterDown:       http.StatusServiceUnavailable,
	apperr.PayloadTooLarge:       http.StatusRequestEntityTooLarge,
	apperr.QuotaExceeded:         http.StatusRequestEntityTooLarge,
	apperr.Unauthorized:          http.StatusUnauthorized,
	apperr.InvalidCredentials:    http.StatusUnauthorized,
	apperr.Forbidden:             http.StatusForbidden,
	apperr.BadHost:               http.StatusBadRequest,
	apperr.Unavailable:           http.StatusServiceUnavailable,
	apperr.UpstreamError:         http.StatusBadGateway,
	apperr.UpstreamRateLimited:   http.StatusServiceUnavailable,
	apperr.UpstreamTimeout:       http.StatusGatewayTimeout,
	apperr.Internal:              http.StatusInternalServerError,
	apperr.BadRequest:            http.StatusBadRequest,
	apperr.HeaderTooLarge:        http.StatusRequestHeaderFieldsTooLarge,
	apperr.NotImplemented:        http.StatusNotImplemented,
	apperr.VersionRejected:       http.StatusHTTPVersionNotSupported,
}

type errorBody struct {
	Error errorDetail `json:"error"`
	// GenerationID names the incomplete generation stored when a stream broke
	// after text was sent (the event: error of POST /generate_response only).
	GenerationID string `json:"generation_id,omitempty"`
}

type errorDetail struct {
	Code      apperr.Code         `json:"code"`
	Message   string              `json:"message"`
	RequestID string              `json:"request_id"`
	Details   []apperr.FieldError `json:"details,omitempty"`
}

// toAppError turns any error into the *apperr.Error sent to the client. Errors that
// are not domain errors become a generic internal_error: their text is logged, never
// sent.
func toAppError(err error) *apperr.Error {
	// AppError is nil for a canceled call; that case falls through to the
	// context checks below (assigning its typed nil to err made apperr.As find a nil
	// *apperr.Error, and every client that left mid-generation panicked the handler).
	if ae := llm.AppError(err); ae != nil {
		return ae
	}
	if e, ok := apperr.As(err); ok && e != nil {
		return e
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return apperr.Errorf(apperr.PayloadTooLarge, "Request body is larger than %d bytes.", mbe.Limit)
	case errors.Is(err, context.DeadlineExceeded):
		return apperr.Wrap(err, apperr.UpstreamTimeout, "The request took too long.")
	}
	return apperr.Wrap(err, apperr.Internal, "An unexpected error occurred.")
}

// error writes err in the envelope of API.md and logs it once: server-side failures
// at error level with their cause, client errors at debug.
func (s *Server) error(w http.ResponseWriter, r *http.Request, err error) {
	if clientGone(r, err) {
		s.log.DebugContext(r.Context(), "client went away", "error", err)
		return // nobody reads an answer
	}
	e := toAppError(err)
	status, ok := statusOf[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	ctx := r.Context()
	if status >= 500 {
		s.log.ErrorContext(ctx, "request failed", "status", status, "code", e.Code, "error", err)
	} else {
		s.log.DebugContext(ctx, "request refused", "status", status, "code", e.Code, "error", err)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	s.metrics.errors.WithLabelValues(string(e.Code)).Inc()
	writeJSON(w, status, envelope(r, e))
}

// clientGone reports whether err is the request's own cancellation: the client
// closed the connection.
func clientGone(r *http.Request, err error) bool {
	return errors.Is(err, context.Canceled) && r.Context().Err() != nil
}

func envelope(r *http.Request, e *apperr.Error) errorBody {
	msg := e.Message
	if e.Code == apperr.Internal {
		msg = "An unexpected error occurred."
	}
	return errorBody{Error: errorDetail{Code: e.Code, Message: msg, RequestID: requestID(r.Context()), Details: e.Fields}}
}

// writeJSON writes v with status. Encoding errors can only come from a broken
// connection at this point, so they are not reported.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
