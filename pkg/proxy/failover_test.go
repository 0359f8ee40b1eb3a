package proxy

import (
	"context"
	"fmt"
	"math"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/configsource"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/health"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/limits"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/anthropic"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/openai"
)

const allCriteria = "[error, timeout, http_429, http_500, http_502, http_503, http_504, non_idempotent]"

// advancedTarget is one target of the failover tests' configs.
func advancedTarget(url, model, extra string) string {
	return fmt.Sprintf(`
  - route_type: llm/v1/chat
    auth: {header_name: Authorization, header_value: "Bearer sk-%s"}
    logging: {log_statistics: true}
    model: {provider: openai, name: %q, options: {upstream_url: %q%s}}`, model, model, url, extra)
}

type failoverProxy struct {
	stubProxy
}

func newFailoverProxy(t *testing.T, balancer string, targets ...string) *failoverProxy {
	t.Helper()
	doc := "targets:" + strings.Join(targets, "") + "\nbalancer: " + balancer + "\n"
	return newFailoverProxyDoc(t, doc, nil, nil)
}

func newFailoverProxyDoc(t testing.TB, doc string, lim *limits.Limiter, reg *health.Registry) *failoverProxy {
	t.Helper()
	cfg, err := config.Parse(context.Background(), []byte(doc), config.Options{})
	if err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	p := &failoverProxy{}
	// OpenAI's driver (the default set's only one) and Anthropic's, whose
	// native Messages relay the Messages tests reach.
	drivers := provider.Set{config.ProviderOpenAI: openai.Driver{}, config.ProviderAnthropic: anthropic.New(nil)}
	p.h = New(configsource.NewStatic(cfg), Options{Logger: discardLogger, Limiter: lim, Health: reg, Drivers: drivers, Observe: p.recs.Observe})
	return p
}

func stubServer(t *testing.T) (*stub.Server, string) {
	s := stub.New()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL + "/v1/chat/completions"
}

// refusedURL is an address where nothing listens.
func refusedURL(t *testing.T) string {
	return "http://" + stub.ClosedAddr(t) + "/v1/chat/completions"
}

const (
	chatBody   = `{"messages":[{"role":"user","content":"hi"}]}`
	streamBody = `{"stream":true,"messages":[{"role":"user","content":"hi"}]}`
)

// Every fault of the primary fails over to the secondary before the first
// byte: the client gets the secondary's whole answer, streamed or not.
func TestFailoverEachFault(t *testing.T) {
	for _, tc := range []struct {
		fault   string
		outcome string
	}{
		{"fault-429", "http_429"}, {"fault-429-bare", "http_429"},
		{"fault-500", "http_500"}, {"fault-502", "http_502"}, {"fault-503", "http_503"}, {"fault-504", "http_504"},
		{"fault-reset", "error"}, {"fault-hang", "timeout"}, {"refused", "error"},
		{"fault-stream-error-first", "error"}, {"fault-stream-429-first", "http_429"},
	} {
		for _, body := range []string{chatBody, streamBody} {
			name := tc.fault + map[bool]string{true: "/stream", false: "/json"}[body == streamBody]
			t.Run(name, func(t *testing.T) {
				up, url := stubServer(t)
				primary := url
				if tc.fault == "refused" {
					primary = refusedURL(t)
				}
				p := newFailoverProxy(t, "{algorithm: priority, read_timeout: 300, failover_criteria: "+allCriteria+"}",
					advancedTarget(primary, tc.fault, ""), strings.Replace(advancedTarget(url, "gpt-ok", ""), "route_type", "weight: 1\n    route_type", 1))
				w := p.serve(context.Background(), body, "Kong-Debug", "1")
				if w.Code != 200 || w.Header().Get("X-Kong-LLM-Model") != "openai/gpt-ok" {
					t.Fatalf("answer %d %q %s", w.Code, w.Header().Get("X-Kong-LLM-Model"), w.Body.String())
				}
				if body == streamBody && (!strings.Contains(w.Body.String(), stub.Word(4)) || !strings.HasSuffix(w.Body.String(), "data: [DONE]\n\n") || strings.Contains(w.Body.String(), "Overloaded")) {
					t.Fatalf("stream %q", w.Body.String())
				}
				rec := p.last(t)
				if len(rec.Attempts) != 2 || rec.Attempts[0].Outcome != tc.outcome || rec.Attempts[1].Outcome != "ok" || rec.Target != "1:openai/gpt-ok" {
					t.Fatalf("attempts %+v target %q", rec.Attempts, rec.Target)
				}
				if rec.RequestModel != "gpt-ok" || rec.Usage == nil || rec.Usage.PromptTokens != stub.PromptTokens {
					t.Fatalf("statistics %+v usage %+v", rec, rec.Usage)
				}
				if up.Hits("gpt-ok") != 1 {
					t.Fatalf("secondary hit %d times", up.Hits("gpt-ok"))
				}
				// The secondary never saw the primary's key.
				if got := up.Last().Header.Get("Authorization"); got != "Bearer sk-gpt-ok" {
					t.Fatalf("secondary got Authorization %q", got)
				}
			})
		}
	}
}

