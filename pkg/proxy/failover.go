package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptrace"

	"strconv"
	"sync/atomic"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/balancer"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/health"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/limits"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

// An ai-proxy-advanced request is one ReverseProxy exchange whose transport
// is an attempt chain: ReverseProxy calls RoundTrip once and writes nothing
// to the client before it returns, so every attempt before the first good
// answer is invisible to the client. Each target is shaped in prepare, as
// an ai-proxy plan of its own (model, body, URL, driver transport, auth);
// the chain tries them in the balancer's order, classifies each answer
// (failover_criteria), holds an event stream's opening events until its
// first content so that an error sent inside a 200 still fails over, and
// returns the first good answer, or the last target's error. The exchange
// then continues with the answering target's plan: its model header, its
// statistics, its price for the rate limit's settlement.

// chain is one request's targets and what happened to them.
type chain struct {
	adv     *config.Advanced
	leadID  string // the plugin's id, for statistics
	route   string
	targets []*attemptTarget
	// tried is every attempt, in order; answered the target that
	// answered (its index in targets), -1 when none did.
	tried    []stats.Attempt
	answered int
	// answeredAt is when the answering attempt was sent.
	answeredAt time.Time
	// clientHeader holds, on a Messages route, the client's header that
	// each target's shaping decides on afresh (messagesOutgoing):
	// Accept-Encoding as the target's answer needs it.
	clientHeader http.Header
}

// attemptTarget is one target shaped for this request.
type attemptTarget struct {
	index int // in adv.Targets
	cfg   *config.Target
	plan  *plan
	// override is the client's own value of this target's auth header
	// (allow_override), captured before the outgoing headers were
	// rewritten.
	override string
	key      string // the health registry's key
	h        *health.Target
}

// peekLimit bounds the opening events held before a stream commits.
const peekLimit = 64 << 10

// shapeTargets shapes every target as the ai-proxy plan it would be. A
// target that cannot take this request (its driver refuses a field, its
// provider is not in this build) is left out; when none can, the first
// target's refusal is the answer. The plan itself becomes the first
// shaped target's, carrying the chain.
func (pl *plan) shapeTargets(rt *config.Route, r *http.Request, captures map[string]string, key presented, drivers provider.Set) *apiError {
	adv := rt.Plugin.Advanced
	c := &chain{adv: adv, leadID: rt.Plugin.ID, route: rt.Name, answered: -1}
	if rt.Plugin.LLMFormat == config.FormatAnthropic {
		c.clientHeader = http.Header{}
		if v := r.Header.Values("Accept-Encoding"); len(v) > 0 {
			c.clientHeader["Accept-Encoding"] = v
		}
	}
	var first *apiError
	for i, t := range adv.Targets {
		tp := *pl
		tp.plugin = t.Plugin
		tp.balanced = true
		trt := *rt
		trt.Plugin = t.Plugin
		if e := tp.shape(&trt, r, captures, key, drivers); e != nil {
			if first == nil {
				first = e
			}
			continue
		}
		at := &attemptTarget{index: i, cfg: t, plan: &tp, key: rt.Name + "|" + t.Name}
		if tp.keepAuthHeader {
			at.override = r.Header.Get(t.Plugin.Auth.HeaderName)
		}
		c.targets = append(c.targets, at)
	}
	if len(c.targets) == 0 {
		return first
	}
	lead := *c.targets[0].plan
	lead.plugin = c.targets[0].cfg.Plugin
	lead.chain = c
	*pl = lead
	return nil
}

// worstCase makes a reservation cover whichever target answers: the
// largest body and completion cap, the highest prices.
func (c *chain) worstCase(req *limits.Request) {
	for _, t := range c.targets {
		w := limits.Estimate(len(t.plan.body), completionCap(t.plan.body), 0)
		req.Worst.PromptTokens = max(req.Worst.PromptTokens, w.PromptTokens)
		req.Worst.CompletionTokens = max(req.Worst.CompletionTokens, w.CompletionTokens)
		req.Prices.Input = max(req.Prices.Input, t.plan.price.input)
		req.Prices.Output = max(req.Prices.Output, t.plan.price.output)
	}
}

