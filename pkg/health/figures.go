package health

import (
	"math"
	"time"
)

// The figures of lowest-latency and lowest-usage decay with a half-life of
// HalfLife, kept in forward-decay form (Cormode, Shkapenyuk, Srivastava and
// Xu, "Forward Decay", ICDE 2009): an observation v at time t adds
// v·2^((t−L)/HalfLife) to the sums of its window, L being the window's
// start, and the value at now is a sum times 2^(−(now−L)/HalfLife). A
// window's sums only ever grow, so instances share them with DynamoDB's
// atomic ADD and never read before they write; no instance needs another's
// clock or last value.
//
// A window is WindowLen long, which bounds the scale at 2^10. Two windows
// are kept, the current one and the one before: what is older than that
// weighs less than 2^−10 of what is newer, and is dropped.
const (
	HalfLife  = time.Minute
	WindowLen = 10 * time.Minute
)

// Window is one window's sums of a target's figures.
type Window struct {
	// Start is the window's index, unix time over WindowLen; 0 is empty.
	Start int64
	// LatencySum and LatencyWeight give the decayed mean latency;
	// Usage is the decayed sum of usage.
	LatencySum, LatencyWeight, Usage float64
}

func (w Window) empty() bool { return w.LatencyWeight == 0 && w.Usage == 0 }

// Figures are a target's two windows, each in the slot of its index's
// parity.
type Figures [2]Window

func windowOf(t time.Time) int64 { return t.UnixNano() / int64(WindowLen) }

// scale is 2^((t−L)/HalfLife) for t in window idx.
func scale(t time.Time, idx int64) float64 {
	return math.Exp2(float64(t.UnixNano()-idx*int64(WindowLen)) / float64(HalfLife))
}

// add folds one answer in: its latency (ignored when not positive) and its
// usage.
func (f *Figures) add(at time.Time, latency, usage float64) {
	idx := windowOf(at)
	w := f.slot(idx)
	if w == nil {
		return
	}
	s := scale(at, idx)
	if latency > 0 {
		w.LatencySum += latency * s
		w.LatencyWeight += s
	}
	if usage > 0 {
		w.Usage += usage * s
	}
}

// merge adds another's sums of the same window; a newer window replaces
// an older one in its slot, an older one is dropped.
func (f *Figures) merge(o Window) {
	if o.Start == 0 {
		return
	}
	if w := f.slot(o.Start); w != nil {
		w.LatencySum += o.LatencySum
		w.LatencyWeight += o.LatencyWeight
		w.Usage += o.Usage
	}
}

// slot returns window idx's slot, emptied when it held an older window;
// nil when it holds a newer one.
func (f *Figures) slot(idx int64) *Window {
	w := &f[idx&1]
	switch {
	case w.Start == idx:
	case w.Start < idx:
		*w = Window{Start: idx}
	default:
		return nil
	}
	return w
}

// at sums the figures of several views at now: the decayed mean latency (0
// when there is none) and the decayed usage.
func at(now time.Time, views ...*Figures) (latency, usage float64) {
	cur := windowOf(now)
	// One power per call: the window before weighs 2^−(WindowLen/HalfLife)
	// of the current one's scale.
	dCur := 1 / scale(now, cur)
	dPrev := dCur * math.Exp2(-float64(WindowLen/HalfLife))
	var ls, lw float64
	for _, f := range views {
		for _, w := range f {
			var d float64
			switch w.Start {
			case cur:
				d = dCur
			case cur - 1:
				d = dPrev
			default:
				continue
			}
			ls += w.LatencySum * d
			lw += w.LatencyWeight * d
			usage += w.Usage * d
		}
	}
	// A store's write that failed is taken back from the shared view; if
	// a read replaced that view in between, the sums can dip below zero
	// until the next read.
	if lw > 0 && ls > 0 {
		latency = ls / lw
	}
	return latency, max(usage, 0)
}

// maxObservation bounds one answer's latency (ms) or usage (tokens or
// cost): the usage is the upstream's own report, and an absurd one (an
// int64's worth of tokens) would make sums DynamoDB refuses to store
// (over 38 digits), failing every flush of that window.
const maxObservation = 1e12

// valid reports whether an observation may be folded in.
func valid(v float64) bool { return v >= 0 && v <= maxObservation && !math.IsNaN(v) }