// What is not a failure is the answer: a client error, a status outside
// the criteria, an error after content (an error event, never a second
// answer spliced in), a slow first byte within read_timeout.
func TestNoFailover(t *testing.T) {
	for _, tc := range []struct {
		fault, criteria, body string
		status                int
		outcome               string
	}{
		{"fault-400", allCriteria, chatBody, 400, "final"},
		{"fault-500", "[error, timeout]", chatBody, 500, "http_500"},
		{"fault-429", "[error, timeout, http_503]", chatBody, 429, "http_429"},
		{"fault-stream-error-after", allCriteria, streamBody, 200, "ok"},
		{"fault-slow-50ms", allCriteria, streamBody, 200, "ok"},
		// A throttle inside the stream is http_429 only where named (else
		// "error", like any error there); any other error there is "error".
		{"fault-stream-429-first", "[http_503]", streamBody, 429, "error"},
		{"fault-stream-error-first", "[http_429]", streamBody, 502, "error"},
	} {
		t.Run(tc.fault+tc.criteria, func(t *testing.T) {
			up, url := stubServer(t)
			p := newFailoverProxy(t, "{algorithm: priority, read_timeout: 5000, failover_criteria: "+tc.criteria+"}",
				advancedTarget(url, tc.fault, ""), strings.Replace(advancedTarget(url, "gpt-ok", ""), "route_type", "weight: 1\n    route_type", 1))
			w := p.serve(context.Background(), tc.body)
			if w.Code != tc.status || up.Hits("gpt-ok") != 0 {
				t.Fatalf("answer %d (want %d), secondary hits %d: %s", w.Code, tc.status, up.Hits("gpt-ok"), w.Body.String())
			}
			rec := p.last(t)
			if len(rec.Attempts) != 1 || rec.Attempts[0].Outcome != tc.outcome {
				t.Fatalf("attempts %+v", rec.Attempts)
			}
			if tc.fault == "fault-stream-error-after" && !strings.Contains(w.Body.String(), "Overloaded") {
				t.Fatalf("the error after content is not an error event: %q", w.Body.String())
			}
		})
	}
}

// When every target fails, the client sees the last target's error,
// OpenAI-shaped; retries bound the attempts.
func TestFailoverLastError(t *testing.T) {
	up, url := stubServer(t)
	p := newFailoverProxy(t, "{algorithm: round-robin, retries: 1, failover_criteria: "+allCriteria+"}",
		advancedTarget(url, "fault-500", ""), advancedTarget(url, "fault-503", ""))
	for i := 0; i < 4; i++ {
		w := p.serve(context.Background(), chatBody)
		rec := p.last(t)
		if len(rec.Attempts) != 2 || (w.Code != 500 && w.Code != 503) || !strings.Contains(w.Body.String(), `"error"`) {
			t.Fatalf("answer %d %s attempts %+v", w.Code, w.Body.String(), rec.Attempts)
		}
		if want := map[string]int{"fault-500": 500, "fault-503": 503}[strings.SplitN(rec.Attempts[1].Target, "/", 2)[1]]; w.Code != want {
			t.Fatalf("answer %d is not the last target's (%+v)", w.Code, rec.Attempts)
		}
	}
	if up.Hits("fault-500") != 4 || up.Hits("fault-503") != 4 {
		t.Fatalf("hits %d %d", up.Hits("fault-500"), up.Hits("fault-503"))
	}
}

// countingStore counts reservations and settlements.
type countingStore struct {
	limits.Store
	mu             sync.Mutex
	reserves, adds int
	total          float64
}

func (s *countingStore) Reserve(ctx context.Context, cs []limits.Charge) (bool, []float64, error) {
	ok, v, err := s.Store.Reserve(ctx, cs)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reserves++
	for _, c := range cs {
		if ok {
			s.total += c.Amount
		}
	}
	return ok, v, err
}

func (s *countingStore) Add(ctx context.Context, cs []limits.Charge) error {
	s.mu.Lock()
	s.adds++
	for _, c := range cs {
		s.total += c.Amount
	}
	s.mu.Unlock()
	return s.Store.Add(ctx, cs)
}

