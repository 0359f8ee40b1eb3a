package health

import (
	"testing"
	"time"
)

func TestCircuitOpensAndHalfOpens(t *testing.T) {
	now := time.Unix(1000, 0)
	r := New(Options{Now: func() time.Time { return now }})
	tg := r.Get("k")
	if r.Fail(tg, 3, 10*time.Second) || r.Fail(tg, 3, 10*time.Second) {
		t.Fatal("opened before max_fails")
	}
	r.Succeed(tg) // a success resets the count
	for i := 0; i < 2; i++ {
		r.Fail(tg, 3, 10*time.Second)
	}
	if !r.Fail(tg, 3, 10*time.Second) {
		t.Fatal("the third failure in a row did not open it")
	}
	if d, _ := tg.Down(now.Add(9 * time.Second)); !d {
		t.Fatal("closed within fail_timeout")
	}
	if d, _ := tg.Down(now.Add(10 * time.Second)); d {
		t.Fatal("still open after fail_timeout")
	}
	if r.Fail(r.Get("off"), 0, time.Second) {
		t.Fatal("max_fails 0 opened a circuit")
	}
}

func TestUsageDecays(t *testing.T) {
	now := time.Unix(1000, 0)
	r := New(Options{Now: func() time.Time { return now }})
	tg := r.Get("k")
	r.AddUsage(tg, 100)
	now = now.Add(usageHalfLife)
	if u := r.Usage(tg); u < 49.9 || u > 50.1 {
		t.Fatalf("usage after a half-life: %v", u)
	}
	tg.ObserveLatency(100)
	tg.ObserveLatency(200)
	if l := tg.Latency(); l != 130 {
		t.Fatalf("latency EWMA %v, want 130", l)
	}
}
