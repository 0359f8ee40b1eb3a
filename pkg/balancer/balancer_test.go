package balancer

import (
	"slices"
	"strconv"
	"testing"
)

// picks runs n requests and counts the first target of each order.
func picks(t *testing.T, b *Balancer, n int, in func(i int) Input) []int {
	t.Helper()
	counts := make([]int, b.Len())
	var dst []int
	for i := 0; i < n; i++ {
		order, up := b.Order(in(i), dst[:0])
		if len(order) != b.Len() {
			t.Fatalf("order %v has %d targets, want %d", order, len(order), b.Len())
		}
		seen := map[int]bool{}
		for _, x := range order {
			if seen[x] {
				t.Fatalf("order %v repeats %d", order, x)
			}
			seen[x] = true
		}
		if up == 0 {
			t.Fatalf("no target up in %v", order)
		}
		counts[order[0]]++
		dst = order
	}
	return counts
}

func mustNew(t *testing.T, alg Algorithm, weights ...int) *Balancer {
	t.Helper()
	b, err := New(alg, weights, 10000)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func none(int) Input { return Input{} }

// Kong's definition: weighted round-robin; 70/25/5 receive 70%, 25%, 5%.
func TestRoundRobinDistribution(t *testing.T) {
	for _, tc := range []struct {
		weights, want []int
	}{
		{[]int{70, 25, 5}, []int{700, 250, 50}},
		{[]int{100, 100}, []int{500, 500}},
		{[]int{1, 1, 1, 1, 1}, []int{200, 200, 200, 200, 200}},
		{[]int{3, 1}, []int{750, 250}},
	} {
		got := picks(t, mustNew(t, RoundRobin, tc.weights...), 1000, none)
		if !slices.Equal(got, tc.want) {
			t.Errorf("weights %v: picks %v, want %v", tc.weights, got, tc.want)
		}
	}
}

// Smooth: a 3:1 schedule interleaves (A A B A), it does not send three in a row and then one.
func TestRoundRobinInterleaves(t *testing.T) {
	b := mustNew(t, RoundRobin, 1, 1)
	var last = -1
	for i := 0; i < 10; i++ {
		o, _ := b.Order(Input{}, nil)
		if o[0] == last {
			t.Fatalf("request %d went to %d again", i, last)
		}
		last = o[0]
	}
}

// A down target's share goes to the others, in their proportions.
func TestRoundRobinSkipsDown(t *testing.T) {
	b := mustNew(t, RoundRobin, 50, 30, 20)
	got := picks(t, b, 1000, func(int) Input { return Input{Down: 1 << 0} })
	if got[0] != 0 || got[1]+got[2] != 1000 {
		t.Fatalf("picks %v: target 0 is down", got)
	}
	if got[1] < 550 || got[1] > 650 {
		t.Fatalf("picks %v: want about 3:2 between targets 1 and 2", got)
	}
	o, up := b.Order(Input{Down: 1}, nil)
	if up != 2 || o[2] != 0 {
		t.Fatalf("order %v up %d: the down target goes last", o, up)
	}
}

// Priority: the heaviest group takes every request, its members in turn;
// the next group only when the whole first group is down.
func TestPriorityDistribution(t *testing.T) {
	b := mustNew(t, Priority, 100, 100, 50, 10)
	if got := picks(t, b, 1000, none); !slices.Equal(got, []int{500, 500, 0, 0}) {
		t.Fatalf("all up: %v", got)
	}
	if got := picks(t, b, 1000, func(int) Input { return Input{Down: 1} }); !slices.Equal(got, []int{0, 1000, 0, 0}) {
		t.Fatalf("target 0 down: %v", got)
	}
	if got := picks(t, b, 1000, func(int) Input { return Input{Down: 3} }); !slices.Equal(got, []int{0, 0, 1000, 0}) {
		t.Fatalf("first group down: %v", got)
	}
	o, _ := b.Order(Input{}, nil)
	if o[2] != 2 || o[3] != 3 {
		t.Fatalf("failover order %v: groups in priority order", o)
	}
}

// lowest-latency: every request to the lowest figure; equal figures take
// turns; a target without a figure is tried first so that it gets one.
func TestLowestLatencyDistribution(t *testing.T) {
	b := mustNew(t, LowestLatency, 1, 1, 1)
	if got := picks(t, b, 1000, func(int) Input { return Input{Scores: []float64{30, 10, 20}} }); !slices.Equal(got, []int{0, 1000, 0}) {
		t.Fatalf("distinct: %v", got)
	}
	if got := picks(t, b, 1000, func(int) Input { return Input{Scores: []float64{10, 10, 50}} }); !slices.Equal(got, []int{500, 500, 0}) {
		t.Fatalf("tied: %v", got)
	}
	if got := picks(t, b, 1000, func(int) Input { return Input{Scores: []float64{10, 0, 5}} }); !slices.Equal(got, []int{0, 1000, 0}) {
		t.Fatalf("unmeasured: %v", got)
	}
	o, _ := b.Order(Input{Scores: []float64{30, 10, 20}}, nil)
	if !slices.Equal(o, []int{1, 2, 0}) {
		t.Fatalf("failover order %v, want by latency", o)
	}
}

// lowest-usage: the lowest usage per unit of weight; fed back, the usage
// follows the weights.
func TestLowestUsageDistribution(t *testing.T) {
	b := mustNew(t, LowestUsage, 1, 3)
	usage := []float64{1e-9, 1e-9}
	counts := make([]int, 2)
	for i := 0; i < 1000; i++ {
		o, _ := b.Order(Input{Scores: usage}, nil)
		counts[o[0]]++
		usage[o[0]] += 100 // each request uses 100 tokens
	}
	if counts[0] != 250 || counts[1] != 750 {
		t.Fatalf("picks %v, want 250/750 (usage follows weight 1:3)", counts)
	}
	if got := picks(t, b, 1000, func(int) Input { return Input{Scores: []float64{300, 600}} }); !slices.Equal(got, []int{0, 1000}) {
		t.Fatalf("600/3 < 300/1: %v", got)
	}
}

// consistent-hashing: one key, one target, always; many keys spread by
// weight; a target that goes down moves only its own keys.
func TestConsistentHashingDistribution(t *testing.T) {
	b := mustNew(t, ConsistentHashing, 1, 1, 2)
	first := map[string]int{}
	counts := make([]int, 3)
	for i := 0; i < 1000; i++ {
		k := "user-" + strconv.Itoa(i)
		o, _ := b.Order(Input{Key: k}, nil)
		first[k] = o[0]
		counts[o[0]]++
		for j := 0; j < 3; j++ {
			if again, _ := b.Order(Input{Key: k}, nil); again[0] != o[0] {
				t.Fatalf("key %s moved from %d to %d", k, o[0], again[0])
			}
		}
	}
	// Expected 250/250/500; the hash is deterministic, so the bound is
	// a statement about these 1,000 keys, not a flaky tolerance.
	for i, want := range []int{250, 250, 500} {
		if d := counts[i] - want; d < -50 || d > 50 {
			t.Fatalf("picks %v, want about 250/250/500", counts)
		}
	}
	moved := 0
	for k, was := range first {
		o, _ := b.Order(Input{Key: k, Down: 1 << 2}, nil)
		if was != 2 && o[0] != was {
			moved++
		}
		if o[0] == 2 {
			t.Fatalf("key %s still on the down target", k)
		}
	}
	if moved != 0 {
		t.Fatalf("%d keys of healthy targets moved when target 2 went down", moved)
	}
	// Without the header: round-robin.
	if got := picks(t, b, 1000, none); !slices.Equal(got, []int{250, 250, 500}) {
		t.Fatalf("no key: %v", got)
	}
}

func TestParseRefuses(t *testing.T) {
	for _, s := range []string{"semantic", "least-connections", "random"} {
		if _, err := Parse(s); err == nil {
			t.Fatalf("%s accepted", s)
		}
	}
	for i, n := range names {
		if a, err := Parse(n); err != nil || a != Algorithm(i) {
			t.Fatalf("%s: %v %v", n, a, err)
		}
	}
}

func TestScheduleScaledToSlots(t *testing.T) {
	b, err := New(RoundRobin, []int{65535, 1, 7}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.schedule) > 102 {
		t.Fatalf("schedule of %d slots for slots=100", len(b.schedule))
	}
}
