package configsource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
)

// Defaults for SSMOptions.
const (
	// DefaultTTL is how long a loaded config is served before a background
	// refresh is started.
	DefaultTTL = 60 * time.Second
	// DefaultLoadTimeout bounds one load (GetParameter, GetParameters,
	// parse), including the SDK's own retries. Lambda's init phase allows
	// 10 s, and the cold-start load must fit in it with room to spare.
	DefaultLoadTimeout = 5 * time.Second
	// DefaultRetryMin and DefaultRetryMax bound the backoff between load
	// attempts while no config was ever loaded.
	DefaultRetryMin = 1 * time.Second
	DefaultRetryMax = 30 * time.Second
	// DefaultRefreshRetryMax caps the backoff between refresh attempts
	// that fail while a good config is being served (or the TTL, if that
	// is longer).
	DefaultRefreshRetryMax = 5 * time.Minute
	// DefaultMaxStale bounds how long key-auth keys from a config that can
	// no longer be refreshed keep working. Past it, a key deleted or
	// replaced in SSM during the outage might still be accepted, so every
	// key is refused until a refresh succeeds (the upstream key keeps its
	// last good value). 15 minutes rides out a short SSM or network blip
	// (about five refresh attempts with the default backoff) while keeping
	// a revoked key's window short.
	DefaultMaxStale = 15 * time.Minute
)

// SSMOptions configure an SSM source. Zero durations take the defaults.
type SSMOptions struct {
	// Client reads the document and the parameters it references. Keep one
	// for the process lifetime.
	Client SSMAPI
	// Parameter names the parameter holding the configuration document
	// (String or SecureString), e.g. /aiproxy/config.
	Parameter string
	TTL       time.Duration
	// LookupEnv reads the environment for ${{ env }} and {vault://env}.
	// Nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Logger receives one warning per failed load and an info line when a
	// new version is loaded. Nil means slog.Default().
	Logger *slog.Logger
	// MaxStale is how long after the last successful load key-auth keys
	// are still honoured while refreshes fail (DefaultMaxStale). It must
	// not be shorter than the TTL.
	MaxStale        time.Duration
	LoadTimeout     time.Duration
	RetryMin        time.Duration
	RetryMax        time.Duration
	RefreshRetryMax time.Duration
	// Prefetch names parameters the document is expected to reference, to
	// be read in the same call as the document (see EnvPrefetch).
	Prefetch []string
}

// SSMSource serves the configuration document stored in an SSM parameter.
//
// Its state machine:
//   - Fresh (a config is loaded and its TTL has not passed): Current
//     returns it; the cost is one atomic load and a clock read.
//   - Stale (TTL passed): the first Current starts one background load
//     and, like every other caller, returns the cached config at once.
//     Success stores the new config (atomic pointer) for later calls.
//   - Refresh failed: the cached config stays; one warning is logged; the
//     next attempt waits the TTL, doubling per consecutive failure up to
//     RefreshRetryMax (or the TTL if longer).
//   - Never loaded: Current returns an error wrapping config.ErrNoConfig.
//     After RetryMin (doubling to RetryMax per failure) the next call
//     starts a load and waits for it (bounded by its context); calls inside
//     the backoff window fail at once without touching SSM, and calls
//     during a load wait for that load instead of starting another.
//
// A Lambda freeze in the middle of a background load only makes that load
// time out or fail; it is then retried like any failure.
type SSMSource struct {
	client          SSMAPI
	param           string
	ttl             time.Duration
	lookupEnv       func(string) (string, bool)
	logger          *slog.Logger
	loadTimeout     time.Duration
	retryMin        time.Duration
	retryMax        time.Duration
	refreshRetryMax time.Duration
	maxStale        time.Duration
	prefetch        []string
	now             func() time.Time // swapped by unit tests

	snap atomic.Pointer[snapshot]

	mu     sync.Mutex // guards flight and serializes snapshot updates
	flight *flight
}

// snapshot is one immutable state of the source.
type snapshot struct {
	cfg      *config.Config // last good config; nil if none was ever loaded
	version  int64          // the document parameter's version behind cfg
	due      time.Time      // no load is started before this instant
	err      error          // the last load's failure (safe to show), nil after success
	failures int            // consecutive failed loads
	loaded   time.Time      // when cfg was loaded
	revoked  []string       // key parameters found missing (keys refused)
	// refused is cfg with every key-auth key refused, served once cfg is
	// older than maxStale; staleLogged makes that warning once per state.
	refused     *config.Config
	staleLogged atomic.Bool
}

// flight is one load in progress; done is closed when its result is stored.
type flight struct {
	done chan struct{}
}

// NewSSM builds an SSM source and performs the first load before it
// returns, bounded by LoadTimeout and ctx. A failed first load is logged and
// is not an error: the source then answers config.ErrNoConfig and retries
// with backoff. Only invalid options are errors.
func NewSSM(ctx context.Context, opts SSMOptions) (*SSMSource, error) {
	return newSSM(ctx, opts, time.Now)
}

