// Package balancer decides, for one request, the order in which the targets
// of a Kong ai-proxy-advanced plugin are tried: the first is the target the
// algorithm picks, the others are the failover order. It implements Kong's
// round-robin (weighted), priority, lowest-latency, lowest-usage and
// consistent-hashing algorithms.
//
// It is pure: no I/O, no clock, no goroutines. What it cannot know from the
// configuration (which targets are down, their latency and usage figures,
// the request's hash key) is passed in for each request, so that the same
// decision can be replayed in a test. A Balancer is safe for concurrent use;
// its only state is the round-robin position.
package balancer

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"
)

// Algorithm is a balancer.algorithm of ai-proxy-advanced.
type Algorithm uint8

// The algorithms this package implements, by Kong's names.
const (
	RoundRobin Algorithm = iota
	Priority
	LowestLatency
	LowestUsage
	ConsistentHashing
)

var names = [...]string{"round-robin", "priority", "lowest-latency", "lowest-usage", "consistent-hashing"}

func (a Algorithm) String() string {
	if int(a) < len(names) {
		return names[a]
	}
	return fmt.Sprintf("algorithm(%d)", a)
}

// Refused are Kong's algorithms this package does not implement, with the
// reason a configuration that names them is refused at load.
var Refused = map[string]string{
	"semantic":          "needs an embeddings model and a vector database (Redis or pgvector) on every request; this proxy keeps no such store",
	"least-connections": "counts connections in flight per target, which a Lambda instance serving one request at a time cannot see across instances",
}

// Parse reads Kong's name of an algorithm.
func Parse(s string) (Algorithm, error) {
	for i, n := range names {
		if n == s {
			return Algorithm(i), nil
		}
	}
	if why, ok := Refused[s]; ok {
		return 0, fmt.Errorf("algorithm %q is not supported: it %s", s, why)
	}
	return 0, fmt.Errorf("unknown algorithm %q", s)
}

// MaxTargets bounds the targets of one balancer (Input.Down is a bit set).
const MaxTargets = 64

// Balancer orders the targets of one plugin.
type Balancer struct {
	alg     Algorithm
	weights []int
	// schedule is the weighted round-robin sequence of target indices:
	// nginx's smooth weighted round-robin over the weights reduced by their
	// greatest common divisor, so that one pass through it is exactly the
	// weights' proportions, interleaved.
	schedule []uint8
	// groups are the priority groups: targets of equal weight, heaviest
	// first.
	groups [][]int
	next   atomic.Uint64
}

// New returns a balancer over targets of the given weights (each 1-65535).
// slots bounds the round-robin schedule (Kong's balancer.slots): weights
// whose reduced sum exceeds it are scaled down to fit.
func New(alg Algorithm, weights []int, slots int) (*Balancer, error) {
	if len(weights) == 0 || len(weights) > MaxTargets {
		return nil, fmt.Errorf("between 1 and %d targets are needed, got %d", MaxTargets, len(weights))
	}
	for _, w := range weights {
		if w <= 0 {
			return nil, errors.New("every weight must be positive")
		}
	}
	b := &Balancer{alg: alg, weights: append([]int(nil), weights...)}
	b.schedule = schedule(weights, slots)
	if alg == Priority {
		b.groups = priorityGroups(weights)
	}
	return b, nil
}

// Algorithm returns the balancer's algorithm.
func (b *Balancer) Algorithm() Algorithm { return b.alg }

// Len is the number of targets.
func (b *Balancer) Len() int { return len(b.weights) }

// Input is what a request tells the balancer beyond the configuration.
type Input struct {
	// Down marks targets whose circuit is open (bit i: target i). They are
	// placed after every other target, in the order the algorithm gives.
	Down uint64
	// Key is the consistent-hashing key (the hash_on_header value); with
	// none, consistent-hashing falls back to round-robin.
	Key string
	// Scores are lowest-latency's and lowest-usage's figures per target,
	// lower is better; 0 means no figure yet (tried first, so that it gets
	// one). Nil for the other algorithms.
	Scores []float64
}

// Order appends the try order of every target to dst[:0] and returns it
// with the number of targets that are not down (which come first).
func (b *Balancer) Order(in Input, dst []int) ([]int, int) {
	dst = dst[:0]
	n := len(b.weights)
	switch b.alg {
	case Priority:
		start := int(b.next.Add(1) - 1)
		for _, g := range b.groups {
			for k := range g {
				dst = append(dst, g[(start+k)%len(g)])
			}
		}
	case LowestLatency, LowestUsage:
		for k := 0; k < n; k++ {
			dst = append(dst, k)
		}
		b.byScore(dst, in.Scores)
		b.rotateTies(dst, in.Scores, in.Down)
	case ConsistentHashing:
		if in.Key != "" {
			dst = b.rendezvous(in.Key, dst)
			break
		}
		fallthrough
	default:
		dst = b.roundRobin(in.Down, dst)
	}
	return partition(dst, in.Down)
}