// settlePrices charges the settlement at the answering target's prices.
func settlePrices(pl *plan) {
	if pl.chain == nil || pl.limit == nil {
		return
	}
	pl.limit.SettleAt(pl.price.limits())
}

// failure kinds, named as failover_criteria names them.
var criterionName = map[config.Criteria]string{
	config.FailError: "error", config.FailTimeout: "timeout", config.FailInvalidHeader: "invalid_header",
	config.FailHTTP403: "http_403", config.FailHTTP404: "http_404", config.FailHTTP429: "http_429",
	config.FailHTTP500: "http_500", config.FailHTTP502: "http_502", config.FailHTTP503: "http_503", config.FailHTTP504: "http_504",
}

// roundTrip runs the chain.
func (c *chain) roundTrip(ex *exchange, base http.RoundTripper, reg *health.Registry, r *http.Request) (*http.Response, error) {
	bal := c.adv.Balancer
	order, up := c.order(reg, r)
	if up == 0 {
		return c.allDown(ex, r)
	}
	attempts := min(bal.Retries+1, 64)
	clientBy := clientDeadline(r.Header)
	retryAt := make(map[int]time.Time, 2)
	var last *http.Response
	var lastErr error
	for n := 0; n < attempts; n++ {
		t := c.targets[order[n%up]]
		if n >= up {
			// Every healthy target failed once; try them again in the
			// same order, after the target's Retry-After (or a short
			// backoff), if that fits the deadline.
			wait := time.Duration(50<<min(n/up-1, 4)) * time.Millisecond
			if at, ok := retryAt[t.index]; ok {
				wait = max(time.Until(at), 0)
			}
			if !fits(r.Context(), clientBy, wait, bal) || !sleep(r.Context(), wait) {
				break
			}
		}
		if last != nil {
			discard(last.Body)
			last = nil
		}
		sent := time.Now()
		res, kind, err := c.try(t, base, r, bal)
		a := stats.Attempt{Target: t.cfg.Name, Latency: time.Since(sent), Outcome: "ok"}
		if res != nil {
			a.Status = res.StatusCode
		}
		switch {
		case kind == 0 && err == nil && res.StatusCode < 300:
			c.tried = append(c.tried, a)
			reg.Succeed(t.h)
			c.answer(ex, t, sent)
			return res, nil
		case kind == 0 || !bal.FailoverCriteria.Has(kind) || r.Context().Err() != nil:
			// Not a failure this plugin fails over on (a client error, a
			// status not in the criteria), or the client is gone: the
			// answer as it is.
			a.Outcome = "final"
			if kind != 0 {
				a.Outcome = criterionName[kind]
			}
			c.tried = append(c.tried, a)
			c.answer(ex, t, sent)
			return res, err
		}
		a.Outcome = criterionName[kind]
		c.tried = append(c.tried, a)
		if kind != config.FailHTTP403 && kind != config.FailHTTP404 {
			reg.Fail(t.h, bal.MaxFails, bal.FailTimeout)
		}
		if res != nil {
			if d, ok := retryAfter(res.Header); ok {
				retryAt[t.index] = time.Now().Add(d)
				pause(reg, t.h, d, bal)
			}
		}
		c.answer(ex, t, sent)
		last, lastErr = res, err
	}
	return last, lastErr
}

// maxPause bounds how long a Retry-After takes a target out for every
// request (longer when fail_timeout is): a misconfigured upstream asking
// for a day's pause is asked again after a minute.
const maxPause = time.Minute

// pause honours a failed target's Retry-After for every request, not only
// this one's retries: its circuit opens until then (at most
// max(fail_timeout, maxPause) from now), shared like any open circuit, so
// that no instance sends it requests it has said it will refuse. A
// breaker turned off (max_fails 0) turns this off too.
func pause(reg *health.Registry, h *health.Target, d time.Duration, bal config.Balancer) {
	if bal.MaxFails <= 0 || d <= 0 {
		return
	}
	reg.OpenUntil(h, reg.Now().Add(min(d, max(bal.FailTimeout, maxPause))))
}

