package proxy

import (
	"context"
	"net"
	"net/http"
	"strconv"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/limits"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

// reserve applies the rate-limiting and ai-rate-limiting-advanced instances
// of the route for the authenticated consumer: the request's worst case is
// reserved before anything goes upstream, and a refusal is the answer. A
// request that no instance covers costs nothing.
func (h *Handler) reserve(r *http.Request, rt *config.Route, pl *plan) *apiError {
	var policies []*limits.Policy
	for _, p := range []*limits.Policy{rt.RateLimiting.For(pl.consumer), rt.AIRateLimiting.For(pl.consumer)} {
		if p != nil {
			policies = append(policies, p)
		}
	}
	if len(policies) == 0 {
		return nil
	}
	req := limits.Request{
		Policies: policies,
		Subject: limits.Subject{
			Consumer: pl.consumer,
			// The key itself stands for Kong's credential id; the limiter
			// only ever stores a hash of it.
			Credential: pl.clientKey,
			IP:         clientIP(r),
			Path:       cleanPath(r.URL.Path),
			Header:     r.Header.Get,
		},
		// The body the upstream will read, with its completion cap as the
		// upstream will read it.
		Worst: limits.Estimate(len(pl.body), completionCap(pl.body), 0),
	}
	if pl.price.known {
		req.Prices = pl.price.limits()
	}
	if pl.chain != nil {
		pl.chain.worstCase(&req)
	}
	d := h.limits.Reserve(r.Context(), req)
	pl.limit = d
	if f := d.Refusal; f != nil {
		return &apiError{status: f.Status, message: f.Message, typ: f.Type, code: f.Code, header: f.Header}
	}
	return nil
}

// settle replaces the reservation by what the upstream really used.
func (h *Handler) settle(pl *plan, o *outcome) {
	if pl.limit == nil {
		return
	}
	settlePrices(pl)
	// The request's own context may be cancelled already; the limiter
	// bounds the call.
	if err := pl.limit.Settle(context.Background(), settlement(pl, o)); err != nil {
		h.log.Warn("rate-limit settlement failed; the reservation stands", "request_id", pl.requestID, "error", err.Error())
	}
}

// settlement is what a request is charged: the reported usage, or Kong's
// estimate of it (a stream without a usage chunk, a stream the deadline
// ended, whose upstream was cancelled); nothing when the upstream refused
// or could not be reached (OpenAI bills neither); the reservation itself
// (nil) when the usage is unknown (a stream cut short, a client gone, a
// timeout: tokens may have been generated). A JSON answer without usage
// has Kong's estimate of its prompt but none of its completion: the
// reserved completion stands. A Messages count_tokens is charged no tokens.
func settlement(pl *plan, o *outcome) *limits.Usage {
	switch {
	case pl.msgs != nil && pl.msgs.count:
		// A token count generates nothing: its tokens are refunded (a
		// request-count limit still counts it).
		return &limits.Usage{}
	case o.usage != nil:
		used := &limits.Usage{PromptTokens: int64(o.usage.PromptTokens), CompletionTokens: int64(o.usage.CompletionTokens)}
		if o.usage.Estimated && o.collect == nil {
			used.CompletionTokens = limits.Estimate(len(pl.body), completionCap(pl.body), 0).CompletionTokens
		}
		return used
	case o.refused:
		return nil // the upstream answered in full; the client got none of it
	case o.status >= 400 && o.status != 499 && o.status != http.StatusGatewayTimeout:
		return &limits.Usage{}
	}
	return nil
}

// completionCap is the most completion tokens the body asks for: the
// largest max_tokens or max_completion_tokens, any occurrence (another
// decoder may read another one); 0 when none is a positive integer.
func completionCap(body []byte) int64 {
	var arr [16]field
	fields, err := topLevel(body, arr[:0])
	if err != nil {
		return 0
	}
	var most int64
	for _, f := range fields {
		if f.key != "max_tokens" && f.key != "max_completion_tokens" && f.key != "max_output_tokens" {
			continue
		}
		if n, err := strconv.ParseInt(string(body[f.start:f.end]), 10, 64); err == nil && n > most {
			most = n
		}
	}
	return most
}

// clientIP is the caller's address: on Lambda the edge puts the event's
// source IP in RemoteAddr, locally it is host:port.
func clientIP(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

func deref(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}

// limitsRecord is what the statistics report of the limits, nil when none
// applied.
func limitsRecord(d *limits.Decision) *stats.Limits {
	if d == nil {
		return nil
	}
	l := &stats.Limits{StoreDown: d.StoreDown, Refused: d.Refusal != nil && d.Refusal.Code == limits.CodeRateLimitExceeded}
	for _, r := range d.Remaining() {
		l.Remaining = append(l.Remaining, stats.Remaining{Limit: r.Plugin + " " + r.Rule, Value: r.Value})
	}
	return l
}
