// Package proxy is the product: one http.Handler that does what Kong's
// ai-proxy plugin does for OpenAI. Each request flows one way: route match,
// model resolution, body rewrite, upstream auth, then a streaming relay
// through net/http/httputil.ReverseProxy. Errors the proxy makes itself are
// OpenAI-shaped. It knows nothing of Lambda or AWS: edges adapt events to
// http.Request, and configuration arrives through a config.Source.
package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/health"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/limits"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/openai"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

// Options tune a Handler. The zero value is usable.
type Options struct {
	// Transport carries upstream requests; nil means NewTransport(0, 0).
	Transport http.RoundTripper
	Logger    *slog.Logger
	// Observe, when set, is called once per request after the response
	// has been relayed (statistics, metrics). It must not block for long.
	Observe func(*stats.Record)
	// Limiter enforces the rate-limiting plugins; nil means one that
	// counts in this process only.
	Limiter *limits.Limiter
	// Drivers are the providers this handler can call, by Kong's provider
	// name; nil means OpenAI's format only.
	Drivers provider.Set
	// BodyGate bounds concurrent body reads of unauthenticated requests;
	// nil means no bound (on Lambda the body is already in memory).
	BodyGate *BodyGate
	// Health holds ai-proxy-advanced's circuit state and figures; nil
	// means this process's own.
	Health *health.Registry
}

// Handler is the ai-proxy http.Handler.
type Handler struct {
	src     config.Source
	log     *slog.Logger
	rp      *httputil.ReverseProxy
	observe func(*stats.Record)
	limits  *limits.Limiter
	drivers provider.Set
	gate    *BodyGate
	health  *health.Registry
}

// New returns the handler reading its configuration from src.
func New(src config.Source, opts Options) *Handler {
	h := &Handler{src: src, log: opts.Logger, observe: opts.Observe, limits: opts.Limiter, drivers: opts.Drivers, gate: opts.BodyGate}
	if h.drivers == nil {
		h.drivers = provider.Set{config.ProviderOpenAI: openai.Driver{}}
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.health = opts.Health; h.health == nil {
		h.health = health.New(health.Options{Logger: h.log})
	}
	if h.limits == nil {
		h.limits = limits.New(limits.Options{Logger: h.log})
	}
	tr := opts.Transport
	if tr == nil {
		tr = NewTransport(0, 0)
	}
	h.rp = &httputil.ReverseProxy{
		Rewrite:   rewriteOutgoing,
		Transport: dispatch{tr, h.health},
		// Zero, not -1: ReverseProxy still flushes every write of an event
		// stream (and of any body of unknown length) at once, but an answer
		// of known length then leaves in one write with its header instead
		// of a header-only write from a timer goroutine plus one per body
		// write. finish flushes it before the statistics are written.
		FlushInterval:  0,
		ModifyResponse: h.modifyResponse,
		ErrorHandler:   h.upstreamError,
		ErrorLog:       slog.NewLogLogger(h.log.Handler(), slog.LevelDebug),
		BufferPool:     &copyBuffers{},
	}
	return h
}

// exchange is one request as it passes through the handler: the plan that
// prepare made for it, and the outcome the relay fills in.
type exchange struct {
	plan *plan
	out  outcome
	w    answerWriter
}

// plan is what prepare decided for one request. Nothing changes it
// afterwards; it is partial when prepare failed.
type plan struct {
	requestID   string
	route       string
	plugin      *config.Plugin // nil when no route matched
	consumer    string         // the key-auth consumer
	clientKey   string         // the client's key-auth key, for redaction only
	hideHeaders []string       // key-auth header names, never forwarded
	balanced    bool           // shaped as an ai-proxy-advanced target
	// keepAuthHeader lets the client's own upstream credential header
	// through (allow_override).
	keepAuthHeader bool
	requestBody    []byte // as the client sent it, for payload logs
	target         *url.URL
	// transport is a translating driver's, nil for the shared HTTP one.
	transport http.RoundTripper
	// header is the driver's, set over the client's (provider.Upstream).
	header http.Header
	// price is what the request's tokens cost (prices.go).
	price     price
	rewritten // the upstream body, model and streaming decision
	// limit is the rate-limit reservation, settled when the request ends;
	// nil when no limit applies.
	limit *limits.Decision
	msgs  *messagesPlan // llm_format: anthropic (messages.go), else nil

	// api is a Responses request served through chat (apis.go).
	api *apiTranslation
	// chain is an ai-proxy-advanced request's targets (failover.go).
	chain *chain
}

// outcome is what happened to a request, filled in as it is relayed and
// summarized for observers when it ends.
type outcome struct {
	start         time.Time
	status        int
	errCode       string // the code of an error the proxy answered itself
	upstreamStart time.Time
	headersAt     time.Time
	firstToken    time.Time
	responseModel string
	usage         *stats.Usage
	responseBody  []byte
	streamErr     error
	// report is what the driver's transport told of its calls (the
	// credentials it attached, an estimated usage); nil on the
	// byte-for-byte path.
	report      *provider.Report
	tap         *answerTap     // the scan of a non-streamed answer
	collect     *streamCollect // the text of a streamed answer
	streamDone  bool           // the relayed stream reached its clean end
	refused     bool           // the ResponseWriter refused the answer (RefusedWrite)
	headersSent bool
	anthropic   bool // errors in Anthropic's shape (messages.go)
}

type exchangeKey struct{}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.serveModels(w, r) { // models.go: answered from the configuration
		return
	}
	ex := &exchange{out: outcome{start: time.Now()}}
	defer h.finish(w, ex)

	p, e := h.prepare(r)
	ex.plan = p
	ex.out.anthropic = anthropicErrors(r, p)
	if e != nil {
		h.fail(w, &ex.out, e)
		return
	}
	out := r.WithContext(p.openReport(context.WithValue(r.Context(), exchangeKey{}, ex), &ex.out))
	out.URL = p.target
	out.Body = io.NopCloser(bytes.NewReader(p.body))
	out.ContentLength = int64(len(p.body))
	ex.out.upstreamStart = time.Now()
	ex.w = answerWriter{ResponseWriter: w, o: &ex.out}
	h.rp.ServeHTTP(&ex.w, out)
}