// discard reads a failed attempt's (small) error body to its end before
// closing it, so that its connection goes back to the pool rather than
// being closed, bounded so that a large one is cut instead.
func discard(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, 64<<10)
	body.Close()
}

// order is the balancer's order of the shaped targets, down ones last, and
// how many are up.
func (c *chain) order(reg *health.Registry, r *http.Request) ([]int, int) {
	bal := c.adv.Balancer
	now := reg.Now()
	var keys [balancer.MaxTargets]string
	var scores [balancer.MaxTargets]float64
	var down uint64
	shaped := uint64(0)
	for i, t := range c.targets {
		t.h = reg.Get(t.key)
		keys[i] = t.key
	}
	reg.Sync(keys[:len(c.targets)])
	for _, t := range c.targets {
		shaped |= 1 << t.index
		if d, _ := t.h.Down(now); d {
			down |= 1 << t.index
		}
		switch bal.Algorithm {
		case balancer.LowestLatency:
			scores[t.index], _ = t.h.Figures(now)
		case balancer.LowestUsage:
			_, scores[t.index] = t.h.Figures(now)
		}
	}
	in := balancer.Input{Down: down, Scores: scores[:len(c.adv.Targets)]}
	if bal.Algorithm == balancer.ConsistentHashing {
		in.Key = r.Header.Get(bal.HashOnHeader)
	}
	var buf [balancer.MaxTargets]int
	all, _ := c.adv.Pick.Order(in, buf[:0])
	// Keep the shaped targets, as positions in c.targets.
	var pos [balancer.MaxTargets]int
	for i, t := range c.targets {
		pos[t.index] = i
	}
	out := make([]int, 0, len(c.targets))
	up := 0
	for _, idx := range all {
		if shaped&(1<<idx) == 0 {
			continue
		}
		out = append(out, pos[idx])
		if down&(1<<idx) == 0 {
			up++
		}
	}
	return out, up
}

// allDown answers when every target's circuit is open: 503 with the time
// until the first half-opens.
func (c *chain) allDown(ex *exchange, r *http.Request) (*http.Response, error) {
	soonest := time.Time{}
	for _, t := range c.targets {
		if _, until := t.h.Down(time.Now()); soonest.IsZero() || until.Before(soonest) {
			soonest = until
		}
	}
	secs := max(int(math.Ceil(time.Until(soonest).Seconds())), 1)
	c.tried = append(c.tried, stats.Attempt{Target: "*", Outcome: "circuit_open"})
	c.answer(ex, c.targets[0], time.Now())
	e := &provider.Error{Status: http.StatusServiceUnavailable, Type: typeServer, Code: "targets_unavailable",
		Message: "every target of this route failed recently and is skipped until its fail_timeout passes",
		Header:  http.Header{"Retry-After": {strconv.Itoa(secs)}}}
	if c.targets[0].plan.msgs != nil {
		// On a Messages route, the proxy's own 503 is Anthropic's 529
		// overloaded_error (writeMessagesError), Retry-After kept.
		res := provider.JSONResponse(r, 529, provider.AnthropicErrorJSON("overloaded_error", e.Message))
		res.Header["Retry-After"] = e.Header["Retry-After"]
		return res, nil
	}
	return provider.ErrorResponse(r, e), nil
}

// answer makes target t the exchange's: its plan from now on, with the
// request-wide reservation and chain.
func (c *chain) answer(ex *exchange, t *attemptTarget, sent time.Time) {
	c.answered = t.index
	c.answeredAt = sent
	p := *t.plan
	p.limit, p.chain = ex.plan.limit, c
	ex.plan = &p
}

// fits reports whether waiting d still leaves time for an attempt within
// the request's deadline and the client's own timeout.
func fits(ctx context.Context, clientBy time.Time, d time.Duration, bal config.Balancer) bool {
	if d > bal.ReadTimeout {
		return false
	}
	if !clientBy.IsZero() && time.Until(clientBy) <= d+time.Second {
		return false
	}
	dl, ok := ctx.Deadline()
	return !ok || time.Until(dl) > d+time.Second
}

