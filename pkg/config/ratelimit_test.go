package config

import (
	"context"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/limits"
)

// readLimitConfig reads one plugin config written as YAML.
func readLimitConfig(t *testing.T, plugin, doc string) (*limits.Policy, error) {
	t.Helper()
	tree, err := decodeTree([]byte(doc))
	if err != nil {
		t.Fatalf("decode %q: %v", doc, err)
	}
	w := &walker{}
	o := w.object("config", tree)
	var p *limits.Policy
	if plugin == PluginRateLimiting {
		p = readRateLimiting(o)
	} else {
		p = readAIRateLimiting(o)
	}
	return p, w.err()
}

func TestRateLimitingConfigErrors(t *testing.T) {
	tests := []struct {
		plugin, doc, path, msg string
	}{
		{PluginRateLimiting, `{}`, "config", "at least one of these fields must be set"},
		{PluginRateLimiting, `{minute: 0}`, "config.minute", "greater than 0"},
		{PluginRateLimiting, `{minute: -1}`, "config.minute", "between"},
		{PluginRateLimiting, `{minute: "ten"}`, "config.minute", "expected a number"},
		{PluginRateLimiting, `{minute: 10, hour: 5}`, "config.hour", "cannot be lower than the limit for minute"},
		{PluginRateLimiting, `{minute: 10, limit_by: team}`, "config.limit_by", "expected one of"},
		{PluginRateLimiting, `{minute: 10, limit_by: service}`, "config.limit_by", "service is not supported here"},
		{PluginRateLimiting, `{minute: 10, limit_by: header}`, "config.header_name", "required when limit_by is header"},
		{PluginRateLimiting, `{minute: 10, limit_by: path}`, "config.path", "required when limit_by is path"},
		{PluginRateLimiting, `{minute: 10, limit_by: path, path: v1}`, "config.path", "starting with /"},
		{PluginRateLimiting, `{minute: 10, header_name: 7}`, "config.header_name", "expected a string"},
		{PluginRateLimiting, `{minute: 10, policy: redis}`, "config.policy", `"dynamodb"`},
		{PluginRateLimiting, `{minute: 10, policy: cluster}`, "config.policy", "not available here"},
		{PluginRateLimiting, `{minute: 10, policy: memcached}`, "config.policy", "expected one of: local, dynamodb"},
		{PluginRateLimiting, `{minute: 10, fault_tolerant: "yes"}`, "config.fault_tolerant", "expected a boolean"},
		{PluginRateLimiting, `{minute: 10, hide_client_headers: 1}`, "config.hide_client_headers", "expected a boolean"},
		{PluginRateLimiting, `{minute: 10, error_code: 200}`, "config.error_code", "between 400 and 599"},
		{PluginRateLimiting, `{minute: 10, error_code: 429.5}`, "config.error_code", "expected an integer"},
		{PluginRateLimiting, `{minute: 10, error_message: [a]}`, "config.error_message", "expected a string"},
		{PluginRateLimiting, `{minute: 10, sync_rate: 10}`, "config.sync_rate", "only be used with the redis policy"},
		{PluginRateLimiting, `{minute: 10, burst: 3}`, "config.burst", "unknown field"},

		{PluginAIRateLimiting, `{}`, "config.llm_providers", "required field missing"},
		{PluginAIRateLimiting, `{llm_providers: []}`, "config.llm_providers", "at least one provider"},
		{PluginAIRateLimiting, `{llm_providers: {name: openai}}`, "config.llm_providers", "expected an array"},
		{PluginAIRateLimiting, `{llm_providers: [{limit: [1], window_size: [60]}]}`, "config.llm_providers[0].name", "required field missing"},
		{PluginAIRateLimiting, `{llm_providers: [{name: acme, limit: [1], window_size: [60]}]}`, "config.llm_providers[0].name", "expected one of"},
		{PluginAIRateLimiting, `{llm_providers: [{name: requestPrompt, limit: [1], window_size: [60]}]}`, "config.llm_providers[0].name", "not supported"},
		{PluginAIRateLimiting, `{llm_providers: [{name: openai, limit: [1], window_size: [60]}, {name: openai, limit: [1], window_size: [30]}]}`, "config.llm_providers[1].name", "listed twice"},
		{PluginAIRateLimiting, `{llm_providers: [{name: openai, window_size: [60]}]}`, "config.llm_providers[0].limit", "required field missing"},
		{PluginAIRateLimiting, `{llm_providers: [{name: openai, limit: [1]}]}`, "config.llm_providers[0].window_size", "required field missing"},
		{PluginAIRateLimiting, `{llm_providers: [{name: openai, limit: [1, 2], window_size: [60]}]}`, "config.llm_providers[0]", "same number of entries"},
		{PluginAIRateLimiting, `{llm_providers: [{name: openai, limit: [0], window_size: [60]}]}`, "config.llm_providers[0].limit[0]", "greater than 0"},
		{PluginAIRateLimiting, `{llm_providers: [{name: openai, limit: [x], window_size: [60]}]}`, "config.llm_providers[0].limit[0]", "expected a number"},
		{PluginAIRateLimiting, `{llm_providers: [{name: openai, limit: [1], window_size: [1.5]}]}`, "config.llm_providers[0].window_size[0]", "expected an integer"},
		{PluginAIRateLimiting, `{llm_providers: [{name: openai, limit: [1], window_size: [-60]}]}`, "config.llm_providers[0].window_size[0]", "greater than 0"},
		{PluginAIRateLimiting, `{llm_providers: [{name: openai, limit: [1, 2], window_size: [60, 60]}]}`, "config.llm_providers", "given twice"},
		{PluginAIRateLimiting, `{llm_providers: [{name: openai, limit: [1], window_size: [60], burst: 1}]}`, "config.llm_providers[0].burst", "unknown field"},
		{PluginAIRateLimiting, `{llm_providers: [{name: openai, limit: [1], window_size: [60]}], tokens_count_strategy: words}`, "config.tokens_count_strategy", "expected one of"},
		{PluginAIRateLimiting, `{llm_providers: [{name: openai, limit: [1], window_size: [60]}], identifier: consumer-group}`, "config.identifier", "consumer groups are not supported"},
		{PluginAIRateLimiting, `{llm_providers: [{name: openai, limit: [1], window_size: [60]}], identifier: header}`, "config.header_name", "required when identifier is header"},
		{PluginAIRateLimiting, `{llm_providers: [{name: openai, limit: [1], window_size: [60]}], window_type: rolling}`, "config.window_type", "expected one of: sliding, fixed"},
		{PluginAIRateLimiting, `{llm_providers: [{name: openai, limit: [1], window_size: [60]}], strategy: redis}`, "config.strategy", "not available here"},
		{PluginAIRateLimiting, `{llm_providers: [{name: openai, limit: [1], window_size: [60]}], error_code: 99}`, "config.error_code", "between 400 and 599"},
		{PluginAIRateLimiting, `{llm_providers: [{name: openai, limit: [1], window_size: [60]}], hide_client_headers: "no"}`, "config.hide_client_headers", "expected a boolean"},
		{PluginAIRateLimiting, `{llm_providers: [{name: openai, limit: [1], window_size: [60]}], llm_format: gemini}`, "config.llm_format", "only openai and anthropic"},
		{PluginAIRateLimiting, `{llm_providers: [{name: openai, limit: [1], window_size: [60]}], custom_cost_count_function: "return 1"}`, "config.custom_cost_count_function", "Lua functions"},
		{PluginAIRateLimiting, `{llm_providers: [{name: openai, limit: [1], window_size: [60]}], fault_tolerant: 0}`, "config.fault_tolerant", "expected a boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.plugin+" "+tt.doc, func(t *testing.T) {
			p, err := readLimitConfig(t, tt.plugin, tt.doc)
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			want := tt.path + ": "
			for _, line := range strings.Split(err.Error(), "\n") {
				if strings.HasPrefix(line, want) && strings.Contains(line, tt.msg) {
					return
				}
			}
			t.Fatalf("error %q does not say %q at %s", err, tt.msg, tt.path)
		})
	}
}