// finish recovers a panic into a 500 (or an aborted stream once headers are
// out), then reports the exchange. A stream cut by the upstream is aborted
// after its error event, so that an edge or client sees the failure too.
func (h *Handler) finish(w http.ResponseWriter, ex *exchange) {
	pl, o := ex.plan, &ex.out
	if pl == nil {
		pl = &plan{}
	}
	rec := recover()
	if rec != nil && rec != http.ErrAbortHandler {
		h.log.Error("request panicked", "request_id", pl.requestID, "panic", fmt.Sprint(rec))
		if !o.headersSent {
			h.fail(w, o, &apiError{status: http.StatusInternalServerError, message: "internal error", typ: typeServer, code: "internal_error"})
			rec = nil
		} else {
			rec = http.ErrAbortHandler
		}
	}
	if o.streamErr != nil {
		h.log.Warn(failureMessage(o.streamErr), "request_id", pl.requestID, "route", pl.route, "error", scrub(pl, o, o.streamErr.Error()))
		rec = http.ErrAbortHandler
	}
	if h.observe != nil || pl.limit != nil {
		if rec == nil {
			// The answer is complete: send it before the settlement and the
			// statistics, so that the client never waits for them.
			_ = http.NewResponseController(w).Flush()
		}
		if o.tap != nil {
			o.tap.parse(o)
		}
		estimateMissing(pl, o)
		h.settle(pl, o)
		if h.observe != nil {
			h.observe(record(pl, o))
		}
	}
	chainFinish(h.health, pl, o)
	if rec != nil {
		panic(rec)
	}
}

func (h *Handler) fail(w http.ResponseWriter, o *outcome, e *apiError) {
	o.status, o.errCode = e.status, e.code
	if o.anthropic {
		o.status = writeMessagesError(w, e)
		return
	}
	writeError(w, e)
}

// prepare does everything that can fail before the upstream is called. The
// plan it returns is partial (as far as it got) when it fails.
func (h *Handler) prepare(r *http.Request) (*plan, *apiError) {
	pl := &plan{requestID: requestID(r)}
	rt, captures, e := h.route(r)
	if rt != nil {
		pl.route, pl.plugin = rt.Name, rt.Plugin
	}
	if e != nil {
		return pl, e
	}
	key, e := pl.admit(rt, r, h.gate)
	if e != nil {
		return pl, e
	}
	if e := pl.shape(rt, r, captures, key, h.drivers); e != nil {
		return pl, e
	}
	// Limits last: only a request that will go upstream reserves.
	return pl, h.reserve(r, rt, pl)
}

