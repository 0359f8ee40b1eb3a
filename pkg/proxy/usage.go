package proxy

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

// decodeUsage reads OpenAI's usage object, cached prompt tokens included.
func decodeUsage(raw []byte) *stats.Usage {
	if len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	if isResponsesUsage(raw) {
		return responsesUsage(raw)
	}
	if u, ok := scanUsage(raw); ok {
		return u
	}
	return unmarshalUsage(raw)
}

// unmarshalUsage is decodeUsage through encoding/json, which decides every
// usage object scanUsage leaves to it.
func unmarshalUsage(raw []byte) *stats.Usage {
	var u struct {
		stats.Usage
		Details *struct {
			Cached  int `json:"cached_tokens"`
			Created int `json:"cache_creation_tokens"`
		} `json:"prompt_tokens_details"`
	}
	if json.Unmarshal(raw, &u) != nil {
		return nil
	}
	if u.Details != nil {
		u.CacheReadTokens, u.CacheWriteTokens = u.Details.Cached, u.Details.Created
	}
	return &u.Usage
}

// usageNames are the members of OpenAI's usage object the statistics read.
var usageNames = []string{"prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details"}

// scanUsage decodes a usage object without reflection: one topLevel pass
// and strconv, instead of encoding/json's ~10 µs per answer. It takes only
// what it can decode exactly as encoding/json would (unescaped names, each
// either exactly one of usageNames or unlike all of them under case
// folding, integer or null counts) and reports false for anything else
// (a float, a string, a name in other case), which unmarshalUsage then
// decides, so that the result never differs.
func scanUsage(raw []byte) (*stats.Usage, bool) {
	var arr [8]field
	fields, err := topLevel(raw, arr[:0])
	if err != nil {
		return nil, false
	}
	var u stats.Usage
	var details bool // prompt_tokens_details is an object (the last one)
	for _, f := range fields {
		v := raw[f.start:f.end]
		var dst *int
		switch {
		case f.escaped:
			return nil, false
		case f.key == "prompt_tokens":
			dst = &u.PromptTokens
		case f.key == "completion_tokens":
			dst = &u.CompletionTokens
		case f.key == "total_tokens":
			dst = &u.TotalTokens
		case f.key == "prompt_tokens_details":
			switch {
			case string(v) == "null":
				// encoding/json sets the pointer to nil; a later object
				// starts from zero.
				details, u.CacheReadTokens, u.CacheWriteTokens = false, 0, 0
			case v[0] == '{':
				if !scanDetails(v, &u) {
					return nil, false
				}
				details = true
			default:
				return nil, false
			}
			continue
		case foldsToAny(f.key, usageNames):
			return nil, false
		default:
			continue // a member the statistics do not read
		}
		if !scanCount(v, dst) {
			return nil, false
		}
	}
	if !details {
		u.CacheReadTokens, u.CacheWriteTokens = 0, 0
	}
	return &u, true
}

// detailNames are the members of prompt_tokens_details the statistics read:
// OpenAI's cached_tokens, and cache_creation_tokens, which translating
// drivers (and LiteLLM) add for prompt tokens written to a provider's cache.
var detailNames = []string{"cached_tokens", "cache_creation_tokens"}

// scanDetails reads prompt_tokens_details into u's cache counts, which
// keep their values when a member is absent or null (encoding/json decodes
// a repeated object into the same struct).
func scanDetails(raw []byte, u *stats.Usage) bool {
	var arr [4]field
	fields, err := topLevel(raw, arr[:0])
	if err != nil {
		return false
	}
	for _, f := range fields {
		switch {
		case f.escaped:
			return false
		case f.key == "cached_tokens":
			if !scanCount(raw[f.start:f.end], &u.CacheReadTokens) {
				return false
			}
		case f.key == "cache_creation_tokens":
			if !scanCount(raw[f.start:f.end], &u.CacheWriteTokens) {
				return false
			}
		case foldsToAny(f.key, detailNames):
			return false
		}
	}
	return true
}

// scanCount decodes an integer or null into dst as encoding/json decodes it
// into an int; false for any other value.
func scanCount(v []byte, dst *int) bool {
	if string(v) == "null" {
		return true
	}
	if v[0] != '-' && (v[0] < '0' || v[0] > '9') {
		return false
	}
	n, err := strconv.ParseInt(string(v), 10, 0)
	if err != nil {
		return false
	}
	*dst = int(n)
	return true
}

// foldsToAny reports a name encoding/json might match to one of names
// without being it: equal under case folding, or not ASCII at all (its
// folding rules go beyond strings.EqualFold's for some runes).
func foldsToAny(key string, names []string) bool {
	for i := 0; i < len(key); i++ {
		if key[i] >= 0x80 {
			return true
		}
	}
	for _, n := range names {
		if strings.EqualFold(key, n) {
			return true
		}
	}
	return false
}
