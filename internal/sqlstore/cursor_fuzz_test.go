package sqlstore

import (
	"testing"
	"time"

	"mirror/internal/apperr"
)

// FuzzAfterCursor feeds the list routes' cursor parser any client text: it is
// either refused as a validation_error or becomes the keyset condition with its
// three arguments; a cursor a page handed out always comes back as its position.
func FuzzAfterCursor(f *testing.F) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 678000, time.UTC)
	_, good := page([]int{1, 2}, 1, func(int) (time.Time, string) { return at, "id-1" })
	for _, s := range []string{good, "", "e30", "eyJ0IjoiMjAyNi0wMS0wMlQwMzowNDowNVoiLCJpIjoieCJ9", "!!!", "bm90IGEgY3Vyc29y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cursor string) {
		cond, args, err := afterCursor(cursor)
		if err != nil {
			if apperr.CodeOf(err) != apperr.Invalid {
				t.Fatalf("%q: %v is not a validation_error", cursor, err)
			}
			return
		}
		if cond == "" || len(args) != 3 {
			t.Fatalf("%q: condition %q with %d args", cursor, cond, len(args))
		}
		if cursor == good && (!args[0].(time.Time).Equal(at) || args[2] != "id-1") {
			t.Fatalf("a page's own cursor decodes to %v", args)
		}
	})
}
