package limits

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
)

// Subject is what a policy can count by: Kong's limit_by / identifier.
type Subject struct {
	Consumer   string // the key-auth consumer's name, if any
	Credential string // an id of the credential used, if any
	IP         string // the client address
	Path       string
	// Header returns a request header's value; nil means none.
	Header func(name string) string
}

// identifier is what the policy counts by, as Kong's get_identifier: a
// missing consumer, credential, header or path falls back to the client IP.
// (Kong's limit_by service is refused by the config: routes here do not
// carry their service.)
func (p *Policy) identifier(s Subject) string {
	var id string
	switch p.LimitBy {
	case "consumer", "":
		id = s.Consumer
		if id == "" {
			id = s.Credential
		}
		if id != "" {
			id = "consumer:" + id
		}
	case "credential":
		if s.Credential != "" {
			id = "credential:" + s.Credential
		}
	case "header":
		if s.Header != nil {
			if v := s.Header(p.HeaderName); v != "" {
				id = "header:" + v
			}
		}
	case "path":
		if s.Path == p.Path {
			id = "path:" + s.Path
		}
	}
	if id == "" {
		id = "ip:" + s.IP
	}
	// Hashed: identifiers can be client-chosen (a header), long, or
	// personal (an IP); the table needs none of that in clear.
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:16])
}

// Usage is a request's token counts.
type Usage struct {
	PromptTokens     int64
	CompletionTokens int64
}

// Prices are model.options.input_cost and output_cost: dollars (or any
// currency) per million tokens.
type Prices struct {
	Input, Output float64
}

// amount is what a usage counts for under a metric.
func amount(m Metric, u Usage, p Prices) float64 {
	switch m {
	case Requests:
		return 1
	case TotalTokens:
		return float64(u.PromptTokens + u.CompletionTokens)
	case PromptTokens:
		return float64(u.PromptTokens)
	case CompletionTokens:
		return float64(u.CompletionTokens)
	case Cost:
		return (float64(u.PromptTokens)*p.Input + float64(u.CompletionTokens)*p.Output) / 1e6
	}
	return 0
}

// DefaultCompletionReserve is the completion tokens reserved for a request
// that sets no max_tokens / max_completion_tokens when the ai-proxy plugin
// configures no model.options.max_tokens either. The real usage can exceed
// it: set a cap for a hard budget.
const DefaultCompletionReserve = 4096

// bytesPerToken is the estimate of prompt tokens from the body size. A
// token of English is about four bytes of text; JSON syntax and field names
// make the body larger than its text, and other scripts take fewer bytes
// per token, so three leans towards reserving too much, which settlement
// gives back.
const bytesPerToken = 3

// Estimate is the worst case of a request: its prompt estimated from the
// body's size, and its completion capped by maxCompletion (the request's
// max_completion_tokens or max_tokens as the upstream will read it; <= 0
// when it sets none) or else by configuredCap (model.options.max_tokens;
// <= 0 when unset), else DefaultCompletionReserve.
func Estimate(bodyBytes int, maxCompletion, configuredCap int64) Usage {
	prompt := int64(math.Ceil(float64(bodyBytes) / bytesPerToken))
	completion := maxCompletion
	if completion <= 0 {
		completion = configuredCap
	}
	if completion <= 0 {
		completion = DefaultCompletionReserve
	}
	return Usage{PromptTokens: prompt, CompletionTokens: completion}
}
