package config

import (
	"fmt"
	"math"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/limits"
)

// Plugin names of the two rate-limiting plugins.
const (
	PluginRateLimiting   = limits.PluginRateLimiting
	PluginAIRateLimiting = limits.PluginAIRateLimiting
)

// Our store name, beside Kong's local/cluster/redis.
const storeDynamoDB = "dynamodb"

// Kong fields that change nothing here: accepted so that a configuration
// dumped from Kong loads as is.
var (
	rateLimitingIgnored   = []string{"redis", "redis_host", "redis_port", "redis_password", "redis_username", "redis_ssl", "redis_ssl_verify", "redis_server_name", "redis_timeout", "redis_database"}
	aiRateLimitingIgnored = []string{"redis", "dictionary_name", "sync_rate", "retry_after_jitter_max", "disable_penalty", "decrease_by_fractions_in_redis"}
)

// maxLimit bounds limits and window sizes: beyond it float64 counts lose
// whole units.
const maxLimit = 1 << 53

// readRateLimiting reads Kong's rate-limiting plugin config (Kong OSS
// schema, kong/plugins/rate-limiting/schema.lua) with its defaults, plus
// policy dynamodb.
func readRateLimiting(o *object) *limits.Policy {
	w := o.w
	before := len(w.errs)
	p := &limits.Policy{Plugin: PluginRateLimiting}
	prev, prevUnit := 0.0, ""
	for _, unit := range limits.Units() {
		v := positive(o, unit, maxLimit)
		if v == nil {
			continue
		}
		// Kong: a longer period cannot allow fewer requests than a shorter one.
		if prevUnit != "" && *v < prev {
			w.fail(join(o.path, unit), "the limit for %s (%v) cannot be lower than the limit for %s (%v)", unit, *v, prevUnit, prev)
		}
		prev, prevUnit = *v, unit
		win, _ := limits.UnitWindow(unit)
		p.Rules = append(p.Rules, limits.Rule{Name: strings.ToUpper(unit[:1]) + unit[1:], Window: win, Limit: *v, Metric: limits.Requests})
	}
	if len(p.Rules) == 0 && len(w.errs) == before {
		w.fail(pathOr(o.path), "at least one of these fields must be set: second, minute, hour, day, month, year")
	}
	readLimitBy(o, p, "limit_by", "consumer", "credential", "ip", "header", "path")
	p.Shared = readStore(o, "policy", "cluster", "redis")
	p.FaultTolerant = o.boolean("fault_tolerant", true)
	readRefusal(o, p, limits.DefaultRateLimitMessage)
	if v := o.number("sync_rate", -1, math.MaxFloat64); v != nil && *v != -1 {
		w.fail(join(o.path, "sync_rate"), "sync_rate can only be used with the redis policy")
	}
	o.ignore(rateLimitingIgnored...)
	o.done()
	if len(w.errs) > before {
		return nil
	}
	return p
}

// aiProviders are the provider names of Kong's llm_providers; only openai's
// entries apply to this proxy, the others are accepted and count nothing.
var aiProviders = []string{"openai", "azure", "anthropic", "cohere", "mistral", "llama2", "bedrock", "gemini", "huggingface"}

// readAIRateLimiting reads Kong's ai-rate-limiting-advanced plugin config
// (as Kong's documentation defines it) with its defaults, plus strategy
// dynamodb and fault_tolerant.
func readAIRateLimiting(o *object) *limits.Policy {
	w := o.w
	before := len(w.errs)
	p := &limits.Policy{Plugin: PluginAIRateLimiting}
	metric := map[string]limits.Metric{
		"total_tokens": limits.TotalTokens, "prompt_tokens": limits.PromptTokens,
		"completion_tokens": limits.CompletionTokens, "cost": limits.Cost,
	}[o.enum("tokens_count_strategy", "total_tokens", "total_tokens", "prompt_tokens", "completion_tokens", "cost")]
	readProviders(o, p, metric)
	readLimitBy(o, p, "identifier", "consumer", "credential", "ip", "header", "path")
	p.Sliding = o.enum("window_type", "sliding", "sliding", "fixed") == "sliding"
	p.Shared = readStore(o, "strategy", "cluster", "redis")
	p.FaultTolerant = o.boolean("fault_tolerant", true)
	msg := limits.DefaultAIRateLimitMessage
	readRefusal(o, p, msg)
	if !o.boolean("error_hide_providers", false) {
		p.ErrorMessage += "openai"
	}
	if ns := o.str("namespace"); ns != "" {
		// Kong shares counters between plugin instances of one namespace.
		p.ID = "ns:" + ns
	}
	if f, _ := o.m["llm_format"].(string); f != "" && f != FormatOpenAI && f != FormatAnthropic {
		w.fail(join(o.path, "llm_format"), "only openai and anthropic are supported")
	}
	o.ignore("llm_format")
	for _, k := range []string{"custom_cost_count_function", "request_prompt_count_function"} {
		if o.str(k) != "" {
			w.fail(join(o.path, k), "Lua functions are not supported here")
		}
	}
	o.ignore(aiRateLimitingIgnored...)
	o.done()
	if len(w.errs) > before {
		return nil
	}
	return p
}

