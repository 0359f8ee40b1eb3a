// Package health keeps what ai-proxy-advanced's balancer knows of each
// target beyond its configuration: Kong's circuit breaker (a target that
// failed max_fails times is skipped for fail_timeout) and the decaying
// latency and usage figures of lowest-latency and lowest-usage.
//
// Circuit state is shared by every instance through a Store (the stack's
// DynamoDB table, pkg/limits/dynamo): written only when a circuit opens or
// closes, read in the background at most every Refresh, so the request path
// never waits for it. Without a Store the state is this process's own.
// Failure counts and figures stay per instance.
package health

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// State is a target's shared circuit state.
type State struct {
	// OpenUntil is when the open circuit half-opens again; zero when
	// closed.
	OpenUntil time.Time
	// Changed is when the state was set; the newer change wins.
	Changed time.Time
}

// Store shares circuit state between instances.
type Store interface {
	// Load reads the states of keys; a key never saved is absent.
	Load(ctx context.Context, keys []string) (map[string]State, error)
	// Save writes one key's state.
	Save(ctx context.Context, key string, s State) error
}

// Options configure a Registry. The zero value keeps state in-process.
type Options struct {
	Store Store
	// Refresh is how stale the shared view may get; 0 means 500 ms, so
	// that every instance in traffic sees a change within about a second.
	Refresh time.Duration
	Logger  *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Registry holds every target's health, by key.
type Registry struct {
	opts    Options
	mu      sync.RWMutex
	targets map[string]*Target

	refreshing atomic.Bool
	refreshed  atomic.Int64 // unix nanoseconds of the last refresh start
	pending    sync.WaitGroup
}

// New returns a registry.
func New(opts Options) *Registry {
	if opts.Refresh <= 0 {
		opts.Refresh = 500 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Registry{opts: opts, targets: map[string]*Target{}}
}

// Now is the registry's clock.
func (r *Registry) Now() time.Time { return r.opts.Now() }

// Target is one target's health.
type Target struct {
	key string
	mu  sync.Mutex
	// fails counts consecutive failures while closed.
	fails     int
	openUntil time.Time
	changed   time.Time
	// latency is an EWMA (ms, or ms per token for tpot); usage decays
	// with a half-life of usageHalfLife.
	latency float64
	usage   float64
	usageAt time.Time
}

const (
	ewmaAlpha     = 0.3
	usageHalfLife = time.Minute
)

// Get returns the target of key, created on first use.
func (r *Registry) Get(key string) *Target {
	r.mu.RLock()
	t := r.targets[key]
	r.mu.RUnlock()
	if t != nil {
		return t
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if t = r.targets[key]; t == nil {
		t = &Target{key: key}
		r.targets[key] = t
	}
	return t
}

// Down reports whether the target's circuit is open at now, and until when.
func (t *Target) Down(now time.Time) (bool, time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return now.Before(t.openUntil), t.openUntil
}

// Fail counts a failure; the maxFails-th in a row opens the circuit for
// failTimeout and shares it. maxFails 0 disables the breaker. It reports
// whether this failure opened the circuit.
func (r *Registry) Fail(t *Target, maxFails int, failTimeout time.Duration) bool {
	if maxFails <= 0 {
		return false
	}
	now := r.opts.Now()
	t.mu.Lock()
	if now.Before(t.openUntil) {
		t.mu.Unlock()
		return false // already open (tried as a last resort)
	}
	t.fails++
	if t.fails < maxFails {
		t.mu.Unlock()
		return false
	}
	t.fails = 0
	t.openUntil, t.changed = now.Add(failTimeout), now
	s := State{OpenUntil: t.openUntil, Changed: now}
	t.mu.Unlock()
	r.opts.Logger.Warn("circuit opened: target skipped", "target", t.key, "for", failTimeout.String())
	r.save(t.key, s)
	return true
}

// Succeed resets the failure count; a success on an open circuit (a last
// resort that answered) closes it everywhere.
func (r *Registry) Succeed(t *Target) {
	now := r.opts.Now()
	t.mu.Lock()
	t.fails = 0
	wasOpen := now.Before(t.openUntil)
	t.openUntil = time.Time{}
	if wasOpen {
		t.changed = now
	}
	t.mu.Unlock()
	if wasOpen {
		r.opts.Logger.Info("circuit closed: target answered", "target", t.key)
		r.save(t.key, State{Changed: now})
	}
}

// ObserveLatency folds one answer's latency into the target's figure.
func (t *Target) ObserveLatency(v float64) {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	t.mu.Lock()
	if t.latency == 0 {
		t.latency = v
	} else {
		t.latency += ewmaAlpha * (v - t.latency)
	}
	t.mu.Unlock()
}

// AddUsage adds an answer's usage (tokens or cost) to the decaying figure.
func (r *Registry) AddUsage(t *Target, v float64) {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	now := r.opts.Now()
	t.mu.Lock()
	t.usage = decay(t.usage, t.usageAt, now) + v
	t.usageAt = now
	t.mu.Unlock()
}

// Latency is the target's latency figure, 0 when it has none.
func (t *Target) Latency() float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.latency
}

// Usage is the target's decayed usage at now.
func (r *Registry) Usage(t *Target) float64 {
	now := r.opts.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	return decay(t.usage, t.usageAt, now)
}

func decay(v float64, at, now time.Time) float64 {
	if v == 0 || !now.After(at) {
		return v
	}
	return v * math.Exp2(-float64(now.Sub(at))/float64(usageHalfLife))
}

// save writes a state change to the shared store, off the request path.
func (r *Registry) save(key string, s State) {
	st := r.opts.Store
	if st == nil {
		return
	}
	r.pending.Add(1)
	go func() {
		defer r.pending.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := st.Save(ctx, key, s); err != nil {
			r.opts.Logger.Warn("circuit state not shared", "target", key, "error", err.Error())
		}
	}()
}

// Sync refreshes the shared state of keys in the background when the view
// is older than Refresh. Only the first call waits for the read.
func (r *Registry) Sync(keys []string) {
	st := r.opts.Store
	if st == nil || len(keys) == 0 {
		return
	}
	now := r.opts.Now().UnixNano()
	last := r.refreshed.Load()
	if now-last < int64(r.opts.Refresh) || !r.refreshing.CompareAndSwap(false, true) {
		return
	}
	r.refreshed.Store(now)
	if last == 0 {
		// An instance's first request waits for the shared view once, so
		// that a new instance never sends to a target the others skip.
		r.load(keys)
		r.refreshing.Store(false)
		return
	}
	keys = append([]string(nil), keys...)
	r.pending.Add(1)
	go func() {
		defer r.pending.Done()
		defer r.refreshing.Store(false)
		r.load(keys)
	}()
}

// Wait waits for background reads and writes (tests, and an edge before
// it freezes).
func (r *Registry) Wait() { r.pending.Wait() }

func (r *Registry) load(keys []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	states, err := r.opts.Store.Load(ctx, keys)
	if err != nil {
		r.opts.Logger.Warn("shared circuit state not read; using this instance's", "error", err.Error())
		return
	}
	now := r.opts.Now()
	for _, k := range keys {
		s, ok := states[k]
		if !ok {
			continue
		}
		t := r.Get(k)
		t.mu.Lock()
		if s.Changed.After(t.changed) {
			// Another instance opened or closed it since this one did.
			t.openUntil, t.changed = s.OpenUntil, s.Changed
			if !now.Before(s.OpenUntil) {
				t.fails = 0
			}
		}
		t.mu.Unlock()
	}
}
