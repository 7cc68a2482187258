package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"mirror/internal/apperr"
)

// decode reads a JSON body into a T. Malformed JSON is 400 invalid_json; a value of
// the wrong type is 422 validation_error naming the field (as FastAPI answers); a
// body past the limit is 413; a string holding a NUL byte is 422 (see noNUL).
// Unknown fields are ignored, as pydantic does.
func decode[T any](r *http.Request) (T, error) {
	var v T
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return v, &apperr.Error{Code: apperr.Invalid, Message: "Request body must be JSON (Content-Type: application/json).",
				Fields: []apperr.FieldError{{Field: "body", Message: "must be application/json"}}}
		}
	}
	dec := json.NewDecoder(r.Body)
	err := dec.Decode(&v)
	if err == nil {
		// One JSON value only: trailing data is malformed input, not ignored.
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("trailing data after the JSON value")
		}
	}
	if err == nil {
		return v, noNUL(v)
	}
	var mbe *http.MaxBytesError
	var ute *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &mbe):
		return v, apperr.Errorf(apperr.PayloadTooLarge, "Request body is larger than %d bytes.", mbe.Limit)
	case errors.As(err, &ute):
		field := ute.Field
		if field == "" {
			field = "body"
		}
		return v, apperr.Validation(apperr.FieldError{Field: field, Message: fmt.Sprintf("must be %s, not %s", jsonKind(ute.Type.Kind().String()), ute.Value)})
	case errors.Is(err, io.EOF):
		return v, apperr.Validation(apperr.FieldError{Field: "body", Message: "is required"})
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		return v, apperr.Wrap(err, apperr.InvalidJSON, "Request body is not valid JSON.")
	}
	return v, apperr.Wrap(err, apperr.InvalidJSON, "Request body is not valid JSON.")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	case "bool":
		return "a boolean"
	case "float64", "float32", "int", "int64", "int32":
		return "a number"
	case "ptr":
		return "a value of the documented type"
	}
	return "a " + goKind
}
