package configsource

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
)

// These tests drive the cache state machine with an in-memory SSM and a
// manual clock. Everything about the real API is tested against moto in
// moto_test.go.

const (
	unitParam = "/aiproxy/config"
	unitKey   = "/aiproxy/key"
	unitRef   = "{vault://ssm/aiproxy/key}"
	unitTTL   = time.Minute
)

var errThrottled = errors.New("ThrottlingException: Rate exceeded")

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		base, limit time.Duration
		failures    int
		want        time.Duration
	}{
		{time.Second, 30 * time.Second, 0, time.Second},
		{time.Second, 30 * time.Second, 1, time.Second},
		{time.Second, 30 * time.Second, 2, 2 * time.Second},
		{time.Second, 30 * time.Second, 5, 16 * time.Second},
		{time.Second, 30 * time.Second, 6, 30 * time.Second},
		{time.Second, 30 * time.Second, 1000, 30 * time.Second},
		{time.Minute, 5 * time.Minute, 3, 4 * time.Minute},
		{time.Minute, 5 * time.Minute, 4, 5 * time.Minute},
	} {
		if got := backoff(tc.base, tc.limit, tc.failures); got != tc.want {
			t.Errorf("backoff(%v, %v, %d) = %v, want %v", tc.base, tc.limit, tc.failures, got, tc.want)
		}
	}
}

func TestNextState(t *testing.T) {
	s := &SSMSource{ttl: time.Minute, retryMin: time.Second, retryMax: 30 * time.Second, refreshRetryMax: 5 * time.Minute}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	good := &config.Config{}
	newer := &config.Config{}
	for _, tc := range []struct {
		name         string
		prev         *snapshot
		cfg          *config.Config
		err          error
		wantCfg      *config.Config
		wantDelay    time.Duration
		wantFailures int
	}{
		{"first load succeeds", &snapshot{}, good, nil, good, time.Minute, 0},
		{"refresh succeeds", &snapshot{cfg: good}, newer, nil, newer, time.Minute, 0},
		{"success resets failures", &snapshot{cfg: good, failures: 4, err: errThrottled}, newer, nil, newer, time.Minute, 0},
		{"first load fails", &snapshot{}, nil, errThrottled, nil, time.Second, 1},
		{"third cold failure", &snapshot{failures: 2, err: errThrottled}, nil, errThrottled, nil, 4 * time.Second, 3},
		{"cold failures cap", &snapshot{failures: 20, err: errThrottled}, nil, errThrottled, nil, 30 * time.Second, 21},
		{"refresh fails: wait a TTL", &snapshot{cfg: good}, nil, errThrottled, good, time.Minute, 1},
		{"refresh fails again: double", &snapshot{cfg: good, failures: 1}, nil, errThrottled, good, 2 * time.Minute, 2},
		{"refresh failures cap", &snapshot{cfg: good, failures: 9}, nil, errThrottled, good, 5 * time.Minute, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := s.next(tc.prev, tc.cfg, 1, tc.err, now)
			if got.cfg != tc.wantCfg {
				t.Errorf("cfg = %p, want %p", got.cfg, tc.wantCfg)
			}
			if d := got.due.Sub(now); d != tc.wantDelay {
				t.Errorf("next attempt in %v, want %v", d, tc.wantDelay)
			}
			if got.failures != tc.wantFailures {
				t.Errorf("failures = %d, want %d", got.failures, tc.wantFailures)
			}
			if (got.err != nil) != (tc.err != nil) {
				t.Errorf("err = %v, want %v", got.err, tc.err)
			}
		})
	}
}

// step is one event in a state-machine scenario.
type step struct {
	advance   time.Duration
	put       string // new document version
	fail      error  // make GetParameter fail from now on
	heal      bool   // make it succeed again
	wantModel string // expected model of Current's config; "" expects an error
	wantCalls int    // GetParameter calls so far (cold-start load included)
	wantWarns int    // warnings so far
	wantErrs  int    // error-level lines (failed loads with nothing to serve)
}