// A budget is reserved once per client request, at the dearest target's
// prices, and settled once, to the answering target's usage at its price.
func TestFailoverBudgetChargedOnce(t *testing.T) {
	_, url := stubServer(t)
	store := &countingStore{Store: limits.NewMemory(1000)}
	lim := limits.New(limits.Options{Local: store, Logger: discardLogger})
	doc := `_format_version: "3.0"
plugins:
  - name: ai-proxy-advanced
    config:
      balancer: {algorithm: priority, failover_criteria: ` + allCriteria + `}
      targets:` + strings.ReplaceAll(advancedTarget(url, "fault-503", ", input_cost: 100, output_cost: 100")+
		strings.Replace(advancedTarget(url, "gpt-ok", ", input_cost: 1, output_cost: 2"), "route_type", "weight: 1\n    route_type", 1), "\n", "\n    ") + `
  - name: ai-rate-limiting-advanced
    config:
      llm_providers: [{name: openai, limit: [1000], window_size: [3600]}]
      tokens_count_strategy: cost
`
	p := newFailoverProxyDoc(t, doc, lim, nil)
	for _, body := range []string{chatBody, streamBody} {
		store.mu.Lock()
		store.reserves, store.adds, store.total = 0, 0, 0
		store.mu.Unlock()
		w := p.serve(context.Background(), body)
		if w.Code != 200 {
			t.Fatalf("answer %d %s", w.Code, w.Body.String())
		}
		store.mu.Lock()
		want := (float64(stub.PromptTokens)*1 + 5*2) / 1e6
		if store.reserves != 1 || store.adds != 1 || math.Abs(store.total-want) > 1e-12 {
			t.Fatalf("%d reservations, %d settlements, charged %g, want 1, 1, %g", store.reserves, store.adds, store.total, want)
		}
		store.mu.Unlock()
	}
}

// max_fails failures open a target's circuit: it is skipped (no request
// reaches it) until fail_timeout passes; http_404 never counts.
func TestCircuitBreaker(t *testing.T) {
	up, url := stubServer(t)
	now := timeNow()
	reg := health.New(health.Options{Now: now.get})
	doc := "targets:" + advancedTarget(url, "primary", "") + strings.Replace(advancedTarget(url, "gpt-ok", ""), "route_type", "weight: 1\n    route_type", 1) +
		"\nbalancer: {algorithm: priority, max_fails: 2, fail_timeout: 10000, failover_criteria: [error, timeout, http_404, http_503]}\n"
	p := newFailoverProxyDoc(t, doc, nil, reg)
	up.SetFault("primary", "fault-404")
	for i := 0; i < 3; i++ {
		p.serve(context.Background(), chatBody)
	}
	if up.Hits("primary") != 3 {
		t.Fatalf("404s opened the circuit: %d hits", up.Hits("primary"))
	}
	up.SetFault("primary", "fault-503")
	p.serve(context.Background(), chatBody)
	p.serve(context.Background(), chatBody) // the second failure opens it
	for i := 0; i < 5; i++ {
		if w := p.serve(context.Background(), chatBody); w.Code != 200 {
			t.Fatalf("answer %d", w.Code)
		}
	}
	if up.Hits("primary") != 5 {
		t.Fatalf("the open circuit was not skipped: %d hits", up.Hits("primary"))
	}
	if rec := p.last(t); len(rec.Attempts) != 1 || rec.Target != "1:openai/gpt-ok" {
		t.Fatalf("attempts %+v", rec.Attempts)
	}
	up.SetFault("primary", "")
	now.add(10_001)
	if w := p.serve(context.Background(), chatBody); w.Code != 200 || up.Hits("primary") != 6 {
		t.Fatalf("after fail_timeout: %d, %d primary hits", w.Code, up.Hits("primary"))
	}
	if rec := p.last(t); rec.Target != "0:openai/primary" {
		t.Fatalf("closed circuit: answered by %q", rec.Target)
	}
}

// A throttle inside a 200 stream, before content, fails over under
// http_429 alone, and answers 429 when no target is left.
func TestInStreamThrottle(t *testing.T) {
	up, url := stubServer(t)
	p := newFailoverProxy(t, "{algorithm: priority, failover_criteria: [http_429]}",
		advancedTarget(url, "fault-stream-429-first", ""), strings.Replace(advancedTarget(url, "gpt-ok", ""), "route_type", "weight: 1\n    route_type", 1))
	if w := p.serve(context.Background(), streamBody); w.Code != 200 || up.Hits("gpt-ok") != 1 {
		t.Fatalf("answer %d, secondary hits %d: %s", w.Code, up.Hits("gpt-ok"), w.Body.String())
	}
	if rec := p.last(t); rec.Attempts[0].Outcome != "http_429" || rec.Attempts[0].Status != 429 {
		t.Fatalf("attempts %+v", rec.Attempts)
	}
	alone := newFailoverProxy(t, "{retries: 0, failover_criteria: [http_429]}", advancedTarget(url, "fault-stream-429-first", ""))
	w := alone.serve(context.Background(), streamBody)
	if w.Code != 429 || !strings.Contains(w.Body.String(), `"rate_limit_error"`) || !strings.Contains(w.Body.String(), "Rate limit reached") {
		t.Fatalf("answer %d %s", w.Code, w.Body.String())
	}
}