// clientDeadline is when the client gives up on this request, where it
// says so: the OpenAI and Anthropic SDKs send their per-request timeout
// in seconds as X-Stainless-Timeout. Waiting past it for a target's
// Retry-After would only answer a client that has gone, and the client's
// own retry would then read the Retry-After itself.
func clientDeadline(h http.Header) time.Time {
	v := h.Get("X-Stainless-Timeout")
	if v == "" {
		return time.Time{}
	}
	secs, err := strconv.ParseFloat(v, 64)
	if err != nil || secs <= 0 || secs > 86400 || math.IsNaN(secs) {
		return time.Time{}
	}
	return time.Now().Add(time.Duration(secs * float64(time.Second)))
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// retryAfter reads Retry-After (seconds or an HTTP date) as the wait from
// now.
func retryAfter(h http.Header) (time.Duration, bool) {
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 32); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// try sends one attempt to t and classifies what came back: kind is the
// failover criterion it meets, 0 for an answer.
func (c *chain) try(t *attemptTarget, base http.RoundTripper, r *http.Request, bal config.Balancer) (*http.Response, config.Criteria, error) {
	ctx, cancel := context.WithCancel(provider.WithoutRetries(r.Context()))
	tm := &attemptTimers{cancel: cancel}
	ctx = httptrace.WithClientTrace(ctx, tm.trace(bal))
	req := r.Clone(ctx)
	c.shapeRequest(req, t)
	tr := base
	if t.plan.transport != nil {
		tr = t.plan.transport
	}
	tm.start(bal)
	res, err := tr.RoundTrip(req)
	tm.headers()
	if err != nil {
		cancel()
		if r.Context().Err() != nil {
			return nil, 0, err // the client or the deadline: no failover
		}
		if tm.timedOut.Load() || isTimeout(err) {
			return nil, config.FailTimeout, err
		}
		return nil, config.FailError, err
	}
	res.Body = &attemptBody{ReadCloser: res.Body, tm: tm, idle: bal.ReadTimeout}
	switch {
	case res.StatusCode >= 300:
		return res, config.ForStatus(res.StatusCode), nil
	case isEventStream(res.Header.Get("Content-Type")):
		return peekStream(res, r, bal.FailoverCriteria, t.plan.streamJudge(), t.plan.nativeMessages())
	}
	return res, 0, nil
}

// shapeRequest makes the outgoing request target t's: its URL, body,
// driver's headers and auth header (every other target's auth header and
// driver's headers removed, so that no key reaches another provider and no
// header another's driver chose goes along).
func (c *chain) shapeRequest(req *http.Request, t *attemptTarget) {
	pl := t.plan
	u := *pl.target
	req.URL = &u
	req.Host = ""
	body := pl.body
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	h := req.Header
	for _, o := range c.targets {
		if n := o.cfg.Plugin.Auth.HeaderName; n != "" {
			h.Del(n)
		}
		for k := range o.plan.header {
			h.Del(k)
		}
	}
	if pl.msgs != nil && c.clientHeader != nil {
		// rewriteOutgoing shaped the headers for the first target; a
		// native target and the chat hub want different ones.
		h.Del("Accept-Encoding")
		if ae := upstreamAcceptEncoding(c.clientHeader, pl.stream); ae != "" {
			h.Set("Accept-Encoding", ae)
		}
		messagesOutgoing(pl, h)
	}
	for k, v := range pl.header {
		h[k] = v
	}
	if a := pl.plugin.Auth; a.HeaderName != "" {
		v := a.HeaderValue
		if t.override != "" {
			v = t.override
		}
		h.Set(a.HeaderName, v)
	}
	if pl.contentType != "" {
		h.Set("Content-Type", pl.contentType)
	}
}

// attemptTimers enforce connect_timeout (until a connection is had),
// write_timeout (until the request is written) and read_timeout (until the
// first response byte, then between reads of the body) on one attempt.
type attemptTimers struct {
	cancel   context.CancelFunc
	timer    atomic.Pointer[time.Timer]
	timedOut atomic.Bool
}

func (tm *attemptTimers) arm(d time.Duration) {
	if old := tm.timer.Swap(time.AfterFunc(d, func() { tm.timedOut.Store(true); tm.cancel() })); old != nil {
		old.Stop()
	}
}

func (tm *attemptTimers) stop() {
	if t := tm.timer.Swap(nil); t != nil {
		t.Stop()
	}
}

// start arms the bound for a transport that reports nothing (a driver's
// SDK without httptrace): the three timeouts together.
func (tm *attemptTimers) start(bal config.Balancer) {
	tm.arm(bal.ConnectTimeout + bal.WriteTimeout + bal.ReadTimeout)
}

func (tm *attemptTimers) headers() { tm.stop() }

func (tm *attemptTimers) trace(bal config.Balancer) *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn:              func(string) { tm.arm(bal.ConnectTimeout) },
		GotConn:              func(httptrace.GotConnInfo) { tm.arm(bal.WriteTimeout) },
		WroteRequest:         func(httptrace.WroteRequestInfo) { tm.arm(bal.ReadTimeout) },
		GotFirstResponseByte: func() { tm.stop() },
	}
}

