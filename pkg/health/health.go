// Package health keeps what ai-proxy-advanced's balancer knows of each
// target beyond its configuration: Kong's circuit breaker (a target that
// failed max_fails times is skipped for fail_timeout) and the decaying
// latency and usage figures of lowest-latency and lowest-usage.
//
// Circuit state and figures are shared by every instance through a Store
// (the stack's DynamoDB table, pkg/limits/dynamo): circuit state written
// only when a circuit opens or closes, each instance's new figures added
// at most every Flush, and both read back in the background at most every
// Refresh, so the request path never waits for the store. Without a Store
// they are this process's own. Failure counts stay per instance.
package health

import (
	"context"
	"log/slog"
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
	// Figures are every instance's figures added so far (Load only).
	Figures Figures
}

// Store shares circuit state and figures between instances.
type Store interface {
	// Load reads the states of keys; a key never saved is absent.
	Load(ctx context.Context, keys []string) (map[string]State, error)
	// Save writes one key's circuit state (not its figures).
	Save(ctx context.Context, key string, s State) error
	// Add adds one window's sums to a key's shared figures, atomically.
	Add(ctx context.Context, key string, w Window) error
}

// Options configure a Registry. The zero value keeps state in-process.
type Options struct {
	Store Store
	// Refresh is how stale the shared view may get; 0 means 500 ms, so
	// that every instance in traffic sees a change within about a second.
	Refresh time.Duration
	// Flush is how often an instance adds its new figures to the store; 0
	// means 2 s. Figures steer a choice among healthy targets, so they may
	// lag more than circuit state, and each flush is a write per target.
	Flush  time.Duration
	Logger *slog.Logger
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
	flushing   atomic.Bool
	flushed    atomic.Int64 // unix nanoseconds of the last flush
	pending    sync.WaitGroup
	saving     sync.WaitGroup // circuit writes in flight, for Settle
	// nsaving counts them too: Settle runs at every invocation's end, and
	// with nothing in flight it returns without starting a waiter.
	nsaving atomic.Int32
}

// New returns a registry.
func New(opts Options) *Registry {
	if opts.Refresh <= 0 {
		opts.Refresh = 500 * time.Millisecond
	}
	if opts.Flush <= 0 {
		opts.Flush = 2 * time.Second
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
	// shared is the store's figures as last read (every instance's, this
	// one's flushed ones included); pending is this instance's not yet
	// added to the store. Without a store, pending is all there is.
	shared, pending Figures
}

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

// OpenUntil opens the circuit until a time the upstream named (its
// Retry-After), however many failures came before, and shares it. It
// reports whether this opened or lengthened it.
func (r *Registry) OpenUntil(t *Target, until time.Time) bool {
	now := r.opts.Now()
	t.mu.Lock()
	if !until.After(now) || !until.After(t.openUntil) {
		t.mu.Unlock()
		return false
	}
	t.fails = 0
	t.openUntil, t.changed = until, now
	s := State{OpenUntil: until, Changed: now}
	t.mu.Unlock()
	r.opts.Logger.Warn("circuit opened: the target asked for a pause", "target", t.key, "for", until.Sub(now).Round(time.Millisecond).String())
	r.save(t.key, s)
	return true
}

// Observe folds one answer into the target's figures: its latency (ms, or
// ms per token for tpot; ignored when 0) and its usage (tokens or cost).
func (r *Registry) Observe(t *Target, latency, usage float64) {
	if !valid(latency) || !valid(usage) || latency == 0 && usage == 0 {
		return
	}
	now := r.opts.Now()
	t.mu.Lock()
	t.pending.add(now, latency, usage)
	t.mu.Unlock()
	r.maybeFlush(now.UnixNano())
}

// maybeFlush adds the pending figures to the store in the background,
// at most every Flush: an answer's figures leave with it, or with the
// next answer's after Flush (an instance that goes idle keeps its last
// few seconds of figures until it answers again).
func (r *Registry) maybeFlush(now int64) {
	if r.opts.Store == nil || now-r.flushed.Load() < int64(r.opts.Flush) || !r.flushing.CompareAndSwap(false, true) {
		return
	}
	r.flushed.Store(now)
	r.pending.Add(1)
	go func() {
		defer r.pending.Done()
		defer r.flushing.Store(false)
		r.flush()
	}()
}

// Figures are the target's decayed mean latency (0 when it has none) and
// decayed usage at now (the registry's Now, read once per request by the
// caller), over every instance's answers this one has seen.
func (t *Target) Figures(now time.Time) (latency, usage float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return at(now, &t.shared, &t.pending)
}

// save writes a state change to the shared store, off the request path.
func (r *Registry) save(key string, s State) {
	st := r.opts.Store
	if st == nil {
		return
	}
	r.pending.Add(1)
	r.saving.Add(1)
	r.nsaving.Add(1)
	go func() {
		defer r.pending.Done()
		defer r.saving.Done()
		defer r.nsaving.Add(-1)
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

// Settle waits up to d for circuit writes in flight: a Lambda environment
// may freeze as soon as an invocation ends, and a circuit this instance
// opened must reach the others now, not at its next invocation. Figures
// and reads are left to finish then; with no write in flight it returns
// at once.
func (r *Registry) Settle(d time.Duration) {
	if r.nsaving.Load() == 0 {
		return
	}
	done := make(chan struct{})
	go func() {
		r.saving.Wait()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// flush adds each target's pending windows to the store. They join the
// shared view at once, as the store will have them when it is next read;
// a window the store did not take goes back to pending, to be tried again
// with the next flush.
func (r *Registry) flush() {
	r.mu.RLock()
	targets := make([]*Target, 0, len(r.targets))
	for _, t := range r.targets {
		targets = append(targets, t)
	}
	r.mu.RUnlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, t := range targets {
		t.mu.Lock()
		p := t.pending
		t.pending = Figures{}
		for _, w := range p {
			t.shared.merge(w)
		}
		t.mu.Unlock()
		for _, w := range p {
			if w.Start == 0 || w.empty() {
				continue
			}
			if err := r.opts.Store.Add(ctx, t.key, w); err != nil {
				t.mu.Lock()
				t.shared.merge(Window{Start: w.Start, LatencySum: -w.LatencySum, LatencyWeight: -w.LatencyWeight, Usage: -w.Usage})
				t.pending.merge(w)
				t.mu.Unlock()
				r.opts.Logger.Warn("figures not shared; kept for the next flush", "target", t.key, "error", err.Error())
			}
		}
	}
}

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
		t.shared = s.Figures
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
