package limits

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
)

// Kong's headers (kong/plugins/rate-limiting/handler.lua, and
// ai-rate-limiting-advanced's documented X-AI-RateLimit-*).
const (
	headerLimit        = "RateLimit-Limit"
	headerRemaining    = "RateLimit-Remaining"
	headerReset        = "RateLimit-Reset"
	headerRetryAfter   = "Retry-After"
	headerXLimit       = "X-RateLimit-Limit-"
	headerXRemaining   = "X-RateLimit-Remaining-"
	headerAILimit      = "X-AI-RateLimit-Limit-"
	headerAIRemaining  = "X-AI-RateLimit-Remaining-"
	headerAIReset      = "X-AI-RateLimit-Reset"
	headerAIRetryAfter = "X-AI-RateLimit-Retry-After"
)

// Default error messages, Kong's.
const (
	DefaultRateLimitMessage   = "API rate limit exceeded"
	DefaultAIRateLimitMessage = "AI token rate limit exceeded for provider(s): "
)

// Refusal is an answer that replaces the upstream call: an OpenAI-shaped
// error with Status, Code, Type and Message, and the Header to send with it.
type Refusal struct {
	Status  int
	Code    string
	Type    string
	Message string
	Header  http.Header
}

// Codes of a Refusal.
const (
	CodeRateLimitExceeded = "rate_limit_exceeded" // as OpenAI names it
	CodeStoreUnavailable  = "rate_limit_unavailable"
)

// unavailable refuses a request whose limits cannot be checked and whose
// policy is not fault tolerant. Kong answers 500; 503 says better that the
// failure is passing, and SDKs retry either.
func unavailable() *Refusal {
	return &Refusal{
		Status:  http.StatusServiceUnavailable,
		Code:    CodeStoreUnavailable,
		Type:    "server_error",
		Message: "rate limits cannot be checked right now; try again later",
		Header:  http.Header{headerRetryAfter: {"1"}},
	}
}

// over reports a charge that did not fit.
func (c *charge) over() bool { return c.value+c.Amount > c.Max }

// refusal builds the answer for charges that did not all fit.
func (d *Decision) refusal(cs []*charge) *Refusal {
	var first *charge
	for _, c := range cs {
		if c.over() {
			first = c
			break
		}
	}
	if first == nil {
		// The store refused without telling which counter is full: blame
		// the first, whose window is the smallest.
		first = cs[0]
	}
	p := first.policy
	r := &Refusal{Status: p.ErrorCode, Code: CodeRateLimitExceeded, Type: "requests", Message: p.ErrorMessage}
	if p.Plugin == PluginAIRateLimiting {
		r.Type = "tokens"
	}
	if r.Status == 0 {
		r.Status = http.StatusTooManyRequests
	}
	if first.Amount > first.rule.Limit {
		// Waiting will not help: say what will.
		r.Message += fmt.Sprintf(" (this request reserves %s, more than the whole limit of %s per %s: lower max_tokens)",
			format(first.rule.Metric, first.Amount), format(first.rule.Metric, first.rule.Limit), first.rule.Window)
	}
	r.Header = d.headersFor(cs, first)
	return r
}

// headersFor writes each policy's headers for its charges. A refusal
// (first set) adds Retry-After: the longest wait among the rules that did
// not fit.
func (d *Decision) headersFor(cs []*charge, first *charge) http.Header {
	h := http.Header{}
	var retry int64
	byPolicy := map[*Policy][]*charge{}
	var order []*Policy
	for _, c := range cs {
		if _, ok := byPolicy[c.policy]; !ok {
			order = append(order, c.policy)
		}
		byPolicy[c.policy] = append(byPolicy[c.policy], c)
	}
	for _, p := range order {
		if p.HideClientHeaders {
			continue
		}
		var bind *charge
		var bindRemaining float64
		for _, c := range byPolicy[p] {
			rem := c.remaining()
			if first != nil && c.over() {
				rem = 0
				retry = max(retry, c.rule.Window.resetSeconds(d.now))
			}
			if bind == nil || rem < bindRemaining || (rem == bindRemaining && c.rule.Window.Seconds > bind.rule.Window.Seconds) {
				bind, bindRemaining = c, rem
			}
			lim, remName := headerXLimit, headerXRemaining
			if p.Plugin == PluginAIRateLimiting {
				lim, remName = headerAILimit, headerAIRemaining
			}
			h.Set(lim+c.rule.Name, format(c.rule.Metric, c.rule.Limit))
			h.Set(remName+c.rule.Name, format(c.rule.Metric, rem))
		}
		reset := strconv.FormatInt(bind.rule.Window.resetSeconds(d.now), 10)
		if p.Plugin == PluginAIRateLimiting {
			h.Set(headerAIReset, reset)
		} else {
			h.Set(headerLimit, format(bind.rule.Metric, bind.rule.Limit))
			h.Set(headerRemaining, format(bind.rule.Metric, bindRemaining))
			h.Set(headerReset, reset)
		}
		if first != nil && first.policy == p {
			if retry == 0 {
				retry = bind.rule.Window.resetSeconds(d.now)
			}
			h.Set(headerRetryAfter, strconv.FormatInt(retry, 10))
			if p.Plugin == PluginAIRateLimiting {
				h.Set(headerAIRetryAfter, strconv.FormatInt(retry, 10))
			}
		}
	}
	return h
}

// format writes counts as whole numbers (what is left of a partly used
// unit is not usable) and money to a millionth.
func format(m Metric, v float64) string {
	if m == Cost {
		return strconv.FormatFloat(math.Round(v*1e6)/1e6, 'f', -1, 64)
	}
	return strconv.FormatFloat(math.Floor(v), 'f', -1, 64)
}