// route finds the route for a request.
func (h *Handler) route(r *http.Request) (*config.Route, map[string]string, *apiError) {
	cfg, err := h.src.Current(r.Context())
	if err != nil {
		// The source warns once per failed load; each request's own line
		// carries config_unavailable, so this stays at debug.
		h.log.Debug("no configuration available", "error", err.Error())
		return nil, nil, &apiError{status: http.StatusServiceUnavailable, message: "the proxy has no valid configuration yet; try again shortly", typ: typeServer, code: "config_unavailable",
			header: http.Header{"Retry-After": {"5"}}}
	}
	rt, captures, allowed := cfg.Match(r.Method, r.Host, cleanPath(r.URL.Path), r.Header)
	if rt == nil {
		return nil, nil, &apiError{status: http.StatusNotFound, message: "no route matches " + r.Method + " " + safePath(r.URL.Path), typ: typeInvalidRequest, code: "route_not_found"}
	}
	if !allowed {
		return rt, nil, &apiError{status: http.StatusMethodNotAllowed, message: "method " + r.Method + " is not allowed on this route", typ: typeInvalidRequest, code: "method_not_allowed",
			header: http.Header{"Allow": {rt.AllowHeader()}}}
	}
	return rt, captures, nil
}

// admit runs key-auth and reads the body, in the order that lets an
// unauthenticated caller cost nothing; a body read before key-auth has
// passed (none, or key_in_body) holds a slot of gate.
func (pl *plan) admit(rt *config.Route, r *http.Request, gate *BodyGate) (presented, *apiError) {
	authenticated := false
	body := func() ([]byte, *apiError) {
		if pl.requestBody == nil {
			b, e := gate.read(r, rt.Plugin.MaxRequestBodySize, authenticated)
			if e != nil {
				return nil, e
			}
			pl.requestBody = b
		}
		return pl.requestBody, nil
	}
	var key presented
	if ka := rt.KeyAuth; ka != nil {
		pl.hideHeaders = ka.KeyNames
		k, consumer, e := authenticate(ka, r, body, rt.Plugin.LLMFormat == config.FormatAnthropic)
		if e != nil {
			return k, e
		}
		key, pl.consumer, pl.clientKey = k, consumer, k.key
		authenticated = true
	}
	_, e := body()
	return key, e
}

// shape decides what the upstream receives: model, body and target.
func (pl *plan) shape(rt *config.Route, r *http.Request, captures map[string]string, key presented, drivers provider.Set) *apiError {
	p := rt.Plugin
	if p.Advanced != nil {
		return pl.shapeTargets(rt, r, captures, key, drivers)
	}
	if p.LLMFormat == config.FormatAnthropic {
		return pl.shapeMessages(rt, r, captures, key, drivers)
	}
	lookup := templateLookup(r, captures)
	configured, e := resolveModel(p, lookup)
	if e != nil {
		return e
	}
	if configured != "" {
		if e := checkModelName(configured); e != nil {
			return e
		}
	}
	in := input{body: pl.requestBody, contentType: r.Header.Get("Content-Type"), configured: configured, balanced: pl.balanced}
	if rt.KeyAuth != nil && rt.KeyAuth.KeyInBody {
		in.hide = rt.KeyAuth.KeyNames
	}
	d := drivers[p.Model.Provider]
	rw, p, api, e := rewriteAPI(p, in, d)
	if e != nil {
		return e
	}
	pl.rewritten, pl.api = *rw, api
	if d == nil {
		return &apiError{status: http.StatusNotImplemented, message: "provider " + p.Model.Provider + " is not served by this build", typ: typeServer, code: "provider_not_available"}
	}
	call := &provider.Call{Plugin: p, Model: pl.model, Stream: pl.stream, Body: pl.body}
	up, e := upstream(d, call, r, rt.KeyAuth, lookup)
	if e != nil {
		return e
	}
	pl.reach(up)
	pl.price = priceFor(p, d, pl.model)
	pl.keepAuthHeader = keepAuthHeader(p.Auth, rt.KeyAuth, r, key)
	return nil
}

