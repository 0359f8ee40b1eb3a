package limits

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTimeout bounds one call to the shared store on the request path.
const DefaultTimeout = 2 * time.Second

// probeInterval is how often, during an outage, one request tries the
// shared store; the others fail over at once rather than each waiting for
// a store that does not answer.
const probeInterval = time.Second

// settleMargin keeps a counter past its window's end, so that the
// settlement of a long stream begun in the window still finds it.
const settleMargin = time.Hour

// Options configure a Limiter.
type Options struct {
	// Shared is the store of policies with policy/strategy dynamodb; nil
	// when none is configured.
	Shared Store
	// Local is this process's store; nil means a NewMemory(DefaultCapacity).
	Local Store
	// Timeout bounds each shared-store call; 0 means DefaultTimeout.
	Timeout time.Duration
	Logger  *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Limiter reserves and settles requests against their policies. It is safe
// for concurrent use.
type Limiter struct {
	shared  Store
	local   Store
	timeout time.Duration
	log     *slog.Logger
	now     func() time.Time
	down    atomic.Bool  // the shared store's last call failed
	tried   atomic.Int64 // when a call last failed, Unix nanoseconds
	prev    prevCache
}

// New returns a Limiter.
func New(o Options) *Limiter {
	l := &Limiter{shared: o.Shared, local: o.Local, timeout: o.Timeout, log: o.Logger, now: o.Now}
	if l.now == nil {
		l.now = time.Now
	}
	if l.local == nil {
		m := NewMemory(DefaultCapacity)
		m.now = l.now
		l.local = m
	}
	if l.timeout <= 0 {
		l.timeout = DefaultTimeout
	}
	if l.log == nil {
		l.log = slog.Default()
	}
	return l
}

// Request is what Reserve needs to know of a request.
type Request struct {
	// Policies are the rate-limiting and ai-rate-limiting-advanced plugin
	// instances that apply (at most one of each, the most specific).
	Policies []*Policy
	Subject  Subject
	// Worst is the request's worst case (see Estimate).
	Worst  Usage
	Prices Prices
}

// charge is one rule's reservation.
type charge struct {
	Charge
	policy *Policy
	rule   *Rule
	id     string // the hashed identifier
	shared bool
	prev   float64 // sliding: the previous window's weighed count
	value  float64 // the counter after the reservation
}

// Reserve reserves the request's worst case against every rule that applies,
// all or none. The returned Decision says whether to refuse the request and
// what headers to send; Settle it after the upstream call. A request that no
// policy covers costs nothing.
func (l *Limiter) Reserve(ctx context.Context, req Request) *Decision {
	d := &Decision{l: l, prices: req.Prices, worst: req.Worst}
	if len(req.Policies) == 0 {
		return d
	}
	now := l.now()
	d.now = now
	var local, shared []*charge
	for _, p := range req.Policies {
		id := p.identifier(req.Subject)
		for i := range p.Rules {
			c := newCharge(p, &p.Rules[i], id, now, req)
			if c.shared {
				shared = append(shared, c)
			} else {
				local = append(local, c)
			}
		}
	}
	local, cont := d.reserve(ctx, l.local, local, false)
	if !cont {
		return d
	}
	shared, cont = d.reserve(ctx, l.shared, shared, true)
	if !cont {
		d.refund(ctx, local)
		return d
	}
	d.charges = append(local, shared...)
	d.Header = d.headersFor(d.charges, nil)
	return d
}

func newCharge(p *Policy, r *Rule, id string, now time.Time, req Request) *charge {
	start, end := r.Window.Bounds(now)
	c := &charge{policy: p, rule: r, shared: p.Shared, id: id}
	c.Key = counterKey(p, r, id, start)
	c.Expires = end.Add(settleMargin)
	c.Amount = amount(r.Metric, req.Worst, req.Prices)
	c.Max = r.Limit
	return c
}

func counterKey(p *Policy, r *Rule, id string, start time.Time) string {
	return p.Plugin + "|" + p.ID + "|" + r.Name + "|" + id + "|" + strconv.FormatInt(start.Unix(), 10)
}

// reserve reserves charges in one store and returns those reserved;
// cont false means the decision is made (refused, or the store failed and
// a policy is not fault tolerant).
func (d *Decision) reserve(ctx context.Context, s Store, cs []*charge, shared bool) (reserved []*charge, cont bool) {
	if len(cs) == 0 {
		return nil, true
	}
	if shared && s == nil {
		return nil, d.storeFailed(ctx, cs, ErrNoStore)
	}
	if shared && d.l.down.Load() && d.now.UnixNano()-d.l.tried.Load() < int64(probeInterval) {
		return nil, d.storeFailed(ctx, cs, errSkipped)
	}
	cctx, cancel := context.WithTimeout(ctx, d.l.timeout)
	defer cancel()
	if err := d.l.slide(cctx, s, cs, d.now, shared); err != nil {
		return nil, d.storeFailed(ctx, cs, err)
	}
	charges := make([]Charge, len(cs))
	for i, c := range cs {
		charges[i] = c.Charge
	}
	ok, values, err := s.Reserve(cctx, charges)
	if err != nil {
		return nil, d.storeFailed(ctx, cs, err)
	}
	if shared {
		d.l.recovered()
	}
	for i, c := range cs {
		if i < len(values) {
			c.value = values[i]
		}
	}
	if !ok {
		d.Refusal = d.refusal(cs)
		d.Header = d.Refusal.Header
		return nil, false
	}
	return cs, true
}

// storeFailed applies fault_tolerant: tolerant policies are dropped from
// the request; any other refuses it. A caller that went away is no outage:
// its request ends here.
func (d *Decision) storeFailed(ctx context.Context, cs []*charge, err error) bool {
	if ctx.Err() != nil {
		d.Refusal = unavailable()
		return false
	}
	d.StoreDown = true
	d.l.failed(err)
	for _, c := range cs {
		if !c.policy.FaultTolerant {
			d.Refusal = unavailable()
			return false
		}
	}
	return true
}

// errSkipped stands for a call not made during an outage.
var errSkipped = errors.New("rate-limit store down, waiting to try again")

// failed logs the first failure of an outage, not every request's.
func (l *Limiter) failed(err error) {
	if err == errSkipped {
		return
	}
	l.tried.Store(l.now().UnixNano())
	if l.down.CompareAndSwap(false, true) {
		l.log.Warn("rate-limit store unavailable: fault-tolerant limits are not enforced, others refuse with 503, until it answers again",
			"error", err.Error())
	}
}

func (l *Limiter) recovered() {
	if l.down.CompareAndSwap(true, false) {
		l.log.Info("rate-limit store available again")
	}
}

// slide lowers the Max of sliding charges by the previous window's count,
// weighed by how much of it still overlaps the sliding window.
func (l *Limiter) slide(ctx context.Context, s Store, cs []*charge, now time.Time, shared bool) error {
	var need []*charge
	var counters []Counter
	for _, c := range cs {
		if !c.policy.Sliding {
			continue
		}
		prevStart := c.rule.Window.previous(now)
		_, prevEnd := c.rule.Window.Bounds(prevStart)
		key := counterKey(c.policy, c.rule, c.id, prevStart)
		if v, ok := l.prev.get(key); ok && shared {
			c.prev = v * c.rule.Window.slidingWeight(now)
			c.Max -= c.prev
			continue
		}
		need = append(need, c)
		counters = append(counters, Counter{Key: key, Expires: prevEnd.Add(settleMargin)})
	}
	if len(need) == 0 {
		return nil
	}
	values, err := s.Get(ctx, counters)
	if err != nil {
		return fmt.Errorf("read previous windows: %w", err)
	}
	for i, c := range need {
		if shared {
			// A past window changes only by late settlements: read once per
			// window and process rather than on every request.
			l.prev.put(counters[i].Key, values[i])
		}
		c.prev = values[i] * c.rule.Window.slidingWeight(now)
		c.Max -= c.prev
	}
	return nil
}

// refund gives back reservations made in an earlier store when a later one
// refuses.
func (d *Decision) refund(ctx context.Context, cs []*charge) {
	if len(cs) == 0 {
		return
	}
	back := make([]Charge, len(cs))
	for i, c := range cs {
		back[i] = c.Charge
		back[i].Amount = -c.Amount
	}
	_ = d.l.local.Add(ctx, back)
}

// prevCache holds previous windows' counts of the shared store, bounded.
type prevCache struct {
	mu sync.Mutex
	m  map[string]float64
}

const prevCacheMax = 4096

func (p *prevCache) get(k string) (float64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.m[k]
	return v, ok
}

func (p *prevCache) put(k string, v float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil || len(p.m) >= prevCacheMax {
		p.m = make(map[string]float64)
	}
	p.m[k] = v
}

// Decision is the outcome of Reserve.
type Decision struct {
	// Refusal, when set, is the answer: send nothing upstream.
	Refusal *Refusal
	// Header holds the rate-limit headers for the answer (empty when the
	// policies hide them).
	Header http.Header
	// StoreDown reports that the shared store could not be used.
	StoreDown bool

	l       *Limiter
	now     time.Time
	prices  Prices
	worst   Usage
	charges []*charge
	settled atomic.Bool
}

// Remaining is what is left of one rule after this request's reservation,
// for metrics.
type Remaining struct {
	Plugin, Rule string
	Metric       Metric
	Value        float64
}

// Remaining lists every reserved rule's remaining budget.
func (d *Decision) Remaining() []Remaining {
	var out []Remaining
	for _, c := range d.charges {
		out = append(out, Remaining{Plugin: c.policy.Plugin, Rule: c.rule.Name, Metric: c.rule.Metric, Value: c.remaining()})
	}
	return out
}

func (c *charge) remaining() float64 {
	r := c.rule.Limit - c.value - c.prev
	if r < 0 {
		return 0
	}
	return r
}

// Settle replaces the reservation by the real usage: nil means unknown
// (the reservation stands, e.g. a stream cut before its usage arrived);
// &Usage{} gives the tokens back (the upstream was never reached or
// answered an error). Requests stay counted, as in Kong. Settling twice
// does nothing.
func (d *Decision) Settle(ctx context.Context, used *Usage) error {
	if d == nil || len(d.charges) == 0 || !d.settled.CompareAndSwap(false, true) || used == nil {
		return nil
	}
	var local, shared []Charge
	for _, c := range d.charges {
		delta := amount(c.rule.Metric, *used, d.prices) - c.Amount
		if delta == 0 {
			continue
		}
		ch := c.Charge
		ch.Amount = delta
		if c.shared {
			shared = append(shared, ch)
		} else {
			local = append(local, ch)
		}
	}
	if len(local) > 0 {
		_ = d.l.local.Add(ctx, local)
	}
	if len(shared) == 0 {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, d.l.timeout)
	defer cancel()
	if err := d.l.shared.Add(cctx, shared); err != nil {
		d.l.failed(err)
		return fmt.Errorf("settle rate-limit reservation: %w", err)
	}
	d.l.recovered()
	return nil
}
