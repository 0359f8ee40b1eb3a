package limits

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/testclock"
)

// newClock is fixed 15 s into a minute, so a test never crosses a window
// edge by accident.
func newClock() *testclock.Clock {
	return testclock.New(time.Date(2026, 3, 10, 12, 0, 15, 0, time.UTC))
}

// countingStore wraps a store, counting calls and failing on demand.
type countingStore struct {
	Store
	mu    sync.Mutex
	calls int
	err   error
}

func (s *countingStore) fail(err error) { s.mu.Lock(); s.err = err; s.mu.Unlock() }
func (s *countingStore) check() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	return s.err
}
func (s *countingStore) Reserve(ctx context.Context, c []Charge) (bool, []float64, error) {
	if err := s.check(); err != nil {
		return false, nil, err
	}
	return s.Store.Reserve(ctx, c)
}
func (s *countingStore) Add(ctx context.Context, c []Charge) error {
	if err := s.check(); err != nil {
		return err
	}
	return s.Store.Add(ctx, c)
}
func (s *countingStore) Get(ctx context.Context, c []Counter) ([]float64, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return s.Store.Get(ctx, c)
}

func minutePolicy(limit float64, shared bool) *Policy {
	w, _ := UnitWindow("minute")
	return &Policy{Plugin: PluginRateLimiting, ID: "rl", Shared: shared, FaultTolerant: true, ErrorCode: 429,
		ErrorMessage: DefaultRateLimitMessage, LimitBy: "consumer",
		Rules: []Rule{{Name: "Minute", Window: w, Limit: limit, Metric: Requests}}}
}

func tokenPolicy(limit float64, m Metric, shared bool) *Policy {
	return &Policy{Plugin: PluginAIRateLimiting, ID: "ai", Shared: shared, FaultTolerant: true, ErrorCode: 429,
		ErrorMessage: DefaultAIRateLimitMessage + "openai", LimitBy: "consumer",
		Rules: []Rule{{Name: "60-openai", Window: SecondsWindow(60), Limit: limit, Metric: m}}}
}

func newTestLimiter(c *testclock.Clock, shared Store) *Limiter {
	return New(Options{Shared: shared, Now: c.Now, Logger: slog.New(slog.DiscardHandler)})
}

var teamA = Subject{Consumer: "team-a", IP: "192.0.2.1"}

func TestRequestLimitAndHeaders(t *testing.T) {
	c := newClock()
	l := newTestLimiter(c, nil)
	req := Request{Policies: []*Policy{minutePolicy(2, false)}, Subject: teamA}
	for i, want := range []string{"1", "0"} {
		d := l.Reserve(context.Background(), req)
		if d.Refusal != nil {
			t.Fatalf("request %d refused", i)
		}
		for k, v := range map[string]string{"X-RateLimit-Limit-Minute": "2", "X-RateLimit-Remaining-Minute": want,
			"RateLimit-Limit": "2", "RateLimit-Remaining": want, "RateLimit-Reset": "45"} {
			if got := d.Header.Get(k); got != v {
				t.Errorf("request %d: %s = %q, want %q", i, k, got, v)
			}
		}
	}
	d := l.Reserve(context.Background(), req)
	if d.Refusal == nil {
		t.Fatal("third request in the minute was served")
	}
	r := d.Refusal
	if r.Status != 429 || r.Code != CodeRateLimitExceeded || r.Type != "requests" || r.Message != DefaultRateLimitMessage {
		t.Fatalf("refusal = %+v", r)
	}
	if r.Header.Get("Retry-After") != "45" || r.Header.Get("X-RateLimit-Remaining-Minute") != "0" {
		t.Fatalf("refusal headers = %v", r.Header)
	}
	// Another consumer has its own count.
	if d := l.Reserve(context.Background(), Request{Policies: req.Policies, Subject: Subject{Consumer: "team-b"}}); d.Refusal != nil {
		t.Fatal("team-b refused by team-a's count")
	}
	// The next minute starts afresh.
	c.Add(45 * time.Second)
	if d := l.Reserve(context.Background(), req); d.Refusal != nil || d.Header.Get("RateLimit-Remaining") != "1" {
		t.Fatalf("after rollover: refusal %v, headers %v", d.Refusal, d.Header)
	}
}

