package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/balancer"
)

// PluginAIProxyAdvanced is Kong's ai-proxy-advanced: several targets behind
// one route, a balancer to pick among them and failover between them.
const PluginAIProxyAdvanced = "ai-proxy-advanced"

// Advanced is what ai-proxy-advanced adds to a Plugin: its targets and its
// balancer. The Plugin that carries it is its first target with the
// plugin's own top-level fields, so that everything decided before a target
// is picked (body size, streaming policy, route type) reads one place.
type Advanced struct {
	Targets  []*Target
	Balancer Balancer
	// Pick orders the targets for each request; its round-robin position
	// lives as long as this configuration version.
	Pick *balancer.Balancer
}

// Target is one targets[] entry, as an ai-proxy plugin of its own.
type Target struct {
	Plugin      *Plugin
	Weight      int
	Description string
	// Name identifies the target in statistics, the model header's log and
	// the shared circuit state: "<index>:<provider>/<model>".
	Name string
}

// Balancer is ai-proxy-advanced's balancer block, Kong's defaults applied.
type Balancer struct {
	Algorithm        balancer.Algorithm
	Retries          int
	FailoverCriteria Criteria
	ConnectTimeout   time.Duration
	ReadTimeout      time.Duration
	WriteTimeout     time.Duration
	HashOnHeader     string
	// LatencyStrategy is "tpot" or "e2e"; TokensCountStrategy
	// "total-tokens", "prompt-tokens", "completion-tokens" or "cost".
	LatencyStrategy     string
	TokensCountStrategy string
	Slots               int
	// MaxFails failures open a target's circuit for FailTimeout; 0
	// disables the circuit breaker (Kong's default).
	MaxFails    int
	FailTimeout time.Duration
}

// Criteria is a set of failover_criteria.
type Criteria uint16

// The failover criteria, as Kong names them after nginx's
// proxy_next_upstream.
const (
	FailError Criteria = 1 << iota
	FailTimeout
	FailInvalidHeader
	FailNonIdempotent
	FailHTTP403
	FailHTTP404
	FailHTTP429
	FailHTTP500
	FailHTTP502
	FailHTTP503
	FailHTTP504
)

var criteriaNames = []string{"error", "timeout", "invalid_header", "non_idempotent", "http_403", "http_404", "http_429", "http_500", "http_502", "http_503", "http_504"}

// Has reports whether c includes every criterion of x.
func (c Criteria) Has(x Criteria) bool { return c&x == x }

// ForStatus is the criterion an upstream status matches, 0 for none (400,
// 401, 413 and 422 are the client's and never fail over). 529 is
// Anthropic's overloaded_error, relayed as it is to a Messages client
// (the anthropic driver answers it as 503 in OpenAI's format): http_503.
func ForStatus(status int) Criteria {
	switch status {
	case 529:
		return FailHTTP503
	case 403:
		return FailHTTP403
	case 404:
		return FailHTTP404
	case 429:
		return FailHTTP429
	case 500:
		return FailHTTP500
	case 502:
		return FailHTTP502
	case 503:
		return FailHTTP503
	case 504:
		return FailHTTP504
	}
	return 0
}

