package httpapi

import (
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"mirror/internal/apperr"
)

// A NUL byte (U+0000) is never meaningful in Mirror's text, and Postgres cannot
// store one in TEXT (SQLite can): left alone it reached the database as a 503, on
// one store and not the other, and /generate_response called (and paid for) the
// model first. So it is refused, 422 validation_error, before any work, in two
// places every input passes: rejectNUL for the path and the query, and decode (and
// the login form) for bodies, through noNUL.

// rejectNUL refuses a request whose path or query holds a NUL byte, raw or
// percent-encoded.
func (s *Server) rejectNUL(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.ContainsRune(r.URL.Path, 0), strings.Contains(r.URL.RawPath, "%00"):
			s.error(w, r, nulError("path"))
		case strings.ContainsRune(r.URL.RawQuery, 0), strings.Contains(r.URL.RawQuery, "%00"):
			s.error(w, r, nulError("query"))
		default:
			next.ServeHTTP(w, r)
		}
	})
}

func nulError(field string) error {
	return apperr.Validation(apperr.FieldError{Field: field, Message: "must not contain a NUL character (\\u0000)"})
}

// noNUL returns a validation_error naming the first string in v (a decoded
// request: structs, pointers, slices, maps of them) that holds a NUL byte.
func noNUL(v any) error {
	if field, ok := findNUL(reflect.ValueOf(v), ""); ok {
		return nulError(cmpOr(field, "body"))
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// findNUL walks v; depth is bounded by the request types' own nesting.
func findNUL(v reflect.Value, path string) (string, bool) {
	switch v.Kind() {
	case reflect.String:
		return path, strings.ContainsRune(v.String(), 0)
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return "", false
		}
		return findNUL(v.Elem(), path)
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if p, ok := findNUL(v.Field(i), join(path, name)); ok {
				return p, true
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if p, ok := findNUL(v.Index(i), path+"["+strconv.Itoa(i)+"]"); ok {
				return p, true
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if k := it.Key(); k.Kind() == reflect.String && strings.ContainsRune(k.String(), 0) {
				return path, true
			}
			if p, ok := findNUL(it.Value(), join(path, it.Key().String())); ok {
				return p, true
			}
		}
	}
	return "", false
}