func TestTokensReservedThenSettled(t *testing.T) {
	tests := []struct {
		name       string
		metric     Metric
		limit      float64
		prices     Prices
		worst      Usage
		used       *Usage
		remaining1 string // after the first reservation
		remaining2 string // after settling it and reserving the same again
	}{
		{"total", TotalTokens, 1000, Prices{}, Usage{100, 500}, &Usage{40, 60}, "400", "300"},
		{"prompt", PromptTokens, 1000, Prices{}, Usage{100, 500}, &Usage{40, 60}, "900", "860"},
		{"completion", CompletionTokens, 1000, Prices{}, Usage{100, 500}, &Usage{40, 60}, "500", "440"},
		{"cost", Cost, 0.01, Prices{Input: 10, Output: 10}, Usage{100, 500}, &Usage{40, 60}, "0.004", "0.003"},
		{"unknown usage keeps the reservation", TotalTokens, 1000, Prices{}, Usage{100, 300}, nil, "600", "200"},
		{"failed call gives tokens back", TotalTokens, 1000, Prices{}, Usage{100, 300}, &Usage{}, "600", "600"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLimiter(newClock(), nil)
			req := Request{Policies: []*Policy{tokenPolicy(tt.limit, tt.metric, false)}, Subject: teamA, Worst: tt.worst, Prices: tt.prices}
			d := l.Reserve(context.Background(), req)
			if d.Refusal != nil {
				t.Fatalf("refused: %+v", d.Refusal)
			}
			if got := d.Header.Get("X-AI-RateLimit-Remaining-60-openai"); got != tt.remaining1 {
				t.Fatalf("remaining = %q, want %q (headers %v)", got, tt.remaining1, d.Header)
			}
			if err := d.Settle(context.Background(), tt.used); err != nil {
				t.Fatal(err)
			}
			_ = d.Settle(context.Background(), &Usage{}) // a second settle does nothing
			d = l.Reserve(context.Background(), req)
			if got := d.Header.Get("X-AI-RateLimit-Remaining-60-openai"); got != tt.remaining2 {
				t.Fatalf("after settle: remaining = %q, want %q", got, tt.remaining2)
			}
		})
	}
}

func TestReservationBiggerThanWhatIsLeft(t *testing.T) {
	l := newTestLimiter(newClock(), nil)
	req := Request{Policies: []*Policy{tokenPolicy(1000, TotalTokens, false)}, Subject: teamA, Worst: Usage{100, 500}}
	if d := l.Reserve(context.Background(), req); d.Refusal != nil {
		t.Fatal("first refused")
	}
	d := l.Reserve(context.Background(), req)
	if d.Refusal == nil || d.Refusal.Type != "tokens" || d.Refusal.Message != DefaultAIRateLimitMessage+"openai" {
		t.Fatalf("second reservation of 600 in 1000 with 400 left: %+v", d.Refusal)
	}
	if d.Refusal.Header.Get("X-AI-RateLimit-Retry-After") != "45" || d.Refusal.Header.Get("Retry-After") != "45" {
		t.Fatalf("headers %v", d.Refusal.Header)
	}
}

func TestReservationBiggerThanTheLimit(t *testing.T) {
	l := newTestLimiter(newClock(), nil)
	req := Request{Policies: []*Policy{tokenPolicy(1000, TotalTokens, false)}, Subject: teamA, Worst: Usage{100, 5000}}
	d := l.Reserve(context.Background(), req)
	if d.Refusal == nil || !strings.Contains(d.Refusal.Message, "reserves 5100, more than the whole limit of 1000 per 60s: lower max_tokens") {
		t.Fatalf("refusal %+v", d.Refusal)
	}
}

