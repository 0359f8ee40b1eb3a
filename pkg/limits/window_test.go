package limits

import (
	"testing"
	"time"
)

func TestWindowBounds(t *testing.T) {
	at := time.Date(2026, 2, 28, 23, 59, 59, 500e6, time.UTC)
	tests := []struct {
		w          Window
		start, end time.Time
		reset      int64
	}{
		{units[0], time.Date(2026, 2, 28, 23, 59, 59, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), 1},
		{units[1], time.Date(2026, 2, 28, 23, 59, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), 1},
		{units[2], time.Date(2026, 2, 28, 23, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), 1},
		{units[3], time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), 1},
		// Months by the calendar: February has 28 days.
		{units[4], time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), 1},
		{units[5], time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), 26438401},
		// window_size: aligned to the epoch.
		{SecondsWindow(30), time.Date(2026, 2, 28, 23, 59, 30, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), 1},
		{SecondsWindow(7), time.Unix(at.Unix()-at.Unix()%7, 0).UTC(), time.Unix(at.Unix()-at.Unix()%7+7, 0).UTC(), 0},
	}
	for _, tt := range tests {
		t.Run(tt.w.String(), func(t *testing.T) {
			s, e := tt.w.Bounds(at)
			if !s.Equal(tt.start) || !e.Equal(tt.end) {
				t.Fatalf("Bounds = %v, %v; want %v, %v", s, e, tt.start, tt.end)
			}
			if tt.reset > 0 {
				if r := tt.w.resetSeconds(at); r != tt.reset {
					t.Fatalf("resetSeconds = %d, want %d", r, tt.reset)
				}
			}
		})
	}
}

func TestWindowPreviousAndWeight(t *testing.T) {
	at := time.Date(2026, 3, 10, 12, 0, 15, 0, time.UTC)
	m, _ := UnitWindow("minute")
	if p := m.previous(at); !p.Equal(time.Date(2026, 3, 10, 11, 59, 0, 0, time.UTC)) {
		t.Fatalf("previous = %v", p)
	}
	if w := m.slidingWeight(at); w != 0.75 {
		t.Fatalf("weight = %v, want 0.75", w)
	}
	mo, _ := UnitWindow("month")
	if p := mo.previous(time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)); !p.Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("previous month = %v", p)
	}
}