func (c Criteria) String() string {
	var out []string
	for i, n := range criteriaNames {
		if c&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return strings.Join(out, ",")
}

// Kong's balancer defaults.
const (
	DefaultRetries      = 5
	DefaultTimeout      = 60 * time.Second
	DefaultHashHeader   = "X-Kong-LLM-Request-ID"
	DefaultSlots        = 10000
	DefaultFailTimeout  = 10 * time.Second
	maxTimeoutMillis    = 2147483646
	advancedTopIgnored  = "max_request_body_size_bytes"
	advancedWhyNoVector = "the semantic algorithm is not supported (it needs an embeddings model and a vector database on every request)"
)

// compileAdvanced reads an ai-proxy-advanced config object.
func compileAdvanced(o *object) *Plugin {
	w := o.w
	before := len(w.errs)
	top := Plugin{
		ResponseStreaming:  o.enum("response_streaming", StreamAllow, StreamAllow, StreamDeny, StreamAlways),
		ModelNameHeader:    o.boolean("model_name_header", true),
		MaxRequestBodySize: DefaultMaxRequestBodySize,
	}
	if n := o.integer("max_request_body_size", 0, 1<<40); n != nil {
		top.MaxRequestBodySize = int64(*n)
		if *n == 0 {
			top.MaxRequestBodySize = MaxRequestBodySizeUnlimited
		}
	}
	// llm_format is the plugin's (Kong's schema has it at the top, not on
	// a target): every target serves the same client API, each shaped as
	// the plan it would be under ai-proxy with that format.
	top.LLMFormat = FormatOpenAI
	switch f := o.str("llm_format"); f {
	case "", FormatOpenAI:
	case FormatAnthropic:
		top.LLMFormat = f
	default:
		w.fail(join(o.path, "llm_format"), "%q is not supported: clients speak OpenAI's format (llm_format: openai) or Anthropic's Messages (llm_format: anthropic)", f)
	}
	if o.has("model_aliases") {
		// Each target maps the client's names to its own model ids (a
		// Bedrock inference profile is not Anthropic's model name).
		w.fail(join(o.path, "model_aliases"), "set model_aliases on each target, not on the plugin: each target maps the client's model names to its own model ids")
		o.ignore("model_aliases")
	}
	if c := o.str("genai_category"); c != "" && c != "text/generation" {
		w.fail(join(o.path, "genai_category"), "%q is not supported: only text/generation (chat and completions)", c)
	}
	o.ignore(advancedTopIgnored)
	for _, f := range []string{"embeddings", "vectordb"} {
		if o.has(f) {
			w.fail(join(o.path, f), "%s", advancedWhyNoVector)
		}
	}
	if o.has("acls") {
		w.fail(join(o.path, "acls"), "not implemented here, and loading without it would drop what it enforces")
	}
	adv := &Advanced{Balancer: readBalancer(o.child("balancer"))}
	list := o.list("targets")
	if !o.has("targets") || len(list) == 0 {
		w.fail(join(o.path, "targets"), "required field missing: at least one target")
	}
	if len(list) > balancer.MaxTargets {
		w.fail(join(o.path, "targets"), "at most %d targets", balancer.MaxTargets)
		list = nil
	}
	var weights []int
	for i, tv := range list {
		path := fmt.Sprintf("%s[%d]", join(o.path, "targets"), i)
		t := readTarget(w, path, tv, &top, i)
		if t == nil {
			continue
		}
		if len(adv.Targets) > 0 && t.Plugin.RouteType != adv.Targets[0].Plugin.RouteType {
			w.fail(join(path, "route_type"), "every target must have the same route_type (%s): clients call one API on a route", adv.Targets[0].Plugin.RouteType)
		}
		adv.Targets = append(adv.Targets, t)
		weights = append(weights, t.Weight)
	}
	o.done()
	if len(w.errs) > before || len(adv.Targets) == 0 {
		return nil
	}
	b, err := balancer.New(adv.Balancer.Algorithm, weights, adv.Balancer.Slots)
	if err != nil {
		w.fail(join(o.path, "targets"), "%v", err)
		return nil
	}
	adv.Pick = b
	lead := *adv.Targets[0].Plugin
	lead.Advanced = adv
	return &lead
}

// readTarget reads one targets[] entry: an ai-proxy config (route_type,
// model, auth, logging) with weight and description.
func readTarget(w *walker, path string, v any, top *Plugin, i int) *Target {
	t := w.object(path, v)
	weight := 100
	if n := t.integer("weight", 1, 65535); n != nil {
		weight = *n
	}
	desc := t.str("description")
	t.ignore("metadata")
	for _, f := range []string{"response_streaming", "max_request_body_size", "model_name_header", "llm_format", "genai_category"} {
		if t.has(f) {
			w.fail(join(path, f), "set on the plugin, not on a target")
			t.ignore(f)
		}
	}
	p := compileTarget(t, top.LLMFormat)
	if p == nil {
		return nil
	}
	p.ResponseStreaming, p.ModelNameHeader, p.MaxRequestBodySize = top.ResponseStreaming, top.ModelNameHeader, top.MaxRequestBodySize
	name := p.Model.Name.Raw
	switch {
	case name != "":
	case len(p.ModelAliases) > 0:
		name = "(aliases)" // a Messages target: the client's name, mapped
	default:
		name = "(client)"
	}
	return &Target{Plugin: p, Weight: weight, Description: desc, Name: fmt.Sprintf("%d:%s/%s", i, p.Model.Provider, name)}
}

func readBalancer(o *object) Balancer {
	w := o.w
	b := Balancer{
		Retries:             DefaultRetries,
		FailoverCriteria:    FailError | FailTimeout,
		ConnectTimeout:      DefaultTimeout,
		ReadTimeout:         DefaultTimeout,
		WriteTimeout:        DefaultTimeout,
		HashOnHeader:        DefaultHashHeader,
		LatencyStrategy:     o.enum("latency_strategy", "tpot", "tpot", "e2e"),
		TokensCountStrategy: o.enum("tokens_count_strategy", "total-tokens", "total-tokens", "prompt-tokens", "completion-tokens", "cost"),
		Slots:               DefaultSlots,
		FailTimeout:         DefaultFailTimeout,
	}
	if s := o.str("tokens_count_strategy"); s == "llm-accuracy" {
		w.fail(join(o.path, "tokens_count_strategy"), "llm-accuracy is not supported: it needs Kong's AI semantic evaluation")
	}
	if s := o.str("algorithm"); o.has("algorithm") {
		a, err := balancer.Parse(s)
		if err != nil {
			w.fail(join(o.path, "algorithm"), "%v", err)
		}
		b.Algorithm = a
	}
	if n := o.integer("retries", 0, 32767); n != nil {
		b.Retries = *n
	}
	if o.has("failover_criteria") {
		b.FailoverCriteria = 0
		for i, s := range o.strings("failover_criteria") {
			found := false
			for j, n := range criteriaNames {
				if n == s {
					b.FailoverCriteria |= 1 << j
					found = true
				}
			}
			if !found {
				w.fail(fmt.Sprintf("%s[%d]", join(o.path, "failover_criteria"), i), "expected one of: %s", strings.Join(criteriaNames, ", "))
			}
		}
	}
	ms := func(key string, dst *time.Duration) {
		if n := o.integer(key, 1, maxTimeoutMillis); n != nil {
			*dst = time.Duration(*n) * time.Millisecond
		}
	}
	ms("connect_timeout", &b.ConnectTimeout)
	ms("read_timeout", &b.ReadTimeout)
	ms("write_timeout", &b.WriteTimeout)
	ms("fail_timeout", &b.FailTimeout)
	if h := o.str("hash_on_header"); h != "" {
		b.HashOnHeader = h
	}
	if n := o.integer("slots", 10, 65536); n != nil {
		b.Slots = *n
	}
	if n := o.integer("max_fails", 0, 32767); n != nil {
		b.MaxFails = *n
	}
	o.done()
	return b
}

// compileAny reads the config of an ai-proxy or ai-proxy-advanced plugin.
func compileAny(name string, o *object) *Plugin {
	if name == PluginAIProxyAdvanced {
		return compileAdvanced(o)
	}
	return compilePlugin(o)
}
