package ratelimit

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseSpec(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		spec string
		want []Window
	}{
		{"5/minute,30/hour", []Window{{5, time.Minute}, {30, time.Hour}}},
		{"30/hour,5/minute", []Window{{5, time.Minute}, {30, time.Hour}}}, // sorted
		{"1/second", []Window{{1, time.Second}}},
		{"1000/day", []Window{{1000, day}}},
		{" 5 / minute , 30/ hour ", []Window{{5, time.Minute}, {30, time.Hour}}},
		{"5 per minute", []Window{{5, time.Minute}}},
		{"5 PER Minute;30 per hours", []Window{{5, time.Minute}, {30, time.Hour}}},
		{"5/minutes", []Window{{5, time.Minute}}},
		{"5/min,10/sec,20/hr,40/days", []Window{{10, time.Second}, {5, time.Minute}, {20, time.Hour}, {40, day}}},
		{"100/5minutes", []Window{{100, 5 * time.Minute}}},
		{"100 per 5 minutes", []Window{{100, 5 * time.Minute}}},
		{"100/90seconds", []Window{{100, 90 * time.Second}}},
		{"1/366days", []Window{{1, MaxPeriod}}},
		{"1000000000/second", []Window{{MaxLimit, time.Second}}},
		{"007/minute", []Window{{7, time.Minute}}},
		{"5/minute,30/hour,300/day,2/second", []Window{{2, time.Second}, {5, time.Minute}, {30, time.Hour}, {300, day}}},
	}
	for _, tt := range tests {
		got, err := ParseSpec(tt.spec)
		if err != nil {
			t.Errorf("ParseSpec(%q): %v", tt.spec, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseSpec(%q) (-want +got):\n%s", tt.spec, diff)
		}
	}
}

func TestParseSpecErrors(t *testing.T) {
	tests := []struct {
		spec string
		want string // substring of the error, naming the offending part
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"5/minute,", `part 2 "": empty`},
		{",5/minute", `part 1 "": empty`},
		{"5/minute,,30/hour", `part 2 "": empty`},
		{"5/minute, ,30/hour", `part 2 "": empty`},
		{"0/minute", `part 1 "0/minute": count 0 is out of range`},
		{"-5/minute", `part 1 "-5/minute": the count must be a positive integer`},
		{"+5/minute", `part 1 "+5/minute": the count must be a positive integer`},
		{"five/minute", "the count must be a positive integer"},
		{"5.5/minute", `want "/" or "per"`},
		{"1000000001/second", "count 1000000001 is out of range"},
		{"99999999999999999999999/minute", "count 99999999999999999999… is too large"},
		{"5/fortnight", `part 1 "5/fortnight": unknown unit "fortnight"`},
		{"5/m", `unknown unit "m"`},
		{"5/month", `unknown unit "month"`},
		{"5/", `unknown unit ""`},
		{"5", `want "/" or "per"`},
		{"5 minute", `want "/" or "per"`},
		{"5 perminute", `want "/" or "per"`},
		{"5/0minutes", "unit multiple 0 is out of range"},
		{"5/367days", "window is longer than"},
		{"5/99999999999999999seconds", "unit multiple"},
		{"5/minute,30/hour,1/60seconds", `part 3 "1/60seconds": a window of 1m0s is already given as "5/minute"`},
		{"1/second,1/minute,1/hour,1/day,1/2days", "5 windows, at most 4"},
		{"5/minute extra", `unknown unit "minute extra"`},
		{strings.Repeat("1", MaxSpecLen+1), "at most 256 are allowed"},
	}
	for _, tt := range tests {
		_, err := ParseSpec(tt.spec)
		if err == nil {
			t.Errorf("ParseSpec(%q) = nil error, want %q", tt.spec, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseSpec(%q) error %q, want it to contain %q", tt.spec, err, tt.want)
		}
	}
}

func TestWindowStringRoundTrip(t *testing.T) {
	for _, spec := range []string{"5/minute", "100/5minutes", "3/90seconds", "1/day", "7/2hours", "4/second"} {
		ws, err := ParseSpec(spec)
		if err != nil {
			t.Fatalf("ParseSpec(%q): %v", spec, err)
		}
		if got := FormatSpec(ws); got != spec {
			t.Errorf("FormatSpec(ParseSpec(%q)) = %q", spec, got)
		}
	}
}

func TestValidate(t *testing.T) {
	bad := [][]Window{
		nil,
		{{0, time.Minute}},
		{{MaxLimit + 1, time.Minute}},
		{{1, 1500 * time.Millisecond}},
		{{1, 0}},
		{{1, MaxPeriod + 24*time.Hour}},
		{{1, time.Minute}, {2, time.Minute}},
		{{1, time.Second}, {1, time.Minute}, {1, time.Hour}, {1, 24 * time.Hour}, {1, 48 * time.Hour}},
	}
	for _, ws := range bad {
		if err := validate(ws); err == nil {
			t.Errorf("validate(%v) = nil, want an error", ws)
		}
	}
}

// FuzzParseSpec checks that any input is either refused or parsed into windows that
// are valid and survive a round trip through FormatSpec.
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"5/minute,30/hour", "5 per minute", "100/5minutes", "", ",", "0/minute",
		"99999999999999999999/second", "5/fortnight", "1/366days;2/sec", "1 per 2 per 3 minutes"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ws, err := ParseSpec(s)
		if err != nil {
			if len(err.Error()) > 600 { // quoted parts are cut to 48 bytes (4 when escaped)
				t.Fatalf("error of %d bytes for a %d-byte spec", len(err.Error()), len(s))
			}
			return
		}
		if len(s) > MaxSpecLen {
			t.Fatalf("accepted a %d-byte spec", len(s))
		}
		if err := validate(ws); err != nil {
			t.Fatalf("ParseSpec(%q) = %v, invalid: %v", s, ws, err)
		}
		again, err := ParseSpec(FormatSpec(ws))
		if err != nil {
			t.Fatalf("ParseSpec(FormatSpec(%v)): %v", ws, err)
		}
		if diff := cmp.Diff(ws, again); diff != "" {
			t.Fatalf("round trip of %q (-first +second):\n%s", s, diff)
		}
	})
}