// roundRobin takes the next healthy slot of the schedule as the pick (a
// down target's slots go to the targets after them in the schedule, so
// the healthy ones keep their proportions), then the other targets in
// index order after it.
func (b *Balancer) roundRobin(down uint64, dst []int) []int {
	n := len(b.weights)
	s := b.schedule
	pos := b.next.Add(1) - 1
	first := int(s[pos%uint64(len(s))])
	if down&(1<<first) != 0 && down != allDown(n) {
		// Degraded: the healthy targets share in their proportions, by
		// cumulative weight over each cycle of their total.
		sum := 0
		for t, w := range b.weights {
			if down&(1<<t) == 0 {
				sum += w
			}
		}
		r := int(pos % uint64(sum))
		for t, w := range b.weights {
			if down&(1<<t) != 0 {
				continue
			}
			if r < w {
				first = t
				break
			}
			r -= w
		}
	}
	for k := 0; k < n; k++ {
		dst = append(dst, (first+k)%n)
	}
	return dst
}

func allDown(n int) uint64 {
	if n == 64 {
		return math.MaxUint64
	}
	return 1<<n - 1
}

// rotateTies lets the healthy targets that share the best score take turns.
func (b *Balancer) rotateTies(order []int, scores []float64, down uint64) {
	m := 0
	best := -1.0
	for _, t := range order {
		if down&(1<<t) != 0 {
			continue
		}
		s := b.score(t, scores)
		if best >= 0 && s != best {
			break
		}
		best = s
		order[m] = t
		m++
	}
	if m < 2 {
		return
	}
	k := int((b.next.Add(1) - 1) % uint64(m))
	var tmp [MaxTargets]int
	for i := 0; i < m; i++ {
		tmp[i] = order[(i+k)%m]
	}
	copy(order, tmp[:m])
}

func (b *Balancer) score(t int, scores []float64) float64 {
	if t >= len(scores) {
		return 0
	}
	s := scores[t]
	if b.alg == LowestUsage {
		s /= float64(b.weights[t])
	}
	return s
}

// byScore sorts order by score per unit of weight, stably: insertion sort, as there are few
// targets and no allocation is wanted.
func (b *Balancer) byScore(order []int, scores []float64) {
	score := func(t int) float64 { return b.score(t, scores) }
	for i := 1; i < len(order); i++ {
		t := order[i]
		st := score(t)
		j := i
		for ; j > 0 && score(order[j-1]) > st; j-- {
			order[j] = order[j-1]
		}
		order[j] = t
	}
}

// rendezvous orders the targets by weighted rendezvous hashing of key:
// each target scores weight / -ln(u) with u a uniform hash of (key,
// target), highest first. A key always maps to the same target while it
// is up, the shares follow the weights, and removing a target moves only
// the keys that were on it.
func (b *Balancer) rendezvous(key string, dst []int) []int {
	var scores [MaxTargets]float64
	h := fnv64(key)
	for t, w := range b.weights {
		x := mix(h ^ uint64(t+1)*0x9e3779b97f4a7c15)
		u := (float64(x>>11) + 0.5) / (1 << 53)
		scores[t] = float64(w) / -math.Log(u)
		dst = append(dst, t)
	}
	for i := 1; i < len(dst); i++ {
		t := dst[i]
		j := i
		for ; j > 0 && scores[dst[j-1]] < scores[t]; j-- {
			dst[j] = dst[j-1]
		}
		dst[j] = t
	}
	return dst
}

// partition moves down targets behind the others, keeping both orders.
func partition(order []int, down uint64) ([]int, int) {
	if down == 0 {
		return order, len(order)
	}
	var tail [MaxTargets]int
	up, nt := 0, 0
	for _, t := range order {
		if down&(1<<t) != 0 {
			tail[nt] = t
			nt++
			continue
		}
		order[up] = t
		up++
	}
	copy(order[up:], tail[:nt])
	return order, up
}

func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// mix is splitmix64's finalizer: it spreads every input bit over the output.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// schedule builds the smooth weighted round-robin sequence.
func schedule(weights []int, slots int) []uint8 {
	if slots <= 0 {
		slots = 10000
	}
	g := 0
	for _, w := range weights {
		g = gcd(g, w)
	}
	w := make([]int, len(weights))
	sum := 0
	for i, x := range weights {
		w[i] = x / g
		sum += w[i]
	}
	if sum > slots {
		scaled := 0
		for i, x := range w {
			w[i] = max(1, x*slots/sum)
			scaled += w[i]
		}
		sum = scaled
	}
	cur := make([]int, len(w))
	out := make([]uint8, 0, sum)
	for range sum {
		best := 0
		for i := range w {
			cur[i] += w[i]
			if cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= sum
		out = append(out, uint8(best))
	}
	return out
}

// priorityGroups groups targets of equal weight, heaviest group first,
// each group in index order.
func priorityGroups(weights []int) [][]int {
	var groups [][]int
	done := make([]bool, len(weights))
	for {
		best := -1
		for i, w := range weights {
			if !done[i] && (best < 0 || w > weights[best]) {
				best = i
			}
		}
		if best < 0 {
			return groups
		}
		var g []int
		for i, w := range weights {
			if !done[i] && w == weights[best] {
				g = append(g, i)
				done[i] = true
			}
		}
		groups = append(groups, g)
	}
}
