package ratelimit

import (
	"testing"
	"time"
)

// TestWallClockFollowsTheSystemClock brackets wallClock.Now between two time.Now
// readings (with a millisecond of slack for the rounding of the two clocks).
func TestWallClockFollowsTheSystemClock(t *testing.T) {
	c := newWallClock()
	for range 1000 {
		before := time.Now().Round(0)
		got := c.Now()
		after := time.Now().Round(0)
		if got.Before(before.Add(-time.Millisecond)) || got.After(after.Add(time.Millisecond)) {
			t.Fatalf("wallClock.Now() = %v, outside [%v, %v]", got, before, after)
		}
	}
}

// TestWallClockReanchors shows that the wall time comes from the anchor while it
// is fresh, and that a stale anchor is replaced by a new time.Now reading.
func TestWallClockReanchors(t *testing.T) {
	c := newWallClock()
	hourAhead := func(mono time.Time) *clockAnchor {
		return &clockAnchor{mono: mono, wall: mono.Add(time.Hour).UnixNano()}
	}
	c.anchor.Store(hourAhead(time.Now()))
	if got := time.Until(c.Now()); got < 59*time.Minute {
		t.Fatalf("fresh anchor: Now is %v ahead, want the anchor's hour", got)
	}
	c.anchor.Store(hourAhead(time.Now().Add(-reanchorAfter)))
	if got := time.Until(c.Now()); got > time.Minute {
		t.Fatalf("stale anchor: Now is %v ahead, want a fresh reading", got)
	}
	if got := time.Until(c.Now()); got > time.Minute {
		t.Fatalf("after re-anchoring: Now is %v ahead", got)
	}
}
