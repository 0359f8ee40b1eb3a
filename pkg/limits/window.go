package limits

import (
	"strconv"
	"time"
)

// Window is a fixed window: a calendar unit as Kong's rate-limiting counts
// it (second, minute, hour, day, month, year; UTC, months and years by the
// calendar), or a size in seconds aligned to the Unix epoch, as
// ai-rate-limiting-advanced's window_size.
type Window struct {
	Unit string // "second" … "year", or "" for Seconds
	// Seconds is the size; for months and years the nominal one Kong uses
	// (30 and 365 days), which only weighs sliding windows.
	Seconds int64
}

// Kong's periods, smallest first, with their nominal sizes
// (kong/plugins/rate-limiting/expiration.lua).
var units = []Window{
	{"second", 1}, {"minute", 60}, {"hour", 3600}, {"day", 86400},
	{"month", 2592000}, {"year", 31536000},
}

// Units lists Kong's rate-limiting periods, smallest first.
func Units() []string {
	out := make([]string, len(units))
	for i, u := range units {
		out[i] = u.Unit
	}
	return out
}

// UnitWindow is the window of a Kong period name; ok is false for an
// unknown name.
func UnitWindow(unit string) (w Window, ok bool) {
	for _, u := range units {
		if u.Unit == unit {
			return u, true
		}
	}
	return Window{}, false
}

// SecondsWindow is a window of n seconds (n > 0).
func SecondsWindow(n int64) Window { return Window{Seconds: n} }

// String names the window: its unit, or its size ("60s").
func (w Window) String() string {
	if w.Unit != "" {
		return w.Unit
	}
	return strconv.FormatInt(w.Seconds, 10) + "s"
}

// Bounds returns the window holding now: [start, end).
func (w Window) Bounds(now time.Time) (start, end time.Time) {
	t := now.UTC()
	switch w.Unit {
	case "second":
		start = t.Truncate(time.Second)
		return start, start.Add(time.Second)
	case "minute":
		start = t.Truncate(time.Minute)
		return start, start.Add(time.Minute)
	case "hour":
		start = t.Truncate(time.Hour)
		return start, start.Add(time.Hour)
	case "day":
		start = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 0, 1)
	case "month":
		start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 1, 0)
	case "year":
		start = time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(1, 0, 0)
	}
	size := w.Seconds
	if size <= 0 {
		size = 1
	}
	s := t.Unix() - mod(t.Unix(), size)
	return time.Unix(s, 0).UTC(), time.Unix(s+size, 0).UTC()
}

// previous returns the start of the window before the one holding now.
func (w Window) previous(now time.Time) time.Time {
	start, _ := w.Bounds(now)
	prev, _ := w.Bounds(start.Add(-time.Nanosecond))
	return prev
}

// slidingWeight is how much of the previous window still counts at now:
// 1 at the start of a window, falling to 0 at its end.
func (w Window) slidingWeight(now time.Time) float64 {
	start, end := w.Bounds(now)
	size := end.Sub(start)
	if size <= 0 {
		return 0
	}
	return float64(end.Sub(now)) / float64(size)
}

// resetSeconds is the whole number of seconds until the window ends, at
// least 1, as Kong's RateLimit-Reset.
func (w Window) resetSeconds(now time.Time) int64 {
	_, end := w.Bounds(now)
	d := end.Sub(now)
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}
