package health

import (
	"strconv"
	"testing"
	"time"
)

// BenchmarkFigures is what lowest-latency and lowest-usage add to the
// balancer's cost per request: reading five targets' figures, each with
// both windows filled in its shared and pending views.
func BenchmarkFigures(b *testing.B) {
	r := New(Options{})
	now := time.Now()
	var targets []*Target
	for i := range 5 {
		t := r.Get(strconv.Itoa(i))
		for _, at := range []time.Time{now.Add(-WindowLen), now} {
			t.shared.add(at, 100, 10)
			t.pending.add(at, 100, 10)
		}
		targets = append(targets, t)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, t := range targets {
			t.Figures(now)
		}
	}
}
