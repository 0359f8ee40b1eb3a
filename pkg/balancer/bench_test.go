package balancer

import (
	"strconv"
	"testing"
)

// BenchmarkOrder is the balancer's cost per request with five targets
// (target: under 2 us).
func BenchmarkOrder(b *testing.B) {
	weights := []int{100, 50, 25, 10, 5}
	scores := []float64{120, 80, 95, 300, 0}
	keys := make([]string, 64)
	for i := range keys {
		keys[i] = "session-" + strconv.Itoa(i)
	}
	for _, alg := range []Algorithm{RoundRobin, Priority, LowestLatency, LowestUsage, ConsistentHashing} {
		b.Run(alg.String(), func(b *testing.B) {
			bal, _ := New(alg, weights, 10000)
			dst := make([]int, 0, 8)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				in := Input{Down: 1 << 3, Scores: scores}
				if alg == ConsistentHashing {
					in.Key = keys[i&63]
				}
				dst, _ = bal.Order(in, dst)
			}
		})
	}
}