func TestSSMSourceScenarios(t *testing.T) {
	for _, tc := range []struct {
		name       string
		initialDoc string // "" leaves the parameter missing
		initialErr error
		steps      []step
	}{
		{
			name:       "fresh config served from cache",
			initialDoc: doc("A", unitRef),
			steps: []step{
				{wantModel: "A", wantCalls: 1},
				{advance: 59 * time.Second, put: doc("B", unitRef), wantModel: "A", wantCalls: 1},
			},
		},
		{
			name:       "stale while revalidate",
			initialDoc: doc("A", unitRef),
			steps: []step{
				{advance: 61 * time.Second, put: doc("B", unitRef), wantModel: "A", wantCalls: 2},
				{wantModel: "B", wantCalls: 2},
				{advance: 30 * time.Second, wantModel: "B", wantCalls: 2},
			},
		},
		{
			name:       "failed refreshes keep the last good config and back off",
			initialDoc: doc("A", unitRef),
			steps: []step{
				{advance: unitTTL, fail: errThrottled, wantModel: "A", wantCalls: 2, wantWarns: 1},
				{wantModel: "A", wantCalls: 2, wantWarns: 1},
				{advance: 59 * time.Second, wantModel: "A", wantCalls: 2, wantWarns: 1},
				{advance: time.Second, wantModel: "A", wantCalls: 3, wantWarns: 2},       // after 1 TTL
				{advance: 119 * time.Second, wantModel: "A", wantCalls: 3, wantWarns: 2}, // backoff is now 2 TTL
				{advance: time.Second, wantModel: "A", wantCalls: 4, wantWarns: 3},       // 2 TTL
				{advance: 4 * time.Minute, heal: true, put: doc("B", unitRef), wantModel: "A", wantCalls: 5, wantWarns: 3},
				{wantModel: "B", wantCalls: 5, wantWarns: 3},
				{advance: 59 * time.Second, wantModel: "B", wantCalls: 5, wantWarns: 3}, // back to the plain TTL
			},
		},
		{
			name:       "invalid new document keeps the old one",
			initialDoc: doc("A", unitRef),
			steps: []step{
				{advance: unitTTL, put: invalidDoc(unitRef), wantModel: "A", wantCalls: 2, wantWarns: 1},
				{advance: unitTTL, put: doc("C", unitRef), wantModel: "A", wantCalls: 3, wantWarns: 1},
				{wantModel: "C", wantCalls: 3, wantWarns: 1},
			},
		},
		{
			name:       "deleted reference keeps the old config",
			initialDoc: doc("A", unitRef),
			steps: []step{
				{advance: unitTTL, put: doc("B", "{vault://ssm/aiproxy/gone}"), wantModel: "A", wantCalls: 2, wantWarns: 1},
			},
		},
		{
			name:       "cold start failure backs off, then recovers",
			initialDoc: doc("A", unitRef),
			initialErr: errThrottled,
			steps: []step{
				{wantModel: "", wantCalls: 1, wantErrs: 1},
				{advance: 999 * time.Millisecond, wantModel: "", wantCalls: 1, wantErrs: 1}, // inside 1s backoff: no call
				{advance: time.Millisecond, wantModel: "", wantCalls: 2, wantErrs: 2},       // waits for the retry
				{advance: time.Second, wantModel: "", wantCalls: 2, wantErrs: 2},            // backoff is now 2s
				{advance: time.Second, wantModel: "", wantCalls: 3, wantErrs: 3},
				{advance: 4 * time.Second, heal: true, wantModel: "A", wantCalls: 4, wantErrs: 3}, // the caller gets the new load
				{wantModel: "A", wantCalls: 4, wantErrs: 3},
			},
		},
		{
			name:       "missing document parameter",
			initialDoc: "",
			steps: []step{
				{wantModel: "", wantCalls: 1, wantErrs: 1},
				{advance: time.Second, put: doc("A", unitRef), wantModel: "A", wantCalls: 2, wantErrs: 1},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFake()
			fake.put(unitKey, "sk-unit-secret")
			if tc.initialDoc != "" {
				fake.put(unitParam, tc.initialDoc)
			}
			fake.setErr(tc.initialErr)
			clock := newClock()
			logger, logs := newLogger()
			src, err := newSSM(context.Background(), SSMOptions{Client: fake, Parameter: unitParam, TTL: unitTTL, Logger: logger}, clock.Now)
			if err != nil {
				t.Fatal(err)
			}
			for i, st := range tc.steps {
				clock.Add(st.advance)
				if st.put != "" {
					fake.put(unitParam, st.put)
				}
				if st.fail != nil {
					fake.setErr(st.fail)
				}
				if st.heal {
					fake.setErr(nil)
				}
				cfg, err := src.Current(context.Background())
				src.waitIdle()
				switch {
				case st.wantModel == "" && err == nil:
					t.Fatalf("step %d: got config %q, want an error", i, modelOf(cfg))
				case st.wantModel == "" && !errors.Is(err, config.ErrNoConfig):
					t.Fatalf("step %d: error %v does not wrap ErrNoConfig", i, err)
				case st.wantModel != "" && err != nil:
					t.Fatalf("step %d: %v", i, err)
				case st.wantModel != "" && modelOf(cfg) != st.wantModel:
					t.Fatalf("step %d: model %q, want %q", i, modelOf(cfg), st.wantModel)
				}
				if n := fake.calls(); n != st.wantCalls {
					t.Fatalf("step %d: %d GetParameter calls, want %d", i, n, st.wantCalls)
				}
				if n := logs.count("WARN"); n != st.wantWarns {
					t.Fatalf("step %d: %d warnings, want %d:\n%s", i, n, st.wantWarns, logs)
				}
				if n := logs.count("ERROR"); n != st.wantErrs {
					t.Fatalf("step %d: %d errors logged, want %d:\n%s", i, n, st.wantErrs, logs)
				}
			}
			assertNoSecret(t, "sk-unit-secret", logs.String())
		})
	}
}

