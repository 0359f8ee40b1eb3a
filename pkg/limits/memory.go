package limits

import (
	"context"
	"sync"
	"time"
)

// DefaultCapacity bounds the counters a Memory store holds.
const DefaultCapacity = 100_000

// Memory is the local store (policy/strategy local): counters in this
// process, bounded. Each Lambda instance counts alone, so a limit holds per
// instance, not per function.
type Memory struct {
	mu       sync.Mutex
	capacity int
	now      func() time.Time
	m        map[string]*memCounter
}

type memCounter struct {
	value   float64
	expires time.Time
}

// NewMemory returns a store of at most capacity counters.
func NewMemory(capacity int) *Memory {
	return &Memory{capacity: max(capacity, 1), now: time.Now, m: make(map[string]*memCounter)}
}

// Reserve implements Store.
func (s *Memory) Reserve(_ context.Context, charges []Charge) (bool, []float64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	values := make([]float64, len(charges))
	ok := true
	for i, c := range charges {
		values[i] = s.value(c.Key)
		if values[i]+c.Amount > c.Max {
			ok = false
		}
	}
	if !ok {
		return false, values, nil
	}
	for i, c := range charges {
		values[i] = s.add(c.Counter, c.Amount)
	}
	return true, values, nil
}

// Add implements Store.
func (s *Memory) Add(_ context.Context, charges []Charge) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range charges {
		s.add(c.Counter, c.Amount)
	}
	return nil
}

// Get implements Store.
func (s *Memory) Get(_ context.Context, counters []Counter) ([]float64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	values := make([]float64, len(counters))
	for i, c := range counters {
		values[i] = s.value(c.Key)
	}
	return values, nil
}

// Len is the number of counters held.
func (s *Memory) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

func (s *Memory) value(key string) float64 {
	if c, ok := s.m[key]; ok && s.now().Before(c.expires) {
		return c.value
	}
	return 0
}

func (s *Memory) add(ct Counter, amount float64) float64 {
	c, ok := s.m[ct.Key]
	if ok && !s.now().Before(c.expires) {
		c.value = 0
	}
	if !ok {
		if len(s.m) >= s.capacity {
			s.evict()
		}
		c = &memCounter{}
		s.m[ct.Key] = c
	}
	c.value += amount
	c.expires = ct.Expires
	return c.value
}

// evict makes room: expired counters first, else an eighth of them, chosen
// at random by map order, so that the cost of a full scan is paid once per
// many inserts. Many identifiers (client-chosen headers, IPs) must not grow
// memory without bound; an evicted counter only forgets its count.
func (s *Memory) evict() {
	now := s.now()
	for k, c := range s.m {
		if !now.Before(c.expires) {
			delete(s.m, k)
		}
	}
	target := s.capacity - s.capacity/8 - 1
	for k := range s.m {
		if len(s.m) <= target {
			break
		}
		delete(s.m, k)
	}
}