func TestRateLimitingConfigDefaults(t *testing.T) {
	p, err := readLimitConfig(t, PluginRateLimiting, `{second: 5, hour: 1000, policy: dynamodb, redis: {host: null, port: 6379}}`)
	if err != nil {
		t.Fatal(err)
	}
	if p.LimitBy != "consumer" || !p.FaultTolerant || p.HideClientHeaders || p.ErrorCode != 429 ||
		p.ErrorMessage != "API rate limit exceeded" || !p.Shared || p.Sliding {
		t.Fatalf("defaults: %+v", p)
	}
	if len(p.Rules) != 2 || p.Rules[0].Name != "Second" || p.Rules[0].Limit != 5 || p.Rules[1].Name != "Hour" || p.Rules[1].Window.Seconds != 3600 {
		t.Fatalf("rules: %+v", p.Rules)
	}

	p, err = readLimitConfig(t, PluginAIRateLimiting, `
llm_providers:
  - {name: openai, limit: [1000, 50000], window_size: [60, 86400]}
  - {name: azure, limit: 5, window_size: 60}
tokens_count_strategy: cost
strategy: dynamodb
namespace: teams
sync_rate: -1
`)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Sliding || !p.Shared || p.ID != "ns:teams" || p.ErrorMessage != "AI token rate limit exceeded for provider(s): openai" {
		t.Fatalf("defaults: %+v", p)
	}
	if len(p.Rules) != 2 || p.Rules[0].Name != "60-openai" || p.Rules[1].Name != "86400-openai" || p.Rules[1].Metric != limits.Cost || p.Rules[1].Limit != 50000 {
		t.Fatalf("rules (azure's count nothing here): %+v", p.Rules)
	}
}

