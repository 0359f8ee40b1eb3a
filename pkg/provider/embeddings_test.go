package provider

import (
	"context"
	"sync/atomic"
	"testing"
)

// Parallel keeps the order, never runs more than limit calls at once, and
// after the first failure starts no more calls and cancels those running.
func TestParallel(t *testing.T) {
	var running, most atomic.Int32
	results, first := Parallel(context.Background(), 20, 3, func(ctx context.Context, i int) int {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		return i * i
	}, func(int) bool { return false })
	if first != -1 || most.Load() > 3 {
		t.Fatalf("first %d, %d at once", first, most.Load())
	}
	for i, r := range results {
		if r != i*i {
			t.Fatalf("result %d is %d", i, r)
		}
	}

	var started atomic.Int32
	_, first = Parallel(context.Background(), 20, 2, func(ctx context.Context, i int) error {
		started.Add(1)
		if i == 0 {
			return context.Canceled // fails at once
		}
		<-ctx.Done() // the others run until the failure cancels them
		return nil
	}, func(err error) bool { return err != nil })
	if first != 0 || started.Load() > 2 {
		t.Fatalf("first %d, %d calls started after the failure", first, started.Load())
	}
}
