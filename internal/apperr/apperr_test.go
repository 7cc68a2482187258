package apperr

import (
	"errors"
	"fmt"
	"testing"
)

func TestWithField(t *testing.T) {
	f := FieldError{Field: "target.model_id", Message: "is not an available model"}
	orig := Errorf(UnknownModel, "Model %q is unknown.", "x")
	got, ok := As(WithField(fmt.Errorf("resolve: %w", orig), UnknownModel, f))
	if !ok || got.Code != UnknownModel || got.Message != orig.Message || len(got.Fields) != 1 || got.Fields[0] != f {
		t.Fatalf("WithField = %+v", got)
	}
	if len(orig.Fields) != 0 {
		t.Error("WithField changed the original error")
	}
	other := Errorf(ModelContained, "contained")
	if err := WithField(other, UnknownModel, f); err != other {
		t.Errorf("an error with another code was changed: %v", err)
	}
	plain := errors.New("plain")
	if err := WithField(plain, UnknownModel, f); err != plain {
		t.Errorf("a non-domain error was changed: %v", err)
	}
	if err := WithField(nil, UnknownModel, f); err != nil {
		t.Errorf("nil became %v", err)
	}
}
