package scancli

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"mirror/internal/scan"
)

// isTerminal reports whether w is a terminal (a *os.File on a tty).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// colorWanted reports whether output to w may be coloured: w is a terminal, the user
// did not pass --no-color, NO_COLOR is unset or empty (no-color.org) and TERM is not
// "dumb".
func colorWanted(w io.Writer, noColorFlag bool, getenv func(string) string) bool {
	return !noColorFlag && getenv("NO_COLOR") == "" && getenv("TERM") != "dumb" && isTerminal(w)
}

// progress shows work done on stderr while a scan runs: a bar with done/total,
// elapsed time and the current step, only when stderr is a terminal. Its methods are
// safe for concurrent use and cheap when it is off.
type progress struct {
	mu    sync.Mutex
	bar   *progressbar.ProgressBar
	base  int // units finished by earlier inputs
	total int
	last  time.Time // last redraw
}

// redrawEvery bounds how often the bar is redrawn; a new total and the last unit
// are always drawn.
const redrawEvery = 100 * time.Millisecond

// newProgress returns a progress display on w, or an inert one when w is not a
// terminal or quiet is set. unit names what is counted ("files", "probes").
func newProgress(w io.Writer, quiet, color bool, unit string) *progress {
	if quiet || !isTerminal(w) {
		return &progress{}
	}
	width := 30
	if f, ok := w.(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols < 100 {
			width = max(10, cols-70)
		}
	}
	bar := progressbar.NewOptions(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(width),
		progressbar.OptionShowCount(),
		progressbar.OptionSetItsString(unit),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionEnableColorCodes(color),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionSetDescription(unit),
	)
	return &progress{bar: bar}
}

// update is a scan.ProgressFunc for one input: done of total units of that input.
func (p *progress) update(done, total int, step string) {
	if p.bar == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.base+total != p.total {
		p.total = p.base + total
		p.bar.ChangeMax(max(p.total, 1))
	} else if done < total && time.Since(p.last) < redrawEvery {
		return
	}
	p.last = time.Now()
	desc := scan.Printable(step)
	if r := []rune(desc); len(r) > 40 {
		desc = "…" + string(r[len(r)-39:])
	}
	p.bar.Describe(desc)
	_ = p.bar.Set(p.base + done)
}

// next marks the end of one input: later updates count on from here.
func (p *progress) next() {
	if p.bar == nil {
		return
	}
	p.mu.Lock()
	p.base = p.total
	p.mu.Unlock()
}

// finish clears the bar so the report starts on a clean line.
func (p *progress) finish() {
	if p.bar == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.bar.Finish()
	_ = p.bar.Clear()
}