// keepAuthHeader: allow_override lets a client's own upstream credential
// header through, but never one that carries key-auth keys: that is a key
// for this proxy, not for the upstream.
func keepAuthHeader(a config.Auth, ka *config.KeyAuth, r *http.Request, key presented) bool {
	if a.HeaderName == "" || !a.AllowOverride || r.Header.Get(a.HeaderName) == "" || strings.EqualFold(a.HeaderName, key.header) {
		return false
	}
	return ka == nil || !containsFold(ka.KeyNames, a.HeaderName)
}

// readBody reads the request body within the plugin's size limit. It grows
// its buffer as bytes arrive: a Content-Length is a claim, and a client
// that claims a terabyte and sends nothing must cost nothing.
func readBody(r *http.Request, limit int64) ([]byte, *apiError) {
	tooLarge := &apiError{status: http.StatusRequestEntityTooLarge, message: fmt.Sprintf("request body is larger than %d bytes", limit), typ: typeInvalidRequest, code: "request_too_large"}
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	if r.Body == nil || r.Body == http.NoBody {
		return []byte{}, nil
	}
	// One byte beyond a declared length, so that the read which sees the
	// end finds room and the buffer is never copied into a larger one
	// (bytes.Buffer.ReadFrom would double it for that last read).
	size := 512
	if r.ContentLength > 0 {
		size = int(min(r.ContentLength, initialBodyBuffer)) + 1
	}
	buf := make([]byte, 0, size)
	lr := io.LimitReader(r.Body, limit+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, badRequest("invalid_body", "could not read the request body")
		}
	}
	if int64(len(buf)) > limit {
		return nil, tooLarge
	}
	return buf, nil
}

// initialBodyBuffer bounds the buffer allocated before any body byte has
// arrived; most chat requests fit in it.
const initialBodyBuffer = 16 << 10

// cleanPath normalizes the decoded path as Kong does before matching: dot
// segments and doubled slashes cannot route around a regex.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// safePath quotes a client path for an error message, bounded in length.
func safePath(p string) string {
	if len(p) > 200 {
		p = p[:200] + "..."
	}
	return fmt.Sprintf("%q", p)
}

func requestID(r *http.Request) string {
	for _, h := range []string{"X-Amzn-Requestid", "X-Amzn-Trace-Id", "X-Request-Id"} {
		if v := r.Header.Get(h); v != "" && len(v) <= 128 {
			return v
		}
	}
	return ""
}

// hiddenRequestHeaders never reach the upstream: credentials meant for this
// proxy, cookies for its domain, and the AWS front door's own headers.
// Expect was the client's question to this proxy, which holds the whole
// body by now: passed on, it would make the upstream call wait for a 100
// Continue and relay a second one to the client.
var hiddenRequestHeaders = []string{"Authorization", "Cookie", "Proxy-Authorization", "Accept-Encoding", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port", "Forwarded", "Expect"}

// rewriteOutgoing shapes the request ReverseProxy sends: the target URL is
// already set; here the client's credentials are replaced with the
// configured ones. ReverseProxy has already removed hop-by-hop headers.
func rewriteOutgoing(pr *httputil.ProxyRequest) {
	pl := pr.In.Context().Value(exchangeKey{}).(*exchange).plan
	p := pl.plugin
	h := pr.Out.Header
	var keep string
	if pl.keepAuthHeader {
		keep = h.Get(p.Auth.HeaderName)
	}
	for _, k := range hiddenRequestHeaders {
		h.Del(k)
	}
	for k := range h {
		if strings.HasPrefix(k, "X-Amz") {
			delete(h, k)
		}
	}
	for _, k := range pl.hideHeaders {
		h.Del(k)
	}
	if ae := upstreamAcceptEncoding(pr.In.Header, pl.stream); ae != "" {
		h.Set("Accept-Encoding", ae)
	}
	if pl.msgs != nil {
		messagesOutgoing(pl, h)
	}
	for k, v := range pl.header {
		h[k] = v
	}
	if p.Auth.HeaderName != "" {
		h.Del(p.Auth.HeaderName)
		if keep != "" {
			h.Set(p.Auth.HeaderName, keep)
		} else {
			h.Set(p.Auth.HeaderName, p.Auth.HeaderValue)
		}
	}
	if pl.contentType != "" {
		h.Set("Content-Type", pl.contentType)
	} else {
		h.Del("Content-Type")
	}
	pr.Out.Host = ""
	pr.Out.GetBody = func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(pl.body)), nil
	}
}