// newSSM is NewSSM with an injectable clock, which must be safe for
// concurrent use.
func newSSM(ctx context.Context, opts SSMOptions, now func() time.Time) (*SSMSource, error) {
	if opts.Client == nil {
		return nil, errors.New("configsource: SSMOptions.Client is nil")
	}
	if opts.Parameter == "" {
		return nil, errors.New("configsource: SSMOptions.Parameter is empty")
	}
	s := &SSMSource{
		client:          opts.Client,
		param:           opts.Parameter,
		ttl:             orDefault(opts.TTL, DefaultTTL),
		lookupEnv:       opts.LookupEnv,
		logger:          opts.Logger,
		loadTimeout:     orDefault(opts.LoadTimeout, DefaultLoadTimeout),
		retryMin:        orDefault(opts.RetryMin, DefaultRetryMin),
		retryMax:        orDefault(opts.RetryMax, DefaultRetryMax),
		refreshRetryMax: orDefault(opts.RefreshRetryMax, DefaultRefreshRetryMax),
		maxStale:        orDefault(opts.MaxStale, DefaultMaxStale),
		prefetch:        ParsePrefetch(strings.Join(opts.Prefetch, ",")),
		now:             now,
	}
	if s.lookupEnv == nil {
		s.lookupEnv = os.LookupEnv
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.ttl < 0 || s.loadTimeout < 0 || s.retryMin < 0 || s.retryMax < s.retryMin || s.refreshRetryMax < 0 {
		return nil, errors.New("configsource: SSMOptions durations must be positive, with RetryMax >= RetryMin")
	}
	if s.maxStale < s.ttl {
		return nil, fmt.Errorf("configsource: MaxStale (%s) must not be shorter than the TTL (%s)", s.maxStale, s.ttl)
	}
	s.snap.Store(&snapshot{err: errors.New("not loaded yet")})
	s.init(ctx)
	return s, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// init runs the cold-start load and waits for it, or for ctx.
func (s *SSMSource) init(ctx context.Context) {
	f := s.startLoad()
	select {
	case <-f.done:
	case <-ctx.Done():
		// The load goes on in the background, bounded by loadTimeout.
	}
}

// Parameter is the name of the document parameter.
func (s *SSMSource) Parameter() string { return s.param }

// Current implements config.Source.
func (s *SSMSource) Current(ctx context.Context) (*config.Config, error) {
	snap := s.snap.Load()
	if s.now().Before(snap.due) {
		return s.result(snap)
	}
	f := s.startLoad()
	if snap.cfg != nil {
		// Stale while revalidate: never make a request wait on SSM while
		// there is a config to serve.
		return s.result(snap)
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: waiting for config parameter %q: %w", config.ErrNoConfig, s.param, ctx.Err())
	}
	return s.result(s.snap.Load())
}

// result is what a snapshot serves: its config, with every key-auth key
// refused once the config is older than maxStale.
func (s *SSMSource) result(snap *snapshot) (*config.Config, error) {
	if snap.cfg == nil {
		return nil, fmt.Errorf("%w: config parameter %q: %w", config.ErrNoConfig, s.param, snap.err)
	}
	if snap.refused == nil {
		return snap.cfg, nil
	}
	age := s.now().Sub(snap.loaded)
	if age <= s.maxStale {
		return snap.cfg, nil
	}
	if !snap.staleLogged.Swap(true) {
		s.logger.Error("config is older than its staleness limit: key-auth refuses every key until a refresh succeeds; the upstream key keeps its last good value",
			"parameter", s.param, "serving_version", snap.version, "age", age.Round(time.Second).String(),
			"max_stale", s.maxStale.String(), "env", EnvMaxStale, "error", errString(snap.err))
	}
	return snap.refused, nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

var closedFlight = func() *flight {
	f := &flight{done: make(chan struct{})}
	close(f.done)
	return f
}()

// startLoad returns the load in progress, starting one if none is and one
// is due.
func (s *SSMSource) startLoad() *flight {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flight != nil {
		return s.flight
	}
	// Another caller's load may have finished since our snapshot was read.
	if s.now().Before(s.snap.Load().due) {
		return closedFlight
	}
	f := &flight{done: make(chan struct{})}
	s.flight = f
	go s.load(f)
	return f
}

// load runs one load and stores its outcome. It is detached from any
// request: a client that goes away must not cancel a refresh others need.
func (s *SSMSource) load(f *flight) {
	ctx, cancel := context.WithTimeout(context.Background(), s.loadTimeout)
	cfg, version, revoked, err := s.fetch(ctx)
	cancel()

	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.snap.Load()
	next := s.next(prev, cfg, version, err, s.now())
	next.revoked = revoked
	s.snap.Store(next)
	// Log before waking waiters, so that whoever observes the outcome
	// also observes its log line.
	s.logOutcome(prev, next)
	s.flight = nil
	close(f.done)
}

// next computes the state after a load. It is a pure function of its
// inputs, which the unit tests exercise directly.
func (s *SSMSource) next(prev *snapshot, cfg *config.Config, version int64, err error, now time.Time) *snapshot {
	if err == nil {
		return &snapshot{cfg: cfg, version: version, due: now.Add(s.ttl), loaded: now}
	}
	n := prev.failures + 1
	var delay time.Duration
	if prev.cfg != nil {
		delay = backoff(s.ttl, max(s.refreshRetryMax, s.ttl), n)
	} else {
		delay = backoff(s.retryMin, s.retryMax, n)
	}
	next := &snapshot{cfg: prev.cfg, version: prev.version, due: now.Add(delay), err: err, failures: n, loaded: prev.loaded, revoked: prev.revoked}
	if prev.cfg != nil {
		next.refused = prev.cfg.RefuseKeys()
	}
	return next
}

// backoff is base doubled per failure after the first, capped at limit.
func backoff(base, limit time.Duration, failures int) time.Duration {
	if failures < 1 {
		failures = 1
	}
	d := float64(base) * math.Pow(2, float64(failures-1))
	if d > float64(limit) {
		return limit
	}
	return time.Duration(d)
}

func (s *SSMSource) logOutcome(prev, next *snapshot) {
	if next.err == nil && len(next.revoked) > 0 && !slices.Equal(prev.revoked, next.revoked) {
		s.logger.Warn("client key parameters not found; those keys are refused (revoked)",
			"parameter", s.param, "key_parameters", next.revoked)
	}
	switch {
	case next.err != nil && next.cfg != nil:
		s.logger.Warn("config refresh failed; serving the last good config",
			"parameter", s.param, "serving_version", next.version, "error", next.err.Error(),
			"failures", next.failures, "retry_in", next.due.Sub(s.now()).Round(time.Millisecond).String())
	case next.err != nil:
		s.logger.Error("config load failed; no config to serve (requests get 503)",
			"parameter", s.param, "error", next.err.Error(),
			"failures", next.failures, "retry_in", next.due.Sub(s.now()).Round(time.Millisecond).String())
	case prev.cfg == nil:
		s.logger.Info("config loaded", "parameter", s.param, "version", next.version)
	case prev.err != nil || prev.version != next.version:
		s.logger.Info("config refreshed", "parameter", s.param, "version", next.version, "previous_version", prev.version)
	default:
		s.logger.Debug("config refreshed", "parameter", s.param, "version", next.version)
	}
	if next.err == nil && (prev.cfg == nil || prev.version != next.version) {
		logWarnings(s.logger, next.cfg, "parameter", s.param, "version", next.version)
	}
}

// fetch reads the document and compiles it, resolving its references in
// one batched pass.
func (s *SSMSource) fetch(ctx context.Context) (cfg *config.Config, version int64, revoked []string, err error) {
	if len(s.prefetch) > 0 {
		return s.fetchPrefetched(ctx)
	}
	out, err := s.client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(s.param), WithDecryption: aws.Bool(true)})
	if err != nil {
		return nil, 0, nil, fmt.Errorf("read config parameter %q: %w", s.param, SafeError(err))
	}
	if out.Parameter == nil {
		return nil, 0, nil, fmt.Errorf("read config parameter %q: empty response", s.param)
	}
	version = out.Parameter.Version
	cfg, revoked, err = parseDocument(ctx, []byte(aws.ToString(out.Parameter.Value)), s.lookupEnv, s.client)
	if err != nil {
		return nil, version, nil, fmt.Errorf("config parameter %q version %d: %w", s.param, version, err)
	}
	return cfg, version, revoked, nil
}

// fetchPrefetched is fetch with the document and the prefetch names read
// in one call; the resolver then takes the referenced values from it.
func (s *SSMSource) fetchPrefetched(ctx context.Context) (*config.Config, int64, []string, error) {
	doc, pre, err := s.fetchWithPrefetch(ctx)
	if err != nil {
		return nil, 0, nil, err
	}
	version := doc.Version
	cfg, revoked, err := parseDocument(ctx, []byte(aws.ToString(doc.Value)), s.lookupEnv, pre)
	if err != nil {
		return nil, version, nil, fmt.Errorf("config parameter %q version %d: %w", s.param, version, err)
	}
	if unused := pre.unused(); len(pre.missed) > 0 || len(unused) > 0 {
		// Names only, never values: the hint is out of date, which costs a
		// round trip (missed) or a little bandwidth (unused), nothing else.
		// Said once at info (the first load), then at debug per refresh.
		level := slog.LevelDebug
		if s.snap.Load().cfg == nil {
			level = slog.LevelInfo
		}
		s.logger.Log(ctx, level, "config prefetch list differs from what the document references", "env", EnvPrefetch,
			"referenced_not_prefetched", strings.Join(pre.missed, ","), "prefetched_not_referenced", strings.Join(unused, ","))
	}
	return cfg, version, revoked, nil
}
