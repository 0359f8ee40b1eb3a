// Package stats turns one relayed request into what operators read
// afterwards: a structured log line carrying Kong's ai-proxy analytics fields
// (ai.proxy.meta, ai.proxy.usage, ai.proxy.payload) and a CloudWatch
// Embedded Metric Format record. It observes the relay after the fact and
// never sits in its way.
package stats

import "time"

// Usage is the token usage the upstream reported, decoded straight from
// its "usage" object.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
	// CacheReadTokens and CacheWriteTokens are the parts of PromptTokens
	// served from, or written to, the upstream's prompt cache (OpenAI's
	// prompt_tokens_details.cached_tokens is the first).
	CacheReadTokens  int `json:"-"`
	CacheWriteTokens int `json:"-"`
	// Estimated marks counts that are an estimate, not the upstream's:
	// the proxy's (Kong's, for an answer or a stream whose upstream sent
	// no usage) or a driver's (Gemini API embeddings, which report none).
	Estimated bool `json:"-"`
}

// Record is what happened to one request.
type Record struct {
	Time      time.Time
	RequestID string
	Route     string
	PluginID  string
	Consumer  string
	Provider  string
	Status    int
	// ErrorCode is the code of an error the proxy answered itself.
	ErrorCode string
	Stream    bool

	RequestModel string
	// ModelFixed says RequestModel is the route's configured model name (a
	// value the operator chose), not one a client picked.
	ModelFixed    bool
	ResponseModel string
	Usage         *Usage
	// Costs per million tokens (model.options.input_cost/output_cost).
	InputCost, OutputCost float64
	// Costs per million cached prompt tokens (cache_read_cost,
	// cache_write_cost); nil when not configured, and then cached tokens
	// cost InputCost like any prompt token.
	CacheReadCost, CacheWriteCost *float64

	Duration         time.Duration // the whole request, as the client saw it
	LLMLatency       time.Duration // upstream request sent to answer complete
	TimeToFirstToken time.Duration // upstream request sent to first event (streams)
	StreamError      string

	// Limits is what the rate-limiting plugins did; nil when none applied.
	Limits *Limits

	// Target is the ai-proxy-advanced target that answered; Attempts every
	// try, in order (attempts.go). Empty for ai-proxy.
	Target   string
	Attempts []Attempt

	LogStatistics bool
	LogPayloads   bool
	RequestBody   []byte
	ResponseBody  []byte
	// Secrets are values to redact wherever a payload is logged.
	Secrets []string
}

// Cost is Kong's formula, (prompt x input_cost + completion x output_cost)
// / 1e6, except that prompt tokens read from or written to the prompt cache
// cost cache_read_cost or cache_write_cost instead of input_cost when those
// are configured.
func (r *Record) Cost() float64 {
	u := r.Usage
	if u == nil {
		return 0
	}
	prompt := u.PromptTokens
	var cached float64
	if r.CacheReadCost != nil {
		n := min(max(u.CacheReadTokens, 0), prompt)
		prompt -= n
		cached += float64(n) * *r.CacheReadCost
	}
	if r.CacheWriteCost != nil {
		n := min(max(u.CacheWriteTokens, 0), prompt)
		prompt -= n
		cached += float64(n) * *r.CacheWriteCost
	}
	return (float64(prompt)*r.InputCost + cached + float64(u.CompletionTokens)*r.OutputCost) / 1e6
}

// TimePerToken is Kong's llm latency divided by completion tokens, in ms.
func (r *Record) TimePerToken() float64 {
	if r.Usage == nil || r.Usage.CompletionTokens == 0 {
		return 0
	}
	return float64(r.LLMLatency.Milliseconds()) / float64(r.Usage.CompletionTokens)
}
