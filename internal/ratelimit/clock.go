package ratelimit

import (
	"sync/atomic"
	"time"
)

// wallClock reads the wall clock at half the cost of time.Now: it anchors a wall
// time together with its monotonic reading, and adds the monotonic time elapsed
// since (time.Since reads one clock, time.Now two; on a KVM guest that is ~30 ns of
// the ~200 ns budget of a decision). It re-anchors every second, so a step of the
// system clock (NTP) reaches the limiter within a second; between anchors it follows
// the monotonic clock, which the kernel slews with the wall clock.
type wallClock struct {
	anchor atomic.Pointer[clockAnchor]
}

type clockAnchor struct {
	mono time.Time // carries the monotonic reading
	wall int64     // mono's wall time, Unix nanoseconds
}

// reanchorAfter bounds how stale the wall offset may get.
const reanchorAfter = time.Second

func newWallClock() *wallClock {
	c := &wallClock{}
	c.reanchor()
	return c
}

func (c *wallClock) reanchor() time.Time {
	t := time.Now()
	c.anchor.Store(&clockAnchor{mono: t, wall: t.UnixNano()})
	return t
}

// Now returns the current wall time, without a monotonic reading.
func (c *wallClock) Now() time.Time {
	a := c.anchor.Load()
	elapsed := time.Since(a.mono)
	if elapsed < 0 || elapsed >= reanchorAfter {
		return c.reanchor().Round(0)
	}
	return time.Unix(0, a.wall+int64(elapsed))
}