func TestSlidingWindowWeighsThePreviousOne(t *testing.T) {
	c := newClock() // 15 s into a minute: 3/4 of the previous minute still counts
	l := newTestLimiter(c, nil)
	p := minutePolicy(10, false)
	p.Sliding = true
	req := Request{Policies: []*Policy{p}, Subject: teamA}
	c.Add(-time.Minute)
	for range 8 {
		if d := l.Reserve(context.Background(), req); d.Refusal != nil {
			t.Fatal("refused in the previous minute")
		}
	}
	c.Add(time.Minute)
	served := 0
	for range 10 {
		if d := l.Reserve(context.Background(), req); d.Refusal == nil {
			served++
		}
	}
	if served != 4 { // 10 - 8*0.75
		t.Fatalf("served %d in the sliding window, want 4", served)
	}
}

func TestHideClientHeaders(t *testing.T) {
	l := newTestLimiter(newClock(), nil)
	p := minutePolicy(1, false)
	p.HideClientHeaders = true
	req := Request{Policies: []*Policy{p}, Subject: teamA}
	if d := l.Reserve(context.Background(), req); len(d.Header) != 0 {
		t.Fatalf("headers shown: %v", d.Header)
	}
	if d := l.Reserve(context.Background(), req); d.Refusal == nil || len(d.Refusal.Header) != 0 {
		t.Fatalf("refusal %+v", d.Refusal)
	}
}

func TestNoPolicyNoStoreCall(t *testing.T) {
	s := &countingStore{Store: NewMemory(10)}
	l := newTestLimiter(newClock(), s)
	d := l.Reserve(context.Background(), Request{Subject: teamA, Worst: Usage{10, 10}})
	if d.Refusal != nil || len(d.Header) != 0 {
		t.Fatalf("decision %+v", d)
	}
	_ = d.Settle(context.Background(), &Usage{1, 1})
	if s.calls != 0 {
		t.Fatalf("%d store calls for a request no limit covers", s.calls)
	}
}

func TestLocalRefundedWhenSharedRefuses(t *testing.T) {
	s := &countingStore{Store: NewMemory(10)}
	l := newTestLimiter(newClock(), s)
	local := minutePolicy(5, false)
	shared := tokenPolicy(100, TotalTokens, true)
	req := Request{Policies: []*Policy{local, shared}, Subject: teamA, Worst: Usage{50, 60}}
	if d := l.Reserve(context.Background(), req); d.Refusal == nil {
		t.Fatal("110 tokens reserved in a limit of 100")
	}
	d := l.Reserve(context.Background(), Request{Policies: []*Policy{local}, Subject: teamA})
	if got := d.Header.Get("X-RateLimit-Remaining-Minute"); got != "4" {
		t.Fatalf("local count after a refused request: remaining %q, want 4", got)
	}
}

