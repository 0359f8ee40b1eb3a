// Package limits enforces Kong's rate-limiting and ai-rate-limiting-advanced
// plugins: request counts, token counts and dollar budgets per window, held
// in a counter store shared by every instance (DynamoDB) or in this process
// (local).
//
// Unlike Kong, which counts after the fact, a request's worst case is
// reserved before it goes upstream, atomically and only if it fits, and the
// reservation is settled to the real usage after the answer. Concurrent
// requests against a nearly spent budget therefore cannot overspend it; see
// docs/limits.md.
//
// The package knows nothing of AWS: a shared store sits behind the Store
// interface, which the binary wires in.
package limits

import (
	"context"
	"errors"
	"time"
)

// Plugin names, which also decide the style of the response headers.
const (
	PluginRateLimiting   = "rate-limiting"
	PluginAIRateLimiting = "ai-rate-limiting-advanced"
)

// Metric is what a rule counts.
type Metric int

// What a rule counts. Requests is Kong's rate-limiting; the others are
// ai-rate-limiting-advanced's tokens_count_strategy.
const (
	Requests Metric = iota
	TotalTokens
	PromptTokens
	CompletionTokens
	Cost
)

// Rule is one limit of a policy: at most Limit units of Metric per Window.
type Rule struct {
	// Name tells the rule's headers apart: "Minute" (rate-limiting) or
	// "30-openai" (ai-rate-limiting-advanced: window size and provider).
	Name   string
	Window Window
	Limit  float64
	Metric Metric
}

// Policy is one configured plugin instance with its limits.
type Policy struct {
	Plugin string // PluginRateLimiting or PluginAIRateLimiting
	// ID names the plugin instance in counter keys, so that two instances
	// (a global one and a consumer's) count separately, as in Kong.
	ID    string
	Rules []Rule
	// Sliding weighs the previous window in, as Kong's window_type sliding.
	Sliding bool
	// Shared counts in the shared store (policy/strategy dynamodb) rather
	// than in this process.
	Shared bool
	// FaultTolerant serves requests when the store is unreachable; false
	// refuses them.
	FaultTolerant     bool
	HideClientHeaders bool
	ErrorCode         int
	ErrorMessage      string
	// LimitBy is Kong's limit_by / identifier: consumer, credential, ip,
	// header or path (HeaderName and Path go with the last two).
	LimitBy    string
	HeaderName string
	Path       string
}

// Counter is one counter: a rule, an identifier and a window start.
type Counter struct {
	Key string
	// Expires is when the store may forget the counter: the window's end,
	// plus a margin for late settlements.
	Expires time.Time
}

// Charge is an amount to add to a counter. For Store.Reserve, Max is the
// value the counter must not pass.
type Charge struct {
	Counter
	Amount float64
	Max    float64
}

// Store is a set of counters. Implementations must be safe for concurrent
// use by many processes when shared.
type Store interface {
	// Reserve adds every charge's Amount to its counter if each counter
	// stays at or below its Max, all or none. It returns ok and each
	// counter's value after the call; on refusal the values are the current
	// ones, so that the caller can tell which charge did not fit (a value it
	// cannot know is reported as 0).
	Reserve(ctx context.Context, charges []Charge) (ok bool, values []float64, err error)
	// Add adds every charge's Amount (which may be negative) unconditionally:
	// settlements and refunds.
	Add(ctx context.Context, charges []Charge) error
	// Get reads counters; an absent counter is 0.
	Get(ctx context.Context, counters []Counter) ([]float64, error)
}

// ErrNoStore is reported for a shared policy when no shared store is
// configured (AIPROXY_RATE_LIMIT_TABLE unset).
var ErrNoStore = errors.New("no shared rate-limit store is configured (AIPROXY_RATE_LIMIT_TABLE)")