// TestStaleServedWhileOneRefreshRuns checks that, with a good config
// cached, no caller waits on a slow SSM and concurrent callers start a
// single refresh.
func TestStaleServedWhileOneRefreshRuns(t *testing.T) {
	fake := newFake()
	fake.put(unitKey, "k")
	fake.put(unitParam, doc("A", unitRef))
	clock := newClock()
	logger, _ := newLogger()
	src, err := newSSM(context.Background(), SSMOptions{Client: fake, Parameter: unitParam, TTL: unitTTL, Logger: logger}, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	fake.setGate(gate)
	fake.put(unitParam, doc("B", unitRef))
	clock.Add(unitTTL)

	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			cfg, err := src.Current(ctx)
			if err != nil || modelOf(cfg) != "A" {
				t.Errorf("Current during refresh = %q, %v; want the cached A at once", modelOf(cfg), err)
			}
		}()
	}
	wg.Wait() // all returned while GetParameter is still blocked
	// The refresh goroutine reaches GetParameter on its own schedule.
	for deadline := time.Now().Add(2 * time.Second); fake.calls() < 2 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // room for any extra refresh to show up
	if n := fake.calls(); n != 2 {
		t.Fatalf("%d GetParameter calls, want 2 (cold start + one refresh)", n)
	}
	close(gate)
	src.waitIdle()
	if cfg, _ := src.Current(context.Background()); modelOf(cfg) != "B" {
		t.Fatalf("after refresh: %q, want B", modelOf(cfg))
	}
}

// TestNoConfigCallersShareOneLoad checks that, with nothing to serve,
// callers during a retry wait for that one retry rather than start more,
// and that a caller's context bounds its wait.
func TestNoConfigCallersShareOneLoad(t *testing.T) {
	fake := newFake()
	fake.put(unitKey, "k")
	fake.setErr(errThrottled)
	clock := newClock()
	logger, _ := newLogger()
	src, err := newSSM(context.Background(), SSMOptions{Client: fake, Parameter: unitParam, TTL: unitTTL, Logger: logger}, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Current(context.Background()); !errors.Is(err, config.ErrNoConfig) {
		t.Fatalf("after failed cold start: %v", err)
	}
	gate := make(chan struct{})
	fake.setGate(gate)
	fake.setErr(nil)
	fake.put(unitParam, doc("A", unitRef))
	clock.Add(DefaultRetryMin)

	// A caller whose context ends gives up with ErrNoConfig.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := src.Current(ctx); !errors.Is(err, config.ErrNoConfig) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Current with expiring context: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Current waited %v past its context", d)
	}

	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg, err := src.Current(context.Background())
			if err != nil || modelOf(cfg) != "A" {
				t.Errorf("Current = %q, %v; want A", modelOf(cfg), err)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond) // let them queue on the flight
	close(gate)
	wg.Wait()
	if n := fake.calls(); n != 2 {
		t.Fatalf("%d GetParameter calls, want 2 (cold start + one shared retry)", n)
	}
}

func TestNewSSMOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts SSMOptions
		want string
	}{
		{"no client", SSMOptions{Parameter: "/x"}, "Client"},
		{"no parameter", SSMOptions{Client: newFake()}, "Parameter"},
		{"negative ttl", SSMOptions{Client: newFake(), Parameter: "/x", TTL: -time.Second}, "positive"},
		{"retry max below min", SSMOptions{Client: newFake(), Parameter: "/x", RetryMin: time.Minute, RetryMax: time.Second}, "RetryMax"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewSSM(context.Background(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %s", err, tc.want)
			}
		})
	}
}

// TestMaxStaleRefusesKeys: while refreshes fail, keys keep working up to
// MaxStale after the last good load; then key-auth refuses every key
// (logged once) while the upstream key keeps its last good value, and a
// successful refresh restores the keys.
func TestMaxStaleRefusesKeys(t *testing.T) {
	const key = "team-a-key-0123"
	fake := newFake()
	fake.put("/u/key", "sk-upstream-0123")
	fake.put("/u/client", key)
	fake.put("/u/config", keyAuthDoc(ref("/u/key"), ref("/u/client"), "sha256:"+strings.Repeat("ab", 32)))
	clock := newClock()
	logger, logs := newLogger()
	src, err := newSSM(context.Background(), SSMOptions{Client: fake, Parameter: "/u/config", TTL: time.Minute, MaxStale: 10 * time.Minute, Logger: logger}, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	fake.setErr(errThrottled)
	for _, st := range []struct {
		advance time.Duration
		want    string
	}{
		{5 * time.Minute, "team-a"},
		{5 * time.Minute, "team-a"}, // exactly MaxStale
		{time.Second, ""},
		{time.Minute, ""},
	} {
		clock.Add(st.advance)
		if got := consumerOf(t, src, key); got != st.want {
			t.Fatalf("after %v more: key identifies %q, want %q", st.advance, got, st.want)
		}
		src.waitIdle()
	}
	cfg, _ := src.Current(context.Background())
	if headerOf(cfg) != "Bearer sk-upstream-0123" {
		t.Errorf("upstream key = %q, want the last good value", headerOf(cfg))
	}
	if n := strings.Count(logs.String(), "staleness limit"); n != 1 {
		t.Errorf("%d staleness errors logged, want 1:\n%s", n, logs.String())
	}
	fake.setErr(nil)
	clock.Add(10 * time.Minute)
	consumerOf(t, src, key) // starts the refresh
	src.waitIdle()
	if got := consumerOf(t, src, key); got != "team-a" {
		t.Fatalf("after a good refresh the key identifies %q", got)
	}
}

func TestFromEnvMaxStale(t *testing.T) {
	for _, v := range []string{"1s", "soon", "-5m"} {
		getenv := func(k string) string {
			return map[string]string{EnvParameter: "/aiproxy/config", EnvMaxStale: v}[k]
		}
		if _, _, err := FromEnv(context.Background(), getenv, nil, nil); err == nil || !strings.Contains(err.Error(), EnvMaxStale) {
			t.Errorf("%s=%s: err = %v, want it refused (shorter than the TTL or not a duration)", EnvMaxStale, v, err)
		}
	}
}

// TestFromEnvLogsConfigWarnings: a plugin that only logs in Kong loads with
// a warning, and the operator must see it once, not never.
func TestFromEnvLogsConfigWarnings(t *testing.T) {
	doc := []byte(`_format_version: "3.0"
routes:
  - name: chat
    paths: [/chat]
plugins:
  - name: file-log
    config: {path: /tmp/kong.log}
  - name: ai-proxy
    config:
      route_type: llm/v1/chat
      auth: {header_name: Authorization, header_value: Bearer k}
      model: {provider: openai, name: gpt-4o}
`)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	if _, _, err := FromEnv(context.Background(), func(string) string { return "" }, doc, logger); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "file-log"); n != 1 {
		t.Fatalf("want the file-log warning logged once, got %d times:\n%s", n, logs.String())
	}
}
