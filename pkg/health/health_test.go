package health

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestCircuitOpensAndHalfOpens(t *testing.T) {
	now := time.Unix(1000, 0)
	r := New(Options{Now: func() time.Time { return now }})
	tg := r.Get("k")
	for i := 0; i < 2; i++ {
		if r.Fail(tg, 3, 10*time.Second) {
			t.Fatalf("opened after %d of max_fails 3", i+1)
		}
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

func TestFigures(t *testing.T) {
	start := time.Unix(0, 0).Add(1000 * WindowLen) // a window's start
	type obs struct {
		at             time.Duration // after start
		latency, usage float64
	}
	for _, tc := range []struct {
		name         string
		obs          []obs
		now          time.Duration
		latency, use float64
	}{
		{"usage halves over a half-life", []obs{{0, 0, 100}}, HalfLife, 0, 50},
		{"equal ages: the plain mean", []obs{{0, 100, 0}, {0, 200, 0}}, 0, 150, 0},
		{"a newer latency weighs twice one a half-life older", []obs{{0, 100, 0}, {HalfLife, 200, 0}}, HalfLife, 500.0 / 3, 0},
		{"a mean does not decay with time alone", []obs{{0, 100, 0}}, 5 * HalfLife, 100, 0},
		{"across a window's end", []obs{{WindowLen - time.Second, 0, 64}}, WindowLen + time.Second, 0, 64 * 0.97716},
		{"the window before the current one counts", []obs{{WindowLen / 2, 80, 0}, {WindowLen + HalfLife, 40, 0}}, WindowLen + HalfLife, (80.0/64 + 40) / (1.0/64 + 1), 0},
		{"older windows are dropped", []obs{{0, 100, 100}}, 2 * WindowLen, 0, 0},
		{"no figure yet", nil, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := start
			r := New(Options{Now: func() time.Time { return now }})
			tg := r.Get("k")
			for _, o := range tc.obs {
				now = start.Add(o.at)
				r.Observe(tg, o.latency, o.usage)
			}
			now = start.Add(tc.now)
			l, u := tg.Figures(now)
			if math.Abs(l-tc.latency) > 1e-3*max(1, tc.latency) || math.Abs(u-tc.use) > 1e-3*max(1, tc.use) {
				t.Fatalf("latency %v usage %v, want %v %v", l, u, tc.latency, tc.use)
			}
		})
	}
}

// Nothing that is not a figure gets in.
func TestFiguresRefuseGarbage(t *testing.T) {
	r := New(Options{})
	tg := r.Get("k")
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), -5, 9.2e18} {
		r.Observe(tg, v, 0)
		r.Observe(tg, 0, v)
	}
	if l, u := tg.Figures(time.Now()); l != 0 || u != 0 {
		t.Fatalf("latency %v usage %v", l, u)
	}
}

// memStore is a Store in memory, with DynamoDB's semantics for Add (a
// window replaces an older one in its slot).
type memStore struct {
	mu    sync.Mutex
	items map[string]State
	fail  bool
	adds  int
}

func (m *memStore) Load(_ context.Context, keys []string) (map[string]State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]State{}
	for _, k := range keys {
		if s, ok := m.items[k]; ok {
			out[k] = s
		}
	}
	return out, nil
}

func (m *memStore) Save(_ context.Context, k string, s State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	it := m.items[k]
	it.OpenUntil, it.Changed = s.OpenUntil, s.Changed
	m.items[k] = it
	return nil
}

func (m *memStore) Add(_ context.Context, k string, w Window) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("store away")
	}
	m.adds++
	it := m.items[k]
	it.Figures.merge(w)
	m.items[k] = it
	return nil
}

