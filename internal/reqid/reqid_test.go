package reqid_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"mirror/internal/reqid"
)

func TestHandlerAddsTheRequestID(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(reqid.NewHandler(reqid.NewHandler(slog.NewTextHandler(&buf, nil))))
	ctx := reqid.With(context.Background(), "req-1")
	log.ErrorContext(ctx, "store failed")
	log.With("scan", "s1").InfoContext(ctx, "with attrs")
	log.Info("no context")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines: %q", len(lines), buf.String())
	}
	for i, want := range []int{1, 1, 0} {
		if got := strings.Count(lines[i], "request_id=req-1"); got != want {
			t.Errorf("line %d %q has the id %d times, want %d", i, lines[i], got, want)
		}
	}
}
