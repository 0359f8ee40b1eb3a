package config

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/balancer"
)

const advancedConfig = `
targets:
  - route_type: llm/v1/chat
    weight: 70
    description: primary
    auth: {header_name: Authorization, header_value: Bearer sk-a}
    logging: {log_statistics: true}
    model: {provider: openai, name: gpt-4o-mini, options: {input_cost: 0.15, output_cost: 0.6}}
  - route_type: llm/v1/chat
    model:
      provider: bedrock
      name: anthropic.claude-3-haiku
      options: {bedrock: {aws_region: us-west-2}}
balancer:
  algorithm: priority
  retries: 3
  failover_criteria: [error, timeout, http_429, http_500, http_502, http_503, http_504, non_idempotent]
  connect_timeout: 2000
  read_timeout: 30000
  max_fails: 3
  fail_timeout: 15000
response_streaming: allow
`

func TestAdvancedEveryForm(t *testing.T) {
	indent := func(s, pad string) string {
		return pad + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n"+pad)
	}
	forms := map[string]string{
		"bare":     advancedConfig,
		"admin":    "name: ai-proxy-advanced\nconfig:\n" + indent(advancedConfig, "  "),
		"deck":     "_format_version: \"3.0\"\nplugins:\n  - name: ai-proxy-advanced\n    config:\n" + indent(advancedConfig, "      "),
		"manifest": "apiVersion: configuration.konghq.com/v1\nkind: KongPlugin\nmetadata: {name: llm}\nplugin: ai-proxy-advanced\nconfig:\n" + indent(advancedConfig, "  "),
	}
	for name, doc := range forms {
		cfg, err := Parse(context.Background(), []byte(doc), Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		p := cfg.Routes[0].Plugin
		a := p.Advanced
		if a == nil || len(a.Targets) != 2 {
			t.Fatalf("%s: advanced %+v", name, a)
		}
		if p.Model.Provider != "openai" || p.RouteType != RouteChat {
			t.Fatalf("%s: the lead plugin is not the first target: %+v", name, p.Model)
		}
		b := a.Balancer
		if b.Algorithm != balancer.Priority || b.Retries != 3 || b.MaxFails != 3 || b.FailTimeout != 15*time.Second ||
			b.ConnectTimeout != 2*time.Second || b.ReadTimeout != 30*time.Second || b.WriteTimeout != DefaultTimeout {
			t.Fatalf("%s: balancer %+v", name, b)
		}
		if !b.FailoverCriteria.Has(FailHTTP429|FailHTTP503|FailError) || b.FailoverCriteria.Has(FailHTTP403) {
			t.Fatalf("%s: criteria %s", name, b.FailoverCriteria)
		}
		if a.Targets[0].Weight != 70 || a.Targets[1].Weight != 100 || a.Targets[1].Plugin.Model.Options.Bedrock == nil {
			t.Fatalf("%s: targets %+v %+v", name, a.Targets[0], a.Targets[1])
		}
		if a.Targets[1].Name != "1:bedrock/anthropic.claude-3-haiku" {
			t.Fatalf("%s: name %q", name, a.Targets[1].Name)
		}
	}
}

func TestAdvancedDefaults(t *testing.T) {
	cfg, err := Parse(context.Background(), []byte(`{"targets":[{"route_type":"llm/v1/chat","model":{"provider":"openai","name":"m"}}]}`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := cfg.Routes[0].Plugin.Advanced.Balancer
	want := Balancer{Algorithm: balancer.RoundRobin, Retries: 5, FailoverCriteria: FailError | FailTimeout, ConnectTimeout: time.Minute, ReadTimeout: time.Minute, WriteTimeout: time.Minute,
		HashOnHeader: "X-Kong-LLM-Request-ID", LatencyStrategy: "tpot", TokensCountStrategy: "total-tokens", Slots: 10000, FailTimeout: 10 * time.Second}
	if b != want {
		t.Fatalf("defaults\n got %+v\nwant %+v", b, want)
	}
}

func TestAdvancedRefusals(t *testing.T) {
	target := `{"route_type":"llm/v1/chat","model":{"provider":"openai","name":"m"}}`
	for _, tc := range []struct{ doc, want string }{
		{`{"targets":[` + target + `],"balancer":{"algorithm":"semantic"}}`, "vector database"},
		{`{"targets":[` + target + `],"balancer":{"algorithm":"least-connections"}}`, "in flight"},
		{`{"targets":[` + target + `],"balancer":{"failover_criteria":["http_418"]}}`, "failover_criteria[0]"},
		{`{"targets":[` + target + `],"vectordb":{"strategy":"redis"}}`, "semantic"},
		{`{"targets":[]}`, "at least one target"},
		{`{"targets":[` + target + `,{"route_type":"llm/v1/completions","model":{"provider":"openai","name":"m"}}]}`, "same route_type"},
		{`{"targets":[{"route_type":"llm/v1/chat","model":{"provider":"openai","name":"m"},"weight":0}]}`, "weight"},
		{`{"targets":[` + target + `],"balancer":{"tokens_count_strategy":"llm-accuracy"}}`, "llm-accuracy"},
	} {
		_, err := Parse(context.Background(), []byte(tc.doc), Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to say %q", tc.doc, err, tc.want)
		}
	}
}

// llm_format is the plugin's: anthropic makes every target a Messages
// target, each with its own model_aliases; what cannot be is refused.
func TestAdvancedMessagesFormat(t *testing.T) {
	bedrock := `{route_type: llm/v1/chat, model_aliases: {claude-sonnet-4-5: us.anthropic.claude-sonnet-4-5-v1:0}, model: {provider: bedrock, options: {bedrock: {aws_region: us-east-1}}}}`
	anthropic := `{route_type: llm/v1/chat, auth: {header_name: x-api-key, header_value: k}, model: {provider: anthropic, options: {anthropic_version: "2023-06-01"}}}`
	openai := `{route_type: llm/v1/chat, model: {provider: openai, name: gpt-4o-mini}}`
	for _, tc := range []struct {
		name, doc string
		format    string // the format every target has, when accepted
		err       string
	}{
		{"anthropic, three drivers", "llm_format: anthropic\ntargets: [" + bedrock + ", " + anthropic + ", " + openai + "]", FormatAnthropic, ""},
		{"openai by default", "targets: [" + openai + "]", FormatOpenAI, ""},
		{"openai named", "llm_format: openai\ntargets: [" + openai + "]", FormatOpenAI, ""},
		{"unknown format", "llm_format: gemini\ntargets: [" + openai + "]", "", `"gemini" is not supported`},
		{"format on a target", "targets: [{route_type: llm/v1/chat, llm_format: anthropic, model: {provider: openai}}]", "", "targets[0].llm_format: set on the plugin"},
		{"aliases on the plugin", "llm_format: anthropic\nmodel_aliases: {a: b}\ntargets: [" + openai + "]", "", "set model_aliases on each target"},
		{"aliases without anthropic", "targets: [" + bedrock + "]", "", "model_aliases apply to llm_format: anthropic only"},
		{"messages are chat", "llm_format: anthropic\ntargets: [{route_type: llm/v1/completions, model: {provider: openai}}]", "", "targets[0].route_type: llm_format: anthropic needs route_type llm/v1/chat"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse(context.Background(), []byte(tc.doc), Options{})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want it to say %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rt := cfg.Routes[0]
			if rt.Plugin.LLMFormat != tc.format {
				t.Fatalf("lead format %q", rt.Plugin.LLMFormat)
			}
			for i, tg := range rt.Plugin.Advanced.Targets {
				if tg.Plugin.LLMFormat != tc.format {
					t.Fatalf("target %d format %q", i, tg.Plugin.LLMFormat)
				}
			}
			if tc.format != FormatAnthropic {
				return
			}
			if a := rt.Plugin.Advanced.Targets[0].Plugin.ModelAliases; a["claude-sonnet-4-5"] != "us.anthropic.claude-sonnet-4-5-v1:0" {
				t.Fatalf("target 0 aliases %v", a)
			}
			if n := rt.Plugin.Advanced.Targets[0].Name; n != "0:bedrock/(aliases)" {
				t.Fatalf("target 0 named %q", n)
			}
			if a := rt.Plugin.Advanced.Targets[1].Plugin.ModelAliases; a != nil {
				t.Fatalf("target 1 has another's aliases %v", a)
			}
			// A bare config gets the Messages route, as ai-proxy's does.
			if rt.Paths[0].Source != DefaultMessagesRoutePath {
				t.Fatalf("route %q", rt.Paths[0].Source)
			}
		})
	}
}

func TestForStatus(t *testing.T) {
	for status, want := range map[int]Criteria{
		400: 0, 401: 0, 413: 0, 422: 0, 200: 0, 501: 0,
		403: FailHTTP403, 404: FailHTTP404, 429: FailHTTP429, 500: FailHTTP500,
		502: FailHTTP502, 503: FailHTTP503, 504: FailHTTP504,
		529: FailHTTP503, // Anthropic's overloaded_error, relayed natively
	} {
		if got := ForStatus(status); got != want {
			t.Errorf("ForStatus(%d) = %s, want %s", status, got, want)
		}
	}
}