// attemptBody applies read_timeout between reads of an answer and ends the
// attempt's context when closed.
type attemptBody struct {
	io.ReadCloser
	tm   *attemptTimers
	idle time.Duration
}

func (b *attemptBody) Read(p []byte) (int, error) {
	b.tm.arm(b.idle)
	n, err := b.ReadCloser.Read(p)
	b.tm.stop()
	if err != nil && b.tm.timedOut.Load() && !errors.Is(err, io.EOF) {
		err = errReadTimeout
	}
	return n, err
}

func (b *attemptBody) Close() error {
	b.tm.stop()
	err := b.ReadCloser.Close()
	b.tm.cancel()
	return err
}

var errReadTimeout = timeoutError{}

type timeoutError struct{}

func (timeoutError) Error() string   { return "the upstream sent nothing within read_timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// chainRecord adds the chain's attempts to a request's statistics.
func chainRecord(rec *stats.Record, pl *plan) {
	c := pl.chain
	if c == nil {
		return
	}
	rec.PluginID = c.leadID
	rec.Attempts = c.tried
	if c.answered >= 0 {
		rec.Target = c.adv.Targets[c.answered].Name
	}
}

// chainFinish feeds the answering target's latency or usage into the
// figure its plugin's algorithm reads; the other algorithms keep none, so
// that no figure is written that nothing reads.
func chainFinish(reg *health.Registry, pl *plan, o *outcome) {
	c := pl.chain
	if c == nil || c.answered < 0 || o.status != http.StatusOK || (pl.msgs != nil && pl.msgs.count) {
		return // a token count is no generation: no latency or usage figure
	}
	var t *attemptTarget
	for _, x := range c.targets {
		if x.index == c.answered {
			t = x
		}
	}
	if t == nil || t.h == nil {
		return
	}
	bal := c.adv.Balancer
	switch bal.Algorithm {
	case balancer.LowestLatency:
		elapsed := float64(time.Since(c.answeredAt).Microseconds()) / 1000
		if bal.LatencyStrategy == "tpot" && o.usage != nil && o.usage.CompletionTokens > 0 {
			elapsed /= float64(o.usage.CompletionTokens)
		}
		reg.Observe(t.h, elapsed, 0)
	case balancer.LowestUsage:
		if u := o.usage; u != nil {
			reg.Observe(t.h, 0, usageFigure(bal.TokensCountStrategy, u, t.plan.price))
		}
	}
}

// usageFigure is one answer's usage as tokens_count_strategy counts it.
func usageFigure(strategy string, u *stats.Usage, pc price) float64 {
	switch strategy {
	case "prompt-tokens":
		return float64(u.PromptTokens)
	case "completion-tokens":
		return float64(u.CompletionTokens)
	case "cost":
		return (float64(u.PromptTokens)*pc.input + float64(u.CompletionTokens)*pc.output) / 1e6
	}
	return float64(u.PromptTokens + u.CompletionTokens)
}
