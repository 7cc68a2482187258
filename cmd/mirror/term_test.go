package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/creack/pty"
)

// runOnTerminal runs `mirror args…` with stdout and stderr on a pseudo-terminal
// and returns everything the terminal received.
func runOnTerminal(t *testing.T, env map[string]string, args ...string) (int, string) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 160}); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(&got, ptmx) // ends with EIO once tty is closed
	}()
	code := run(context.Background(), args, func(k string) string { return env[k] }, tty, tty)
	tty.Close()
	<-done
	return code, got.String()
}

// manyFiles makes a folder of malicious pickles so a scan has files to count.
func manyFiles(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		p := filepath.Join(dir, "m"+string(rune('a'+i))+".pkl")
		if err := os.WriteFile(p, []byte("cos\nsystem\n(S'id'\ntR."), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestTerminalShowsProgressAndColour(t *testing.T) {
	dir := manyFiles(t, 5)
	code, out := runOnTerminal(t, map[string]string{"TERM": "xterm"}, "scan", dir)
	if code != 1 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	// The progress bar: a count of files, elapsed time, redrawn in place with \r.
	if !strings.Contains(out, "files") || !strings.Contains(out, "\r") || !strings.Contains(out, "0s") || !strings.Contains(out, "/5") {
		t.Errorf("no progress on the terminal:\n%q", out)
	}
	if !strings.Contains(out, "\x1b[91mCRITICAL") {
		t.Errorf("no colour on the terminal:\n%q", out)
	}
	if !strings.Contains(out, "Scanned (5):") {
		t.Errorf("no file list:\n%q", out)
	}
}

func TestTerminalHonoursNoColor(t *testing.T) {
	dir := manyFiles(t, 2)
	for name, c := range map[string]struct {
		env  map[string]string
		args []string
	}{
		"NO_COLOR":   {map[string]string{"TERM": "xterm", "NO_COLOR": "1"}, []string{"scan", dir}},
		"--no-color": {map[string]string{"TERM": "xterm"}, []string{"scan", "--no-color", dir}},
		"TERM=dumb":  {map[string]string{"TERM": "dumb"}, []string{"scan", dir}},
	} {
		t.Run(name, func(t *testing.T) {
			code, out := runOnTerminal(t, c.env, c.args...)
			if code != 1 {
				t.Fatalf("exit %d:\n%s", code, out)
			}
			if strings.Contains(out, "\x1b[9") || strings.Contains(out, "\x1b[3") {
				t.Errorf("colour despite %s:\n%q", name, out)
			}
			if !strings.Contains(out, "CRITICAL") {
				t.Errorf("no table:\n%q", out)
			}
		})
	}
}

func TestTerminalQuietHasNoProgress(t *testing.T) {
	dir := manyFiles(t, 2)
	code, out := runOnTerminal(t, map[string]string{"TERM": "xterm", "NO_COLOR": "1"}, "scan", "--quiet", dir)
	if code != 1 || strings.Contains(out, "\r\x1b") || strings.Contains(out, "/2") {
		t.Errorf("exit %d, progress despite --quiet:\n%q", code, out)
	}
}