// readProviders reads llm_providers: per provider, limit[i] per
// window_size[i] seconds.
func readProviders(o *object, p *limits.Policy, metric limits.Metric) {
	w := o.w
	if !o.has("llm_providers") {
		w.fail(join(o.path, "llm_providers"), "required field missing")
		return
	}
	seen := map[string]bool{}
	list := o.list("llm_providers")
	if len(list) == 0 && o.has("llm_providers") {
		w.fail(join(o.path, "llm_providers"), "at least one provider is required")
	}
	for i, v := range list {
		po := w.object(fmt.Sprintf("%s[%d]", join(o.path, "llm_providers"), i), v)
		name := po.enum("name", "", append([]string{"requestPrompt"}, aiProviders...)...)
		switch {
		case !po.has("name"):
			w.fail(join(po.path, "name"), "required field missing")
		case name == "requestPrompt":
			w.fail(join(po.path, "name"), "requestPrompt is not supported here (it needs a Lua function)")
		case seen[name]:
			w.fail(join(po.path, "name"), "provider %q is listed twice", name)
		}
		seen[name] = true
		lims := numbers(po, "limit", false)
		sizes := numbers(po, "window_size", true)
		if len(lims) != len(sizes) {
			w.fail(po.path, "limit and window_size must have the same number of entries (%d and %d)", len(lims), len(sizes))
		}
		po.done()
		if name != "openai" {
			continue
		}
		for j := 0; j < len(lims) && j < len(sizes); j++ {
			n := int64(sizes[j])
			p.Rules = append(p.Rules, limits.Rule{Name: fmt.Sprintf("%d-%s", n, name), Window: limits.SecondsWindow(n), Limit: lims[j], Metric: metric})
		}
	}
	sizes := map[string]bool{}
	for _, r := range p.Rules {
		if sizes[r.Name] {
			w.fail(join(o.path, "llm_providers"), "window_size %s is given twice for one provider", r.Window)
		}
		sizes[r.Name] = true
	}
}

// numbers reads a list of numbers greater than 0 (a single number is taken
// as a list of one, as older Kong versions wrote it); whole requires
// integers.
func numbers(o *object, key string, whole bool) []float64 {
	if !o.has(key) {
		o.w.fail(join(o.path, key), "required field missing")
		return nil
	}
	v, _ := o.get(key)
	items, isList := v.([]any)
	if !isList {
		items = []any{v}
	}
	if len(items) == 0 {
		o.w.fail(join(o.path, key), "at least one entry is required")
	}
	var out []float64
	for i, e := range items {
		path := join(o.path, key)
		if isList {
			path = fmt.Sprintf("%s[%d]", path, i)
		}
		f, isNumber := asNumber(e)
		if !isNumber {
			o.w.fail(path, "expected a number, got %s", kind(e))
			continue
		}
		switch {
		case math.IsNaN(f) || f <= 0 || f > maxLimit:
			o.w.fail(path, "value must be greater than 0 and at most %d", int64(maxLimit))
		case whole && f != math.Trunc(f):
			o.w.fail(path, "expected an integer")
		default:
			out = append(out, f)
		}
	}
	return out
}

// positive reads an optional number greater than 0 (Kong's gt = 0).
func positive(o *object, key string, limit float64) *float64 {
	v := o.number(key, 0, limit)
	if v != nil && *v == 0 {
		o.w.fail(join(o.path, key), "value must be greater than 0")
		return nil
	}
	return v
}

// readLimitBy reads what the policy counts by, with the header_name or path
// that limit_by header / path need.
func readLimitBy(o *object, p *limits.Policy, key string, allowed ...string) {
	switch o.str(key) {
	case "consumer-group":
		o.w.fail(join(o.path, key), "consumer groups are not supported here; use consumer-scoped plugins")
		p.LimitBy = "consumer"
	case "service":
		o.w.fail(join(o.path, key), "service is not supported here; scope the plugin to the service and count by consumer or ip")
		p.LimitBy = "consumer"
	default:
		p.LimitBy = o.enum(key, "consumer", allowed...)
	}
	p.HeaderName = o.str("header_name")
	p.Path = o.str("path")
	if p.LimitBy == "header" && p.HeaderName == "" {
		o.w.fail(join(o.path, "header_name"), "required when %s is header", key)
	}
	if p.LimitBy == "path" {
		if p.Path == "" {
			o.w.fail(join(o.path, "path"), "required when %s is path", key)
		} else if !strings.HasPrefix(p.Path, "/") {
			o.w.fail(join(o.path, "path"), "expected a path starting with /")
		}
	}
}

// readStore reads policy/strategy: local (Kong's default) or dynamodb;
// Kong's shared stores are refused with what to use instead.
func readStore(o *object, key string, kongShared ...string) bool {
	v := o.str(key)
	for _, k := range kongShared {
		if v == k {
			o.w.fail(join(o.path, key), "%s %q is not available here: use %q (one DynamoDB table shared by every Lambda instance) or \"local\" (each instance counts alone)", key, v, storeDynamoDB)
			return false
		}
	}
	return o.enum(key, "local", "local", storeDynamoDB) == storeDynamoDB
}

// readRefusal reads error_code, error_message and hide_client_headers.
func readRefusal(o *object, p *limits.Policy, defaultMessage string) {
	p.ErrorCode = 429
	if c := o.integer("error_code", 400, 599); c != nil {
		p.ErrorCode = *c
	}
	p.ErrorMessage = defaultMessage
	if o.has("error_message") {
		p.ErrorMessage = o.str("error_message")
	}
	p.HideClientHeaders = o.boolean("hide_client_headers", false)
}