func TestStoreDown(t *testing.T) {
	for _, tolerant := range []bool{true, false} {
		t.Run(map[bool]string{true: "fault_tolerant", false: "not fault_tolerant"}[tolerant], func(t *testing.T) {
			var logs bytes.Buffer
			s := &countingStore{Store: NewMemory(10)}
			c := newClock()
			l := New(Options{Shared: s, Now: c.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			p := minutePolicy(100, true)
			p.FaultTolerant = tolerant
			req := Request{Policies: []*Policy{p}, Subject: teamA}
			s.fail(errors.New("connection refused"))
			for range 5 {
				d := l.Reserve(context.Background(), req)
				if !d.StoreDown {
					t.Fatal("StoreDown not reported")
				}
				switch {
				case tolerant && d.Refusal != nil:
					t.Fatalf("fault-tolerant policy refused: %+v", d.Refusal)
				case !tolerant && (d.Refusal == nil || d.Refusal.Status != http.StatusServiceUnavailable):
					t.Fatalf("refusal = %+v, want 503", d.Refusal)
				}
			}
			if s.calls != 1 {
				t.Fatalf("%d store calls in the first second of an outage, want 1", s.calls)
			}
			s.fail(nil)
			c.Add(probeInterval)
			if d := l.Reserve(context.Background(), req); d.Refusal != nil || d.StoreDown {
				t.Fatalf("after recovery: %+v", d)
			}
			s.fail(errors.New("connection refused"))
			l.Reserve(context.Background(), req)
			if n := strings.Count(logs.String(), "rate-limit store unavailable"); n != 2 {
				t.Fatalf("%d outage warnings for two outages:\n%s", n, logs.String())
			}
			if n := strings.Count(logs.String(), "available again"); n != 1 {
				t.Fatalf("%d recovery lines:\n%s", n, logs.String())
			}
		})
	}
}

// A client that goes away during the reservation is not an outage.
func TestCancelledCallerIsNoOutage(t *testing.T) {
	var logs bytes.Buffer
	s := &countingStore{Store: NewMemory(10)}
	l := New(Options{Shared: s, Now: newClock().Now, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.fail(context.Canceled)
	d := l.Reserve(ctx, Request{Policies: []*Policy{minutePolicy(5, true)}, Subject: teamA})
	if d.Refusal == nil || d.StoreDown || logs.Len() != 0 {
		t.Fatalf("decision %+v, logs %q", d, logs.String())
	}
}

func TestSharedPolicyWithoutStore(t *testing.T) {
	l := newTestLimiter(newClock(), nil)
	p := minutePolicy(1, true)
	p.FaultTolerant = false
	if d := l.Reserve(context.Background(), Request{Policies: []*Policy{p}, Subject: teamA}); d.Refusal == nil || d.Refusal.Status != 503 {
		t.Fatalf("decision %+v", d)
	}
}

func TestIdentifier(t *testing.T) {
	hdr := func(name string) string {
		if name == "X-Team" {
			return "blue"
		}
		return ""
	}
	full := Subject{Consumer: "team-a", Credential: "cred-1", IP: "192.0.2.1", Path: "/v1/x", Header: hdr}
	ipOnly := Subject{IP: "192.0.2.1"}
	tests := []struct {
		limitBy, header, path string
		s                     Subject
		sameAs                Subject // the identifier equals this subject's under limit_by ip
		differs               bool
	}{
		{"consumer", "", "", full, ipOnly, true},
		{"consumer", "", "", ipOnly, ipOnly, false}, // no consumer: the IP
		{"credential", "", "", Subject{IP: "192.0.2.1"}, ipOnly, false},
		{"header", "X-Team", "", full, ipOnly, true},
		{"header", "X-Other", "", full, ipOnly, false},
		{"path", "", "/v1/x", full, ipOnly, true},
		{"path", "", "/v1/y", full, ipOnly, false},
		{"ip", "", "", full, ipOnly, false},
	}
	ipPolicy := &Policy{LimitBy: "ip"}
	for _, tt := range tests {
		p := &Policy{LimitBy: tt.limitBy, HeaderName: tt.header, Path: tt.path}
		got, ip := p.identifier(tt.s), ipPolicy.identifier(tt.sameAs)
		if (got != ip) != tt.differs {
			t.Errorf("limit_by %s %s%s: identifier %s vs ip %s, want differs=%v", tt.limitBy, tt.header, tt.path, got, ip, tt.differs)
		}
	}
}

func TestEstimate(t *testing.T) {
	tests := []struct {
		body        int
		max, cap    int64
		prompt, out int64
	}{
		{300, 50, 0, 100, 50},
		{301, 0, 256, 101, 256},
		{0, 0, 0, 0, DefaultCompletionReserve},
	}
	for _, tt := range tests {
		if u := Estimate(tt.body, tt.max, tt.cap); u.PromptTokens != tt.prompt || u.CompletionTokens != tt.out {
			t.Errorf("Estimate(%d, %d, %d) = %+v", tt.body, tt.max, tt.cap, u)
		}
	}
}

func TestMemoryIsBounded(t *testing.T) {
	m := NewMemory(100)
	exp := time.Now().Add(time.Hour)
	for i := range 10_000 {
		if _, _, err := m.Reserve(context.Background(), []Charge{{Counter: Counter{Key: string(rune(i)) + "k", Expires: exp}, Amount: 1, Max: 10}}); err != nil {
			t.Fatal(err)
		}
		if m.Len() > 100 {
			t.Fatalf("%d counters held, capacity 100", m.Len())
		}
	}
}
