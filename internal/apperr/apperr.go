// Package apperr defines the error codes of Mirror's domain. Domain packages return
// *Error values carrying a Code; the HTTP layer maps each Code to a status in one table.
// It imports only the standard library so every package may depend on it.
package apperr

import (
	"errors"
	"fmt"
)

// Code is a machine-readable error code, sent to clients as error.code.
type Code string

// The codes of API.md. Adding one means adding its status in httpapi's table.
const (
	Invalid               Code = "validation_error"
	InvalidJSON           Code = "invalid_json"
	NotFound              Code = "not_found"
	MethodNotAllowed      Code = "method_not_allowed"
	Conflict              Code = "conflict"
	UnknownModel          Code = "unknown_model"
	ProviderNotConfigured Code = "provider_not_configured"
	ModelContained        Code = "model_contained"
	RateLimited           Code = "rate_limited"
	RateLimiterDown       Code = "rate_limiter_unavailable"
	PayloadTooLarge       Code = "payload_too_large"
	QuotaExceeded         Code = "quota_exceeded"
	Unauthorized          Code = "unauthorized"
	InvalidCredentials    Code = "invalid_credentials"
	Forbidden             Code = "forbidden"
	BadHost               Code = "invalid_host"
	Unavailable           Code = "service_unavailable"
	UpstreamError         Code = "upstream_error"
	UpstreamRateLimited   Code = "upstream_rate_limited"
	UpstreamTimeout       Code = "upstream_timeout"
	Internal              Code = "internal_error"
	// The codes of requests that net/http refuses before any handler runs
	// (httpapi's ServeEnvelopeErrors puts them in the envelope).
	BadRequest      Code = "bad_request"
	HeaderTooLarge  Code = "request_header_too_large"
	NotImplemented  Code = "not_implemented"
	VersionRejected Code = "http_version_not_supported"
)

// FieldError names one invalid field of a request, for validation_error details.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is a domain error with a client-safe message. Err, if set, is the underlying
// cause: it is logged, never sent to clients.
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
	// RetryAfter, when positive, is sent as the Retry-After header (seconds).
	RetryAfter int
	Err        error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a formatted client-safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with code and message whose cause is err.
func Wrap(err error, code Code, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// Validation returns a validation_error listing the invalid fields.
func Validation(fields ...FieldError) *Error {
	return &Error{Code: Invalid, Message: "Request is invalid.", Fields: fields}
}

// CodeOf returns the Code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// As returns the first *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
