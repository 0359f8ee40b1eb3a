package dynamo_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/motoserver"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/health"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/limits/dynamo"
)

// Two registries (two Lambda instances) on one table: a circuit one opens
// is open in the other after its next refresh, and a close travels too.
func TestCircuitSharedThroughTable(t *testing.T) {
	_, table := newTable(t)
	store := dynamo.NewHealth(motoserver.DynamoDBAt(moto.Endpoint()), table)
	a := health.New(health.Options{Store: store, Refresh: time.Nanosecond})
	b := health.New(health.Options{Store: store, Refresh: time.Nanosecond})
	key := "chat|1:bedrock/claude"
	if !a.Fail(a.Get(key), 1, time.Minute) {
		t.Fatal("max_fails 1: the first failure opens")
	}
	a.Wait()
	b.Sync([]string{key})
	b.Wait()
	if down, until := b.Get(key).Down(time.Now()); !down || time.Until(until) < 50*time.Second {
		t.Fatalf("instance b: down %v until %v", down, until)
	}
	b.Succeed(b.Get(key)) // b tried it as a last resort, and it answered
	b.Wait()
	a.Sync([]string{key})
	a.Wait()
	if down, _ := a.Get(key).Down(time.Now()); down {
		t.Fatal("instance a still skips a target b saw answer")
	}
	states, err := store.Load(context.Background(), []string{key, "absent"})
	if err != nil || len(states) != 1 || !states[key].OpenUntil.IsZero() || states[key].Changed.IsZero() {
		t.Fatalf("states %+v, %v", states, err)
	}
}

// Two instances' figures add up in one item: each sees the other's
// answers; a new window in a slot replaces the old one, and an add for a
// window older than the slot's is dropped; circuit writes leave the
// figures alone, and an older circuit decision never replaces a newer one.
func TestFiguresSharedThroughTable(t *testing.T) {
	_, table := newTable(t)
	store := dynamo.NewHealth(motoserver.DynamoDBAt(moto.Endpoint()), table)
	now := time.Unix(0, 0).Add(3_000_000 * health.WindowLen)
	clock := func() time.Time { return now }
	opts := health.Options{Store: store, Refresh: time.Nanosecond, Flush: time.Nanosecond, Now: clock}
	a, b := health.New(opts), health.New(opts)
	key := "chat|0:openai/primary"
	a.Observe(a.Get(key), 100, 1000)
	a.Wait()
	b.Observe(b.Get(key), 300, 3000)
	b.Wait()
	for name, r := range map[string]*health.Registry{"a": a, "b": b} {
		now = now.Add(time.Nanosecond)
		r.Sync([]string{key})
		r.Wait()
		if l, u := r.Get(key).Figures(clock()); math.Abs(l-200) > 0.01 || math.Abs(u-4000) > 0.01 {
			t.Fatalf("%s: latency %v usage %v, want 200 and 4000", name, l, u)
		}
	}
	// A circuit opened, then an older decision: the figures and the
	// newer decision stay.
	ctx := context.Background()
	open := health.State{OpenUntil: now.Add(time.Minute), Changed: now}
	if err := store.Save(ctx, key, open); err != nil {
		t.Fatal(err)
	}
	if err := store.Save(ctx, key, health.State{Changed: now.Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	states, err := store.Load(ctx, []string{key})
	if err != nil {
		t.Fatal(err)
	}
	s := states[key]
	if !s.OpenUntil.Equal(open.OpenUntil.Truncate(time.Millisecond)) || s.Figures[0].Usage+s.Figures[1].Usage != 4000 {
		t.Fatalf("after circuit writes: %+v", s)
	}
	// Two windows on: the slot starts again.
	old := s.Figures
	now = now.Add(2 * health.WindowLen)
	a.Observe(a.Get(key), 50, 10)
	a.Wait()
	var stale health.Window
	for _, w := range old {
		if w.Start != 0 {
			stale = w
		}
	}
	if err := store.Add(ctx, key, stale); err != nil {
		t.Fatal(err)
	}
	b.Sync([]string{key})
	b.Wait()
	if l, u := b.Get(key).Figures(clock()); l != 50 || math.Abs(u-10) > 1e-6 {
		t.Fatalf("a new window: latency %v usage %v, want 50 and 10", l, u)
	}
}