const limitsDeck = `
_format_version: "3.0"
routes:
  - name: chat
    paths: [/chat]
  - name: other
    paths: [/other]
    plugins:
      - name: ai-proxy
        config: {route_type: llm/v1/chat, model: {provider: openai, name: gpt-4o}}
plugins:
  - name: ai-proxy
    config: {route_type: llm/v1/chat, model: {provider: openai, name: gpt-4o, options: {input_cost: 5, output_cost: 15}}}
  - name: rate-limiting
    config: {minute: 100, policy: dynamodb}
  - name: ai-rate-limiting-advanced
    route: chat
    consumer: team-a
    config:
      llm_providers: [{name: openai, limit: [50], window_size: [2592000]}]
      tokens_count_strategy: cost
      strategy: dynamodb
consumers:
  - username: team-a
  - username: team-b
    plugins:
      - name: rate-limiting
        instance_name: team-b-requests
        config: {minute: 5}
`

// Limits resolve like any Kong plugin, and their counters are named by
// what the instance is, not where it sits in the document.
func TestLimitsScopes(t *testing.T) {
	cfg, err := Parse(context.Background(), []byte(limitsDeck), Options{})
	if err != nil {
		t.Fatal(err)
	}
	chat, other := cfg.Routes[0], cfg.Routes[1]
	tests := []struct {
		name     string
		got      *limits.Policy
		wantID   string
		wantNone bool
	}{
		{"global rate-limiting", chat.RateLimiting.For(""), "global", false},
		{"team-a has no rate-limiting of its own", chat.RateLimiting.For("team-a"), "global", false},
		{"team-b's own", chat.RateLimiting.For("team-b"), "team-b-requests", false},
		{"team-a's budget on chat", chat.AIRateLimiting.For("team-a"), "route=chat,consumer=team-a", false},
		{"no budget for team-b", chat.AIRateLimiting.For("team-b"), "", true},
		{"no budget on the other route", other.AIRateLimiting.For("team-a"), "", true},
	}
	for _, tt := range tests {
		if (tt.got == nil) != tt.wantNone || (tt.got != nil && tt.got.ID != tt.wantID) {
			t.Errorf("%s: %+v, want ID %q", tt.name, tt.got, tt.wantID)
		}
	}
}

func TestCostBudgetNeedsPrices(t *testing.T) {
	doc := strings.Replace(limitsDeck, "route: chat", "route: other", 1)
	_, err := Parse(context.Background(), []byte(doc), Options{})
	if err == nil || !strings.Contains(err.Error(), `routes[1]: ai-rate-limiting-advanced counts cost on route "other", but its ai-proxy plugin sets no model.options.input_cost or output_cost`) {
		t.Fatalf("err = %v", err)
	}
}