func (h *Handler) modifyResponse(res *http.Response) error {
	ex := res.Request.Context().Value(exchangeKey{}).(*exchange)
	pl, o := ex.plan, &ex.out
	o.headersAt = time.Now()
	o.status = res.StatusCode
	hdr := res.Header
	// Upstream cookies (a CDN's, say) belong to the upstream's domain.
	hdr.Del("Set-Cookie")
	if pl.limit != nil {
		for k, v := range pl.limit.Header {
			hdr[k] = v
		}
	}
	setModelHeader(res, pl)
	// An error sent as an event stream is an error body all the same: it
	// is redacted whole below, not relayed live.
	if res.StatusCode < 300 && isEventStream(hdr.Get("Content-Type")) {
		h.relayStream(res, pl, o)
		o.headersSent = true
		return nil
	}
	if res.StatusCode < 300 {
		if err := h.tapAnswer(res, pl, o); err != nil {
			return err
		}
	} else {
		redactErrorBody(res, credentialForms(pl, o))
	}
	if pl.msgs != nil {
		if err := messagesAnswer(res, pl); err != nil {
			return err
		}
	}
	res.Body = watchBody(res.Request.Context(), res.Body, o)
	o.headersSent = true
	return nil
}

// relayStream sets up the relay of a 2xx event stream: its headers, and
// the relay that reads usage and text from its chunks as they pass.
func (h *Handler) relayStream(res *http.Response, pl *plan, o *outcome) {
	hdr := res.Header
	// The length of a relayed stream is not known in advance, and an
	// edge must not wait for one.
	hdr.Del("Content-Length")
	res.ContentLength = -1
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Accel-Buffering", "no")
	ctx := res.Request.Context()
	relay := newSSERelay(ctx, res.Body, o, pl.hideUsage)
	relay.api = pl.plugin.RouteType == config.RouteResponses
	if _, deadline := ctx.Deadline(); h.observe != nil || pl.limit != nil || deadline {
		// Kong's estimate, for a stream without usage, needs the
		// length of the answer: for the statistics, the rate limit's
		// settlement and a deadline's error event.
		relay.collect, relay.sent = newStreamCollect(pl), pl.body
		o.collect = relay.collect
	}
	res.Body = relay
	if pl.msgs != nil {
		messagesStream(res, pl, relay)
	}
}

// isEventStream reports whether a Content-Type is text/event-stream, decided
// exactly as ReverseProxy decides to flush an answer at once: by the media
// type, whatever its parameters.
func isEventStream(ct string) bool {
	// The usual answer's type needs no parse (and its map of parameters).
	if ct == "application/json" || strings.HasPrefix(ct, "application/json;") {
		return false
	}
	mt, _, _ := mime.ParseMediaType(ct)
	return mt == "text/event-stream"
}

// upstreamError answers when the upstream could not be reached or did not
// answer in time. The error text is logged without the URL, which may hold
// a query-string key.
func (h *Handler) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	ex := r.Context().Value(exchangeKey{}).(*exchange)
	pl, o := ex.plan, &ex.out
	var ue *url.Error
	var refused *answerError
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case deadlineHit(r.Context()):
		h.log.Warn("deadline reached before the upstream answered", "request_id", pl.requestID, "route", pl.route)
		h.fail(w, o, deadlineError())
	case r.Context().Err() != nil && errors.Is(err, context.Canceled):
		// The client went away and the upstream call was cancelled with it.
		o.status, o.errCode = 499, "client_closed_request"
		h.log.Info("client closed the request", "request_id", pl.requestID, "route", pl.route)
		return
	case errors.As(err, &refused):
		h.log.Warn("upstream answer refused", "request_id", pl.requestID, "route", pl.route, "error", scrub(pl, o, refused.Error()))
		h.fail(w, o, refused.e)
	case isTimeout(err):
		h.log.Warn("upstream timed out", "request_id", pl.requestID, "route", pl.route, "error", scrub(pl, o, err.Error()))
		h.fail(w, o, &apiError{status: http.StatusGatewayTimeout, message: "the upstream did not answer in time", typ: typeServer, code: "upstream_timeout"})
	default:
		h.log.Warn("upstream unreachable", "request_id", pl.requestID, "route", pl.route, "error", scrub(pl, o, err.Error()))
		h.fail(w, o, &apiError{status: http.StatusBadGateway, message: "the upstream could not be reached", typ: typeServer, code: "upstream_unreachable"})
	}
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}