// A Retry-After takes the target out for every request until then, not
// only for this request's retries (when the breaker is on, whatever its
// max_fails), and only up to max(fail_timeout, a minute).
func TestRetryAfterPausesTarget(t *testing.T) {
	for _, tc := range []struct {
		name     string
		balancer string
		paused   bool
	}{
		{"breaker on", "max_fails: 5, fail_timeout: 10000", true},
		{"breaker off", "max_fails: 0", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up, url := stubServer(t)
			now := timeNow()
			reg := health.New(health.Options{Now: now.get})
			doc := "targets:" + advancedTarget(url, "primary", "") + strings.Replace(advancedTarget(url, "gpt-ok", ""), "route_type", "weight: 1\n    route_type", 1) +
				"\nbalancer: {algorithm: priority, " + tc.balancer + ", failover_criteria: [http_429]}\n"
			p := newFailoverProxyDoc(t, doc, nil, reg)
			up.SetFault("primary", "fault-429") // Retry-After: 1
			p.serve(context.Background(), chatBody)
			up.SetFault("primary", "")
			p.serve(context.Background(), chatBody)
			want := map[bool]int{true: 1, false: 2}[tc.paused]
			if up.Hits("primary") != want {
				t.Fatalf("primary asked %d times within its Retry-After, want %d", up.Hits("primary"), want)
			}
			now.add(1001)
			p.serve(context.Background(), chatBody)
			if up.Hits("primary") != want+1 {
				t.Fatalf("primary not asked after its Retry-After: %d hits", up.Hits("primary"))
			}
		})
	}
}

// The chain waits for a Retry-After only within the client's own timeout
// (X-Stainless-Timeout, as the OpenAI and Anthropic SDKs send it): past
// it, the client gets the 429 and its Retry-After at once.
func TestRetryAfterWithinClientTimeout(t *testing.T) {
	for _, tc := range []struct {
		timeout  string
		attempts int
	}{{"", 2}, {"600", 2}, {"1", 1}, {"garbage", 2}} {
		t.Run(tc.timeout, func(t *testing.T) {
			t.Parallel()
			up, url := stubServer(t)
			p := newFailoverProxy(t, "{retries: 1, failover_criteria: [http_429]}", advancedTarget(url, "fault-429", ""))
			var hdr []string
			if tc.timeout != "" {
				hdr = []string{"X-Stainless-Timeout", tc.timeout}
			}
			w := p.serve(context.Background(), chatBody, hdr...)
			if w.Code != 429 || w.Header().Get("Retry-After") != "1" || up.Hits("fault-429") != tc.attempts {
				t.Fatalf("answer %d (Retry-After %q) after %d attempts, want 429 after %d", w.Code, w.Header().Get("Retry-After"), up.Hits("fault-429"), tc.attempts)
			}
		})
	}
}

// A Retry-After of a day pauses a target for max(fail_timeout, a minute).
func TestRetryAfterBounded(t *testing.T) {
	now := timeNow()
	reg := health.New(health.Options{Now: now.get})
	bal := config.Balancer{MaxFails: 1, FailTimeout: 10 * time.Second}
	tg := reg.Get("k")
	pause(reg, tg, 24*time.Hour, bal)
	if down, until := tg.Down(now.get()); !down || until.Sub(now.get()) != maxPause {
		t.Fatalf("down %v for %v", down, until.Sub(now.get()))
	}
	bal.FailTimeout = 2 * time.Minute
	pause(reg, tg, 24*time.Hour, bal)
	if _, until := tg.Down(now.get()); until.Sub(now.get()) != 2*time.Minute {
		t.Fatalf("paused for %v, want fail_timeout", until.Sub(now.get()))
	}
}

// Every target open: 503 with Retry-After, nothing sent.
func TestCircuitAllOpen(t *testing.T) {
	up, url := stubServer(t)
	p := newFailoverProxy(t, "{max_fails: 1, fail_timeout: 60000, retries: 0, failover_criteria: [http_503]}", advancedTarget(url, "fault-503", ""))
	p.serve(context.Background(), chatBody)
	w := p.serve(context.Background(), chatBody)
	if w.Code != 503 || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), "targets_unavailable") || up.Hits("fault-503") != 1 {
		t.Fatalf("answer %d %v %s, %d hits", w.Code, w.Header(), w.Body.String(), up.Hits("fault-503"))
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func timeNow() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) get() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(ms int) {
	c.mu.Lock()
	c.t = c.t.Add(time.Duration(ms) * time.Millisecond)
	c.mu.Unlock()
}