// Two instances on one store: each one's figures reach the other's view;
// a write the store refused is kept and sent with the next flush, never
// lost and never counted twice.
func TestFiguresShared(t *testing.T) {
	now := time.Unix(0, 0).Add(1000 * WindowLen)
	clock := func() time.Time { return now }
	st := &memStore{items: map[string]State{}}
	a := New(Options{Store: st, Now: clock, Refresh: time.Nanosecond, Flush: time.Second})
	b := New(Options{Store: st, Now: clock, Refresh: time.Nanosecond, Flush: time.Second})
	a.Observe(a.Get("k"), 0, 100)
	a.Wait()
	b.Sync([]string{"k"})
	b.Wait()
	if _, u := b.Get("k").Figures(now); u != 100 {
		t.Fatalf("b sees usage %v", u)
	}
	b.Observe(b.Get("k"), 0, 50)
	b.Wait()
	now = now.Add(time.Millisecond)
	a.Sync([]string{"k"})
	a.Wait()
	if _, u := a.Get("k").Figures(now); math.Abs(u-150) > 0.01 {
		t.Fatalf("a sees usage %v after b's", u)
	}
	st.mu.Lock()
	st.fail = true
	st.mu.Unlock()
	now = now.Add(2 * time.Second)
	a.Observe(a.Get("k"), 0, 10) // due: flushed, refused, kept
	a.Wait()
	dec := func(v float64, d time.Duration) float64 { return v * math.Exp2(-float64(d)/float64(HalfLife)) }
	if _, u := a.Get("k").Figures(now); math.Abs(u-(dec(150, 2*time.Second)+10)) > 0.01 {
		t.Fatalf("a's refused figure is not in its own view: %v", u)
	}
	st.mu.Lock()
	st.fail = false
	adds := st.adds
	st.mu.Unlock()
	a.Observe(a.Get("k"), 0, 1) // within Flush: not sent yet
	a.Wait()
	if st.adds != adds {
		t.Fatal("flushed within Flush of the last flush")
	}
	now = now.Add(2 * time.Second)
	a.Observe(a.Get("k"), 0, 1)
	a.Wait()
	b.Sync([]string{"k"})
	b.Wait()
	want := dec(150, 4*time.Second) + dec(11, 2*time.Second) + 1
	if _, u := b.Get("k").Figures(now); math.Abs(u-want) > 0.01 {
		t.Fatalf("b sees usage %v, want %v (the refused write sent once, later)", u, want)
	}
	if _, u := a.Get("k").Figures(now); math.Abs(u-want) > 0.01 {
		t.Fatalf("a sees usage %v, want %v", u, want)
	}
}

// A Retry-After opens the circuit until then, whatever max_fails says;
// a shorter pause never shortens a longer one.
func TestOpenUntil(t *testing.T) {
	now := time.Unix(1000, 0)
	r := New(Options{Now: func() time.Time { return now }})
	tg := r.Get("k")
	if !r.OpenUntil(tg, now.Add(30*time.Second)) {
		t.Fatal("not opened")
	}
	if r.OpenUntil(tg, now.Add(10*time.Second)) || r.OpenUntil(tg, now.Add(-time.Second)) {
		t.Fatal("a shorter or past pause changed it")
	}
	if d, until := tg.Down(now.Add(29 * time.Second)); !d || !until.Equal(now.Add(30*time.Second)) {
		t.Fatalf("down %v until %v", d, until)
	}
	if d, _ := tg.Down(now.Add(30 * time.Second)); d {
		t.Fatal("still down after the pause")
	}
}

// slowStore takes its time over every write.
type slowStore struct {
	memStore
	delay time.Duration
	saved atomic.Int32
}

func (s *slowStore) Save(ctx context.Context, k string, st State) error {
	time.Sleep(s.delay)
	s.saved.Add(1)
	return s.memStore.Save(ctx, k, st)
}

// Settle lets a circuit write in flight finish, within its bound.
func TestSettle(t *testing.T) {
	st := &slowStore{memStore: memStore{items: map[string]State{}}, delay: 50 * time.Millisecond}
	r := New(Options{Store: st})
	r.Settle(time.Second) // nothing in flight: at once
	r.Fail(r.Get("k"), 1, time.Minute)
	r.Settle(10 * time.Second)
	if st.saved.Load() != 1 {
		t.Fatal("Settle returned before the circuit write finished")
	}
	st.delay = 3 * time.Second
	r.Succeed(r.Get("k"))
	start := time.Now()
	r.Settle(20 * time.Millisecond)
	if time.Since(start) > 2*time.Second {
		t.Fatal("Settle waited past its bound")
	}
}
