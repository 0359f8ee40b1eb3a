package config

import (
	"context"
	"errors"
	"strings"
	"testing"
)

const seedBare = `
route_type: llm/v1/chat
auth:
  header_name: Authorization
  header_value: Bearer ${{ env "DECK_OPENAI_API_KEY" }}
logging:
  log_statistics: true
  log_payloads: false
model:
  provider: openai
  name: "$(uri_captures.model)"
`

const seedAdmin = `{
  "name": "ai-proxy",
  "config": {
    "route_type": "llm/v1/chat",
    "auth": {"header_name": "Authorization", "header_value": "Bearer sk-admin"},
    "logging": {"log_statistics": true, "log_payloads": false},
    "model": {"provider": "openai", "name": "$(uri_captures.model)"}
  },
  "tags": []
}`

const seedDeck = `
_format_version: "3.0"
plugins:
  - name: ai-proxy
    config:
      route_type: llm/v1/chat
      auth:
        header_name: Authorization
        header_value: Bearer ${{ env "DECK_OPENAI_API_KEY" }}
      logging:
        log_statistics: true
        log_payloads: false
      model:
        provider: openai
        name: "$(uri_captures.model)"
`

const multiRoute = `
_format_version: "3.0"
routes:
  - name: chat
    paths: ["~/(?<model>[^#?/]+)/chat/completions$"]
    methods: [POST]
  - name: fast
    paths: [/fast/chat/completions]
    methods: [post]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/chat
          model: {provider: openai, name: gpt-4o-mini, options: {temperature: 0.2, max_tokens: 64}}
  - name: legacy
    paths: [/legacy]
services:
  - name: svc
    url: http://ignored.example
    routes:
      - name: in-service
        paths: [/svc/chat]
    plugins:
      - name: ai-proxy
        config: {route_type: preserve, model: {provider: openai}}
plugins:
  - name: ai-proxy
    config:
      route_type: llm/v1/chat
      model: {provider: openai, name: "$(uri_captures.model)"}
  - name: ai-proxy
    route: legacy
    config:
      route_type: llm/v1/completions
      model: {provider: openai, name: gpt-3.5-turbo-instruct}
`

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParseForms(t *testing.T) {
	opts := Options{LookupEnv: env(map[string]string{"DECK_OPENAI_API_KEY": "sk-env"})}
	tests := []struct {
		name       string
		doc        string
		wantRoutes []string
		wantHeader string
	}{
		{"bare config", seedBare, []string{"default"}, "Bearer sk-env"},
		{"admin api object", seedAdmin, []string{"default"}, "Bearer sk-admin"},
		{"deck global plugin", seedDeck, []string{"default"}, "Bearer sk-env"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse(context.Background(), []byte(tt.doc), opts)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, r := range cfg.Routes {
				names = append(names, r.Name)
			}
			if strings.Join(names, ",") != strings.Join(tt.wantRoutes, ",") {
				t.Fatalf("routes = %v, want %v", names, tt.wantRoutes)
			}
			p := cfg.Routes[0].Plugin
			if p.Auth.HeaderValue != tt.wantHeader {
				t.Errorf("header_value = %q, want %q", p.Auth.HeaderValue, tt.wantHeader)
			}
			if p.RouteType != RouteChat || p.Model.Name.Raw != "$(uri_captures.model)" || !p.Logging.LogStatistics {
				t.Errorf("plugin = %+v", p)
			}
			// Kong's defaults, and ours for the body size.
			if p.ResponseStreaming != StreamAllow || !p.ModelNameHeader || p.MaxRequestBodySize != 1<<20 || p.Auth.AllowOverride {
				t.Errorf("defaults not applied: %+v", p)
			}
			rt, caps, ok := cfg.Match("POST", "", "/gpt-4o/chat/completions", nil)
			if rt == nil || !ok || caps["model"] != "gpt-4o" {
				t.Errorf("default route does not match: %v %v %v", rt, caps, ok)
			}
		})
	}
}

func TestParseDeckScoping(t *testing.T) {
	cfg, err := Parse(context.Background(), []byte(multiRoute), Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, path string
		route        string
		routeType    string
		model        string
		allowed      bool
	}{
		{"POST", "/gpt-4o/chat/completions", "chat", RouteChat, "$(uri_captures.model)", true},
		{"GET", "/gpt-4o/chat/completions", "chat", RouteChat, "$(uri_captures.model)", false},
		{"POST", "/fast/chat/completions", "chat", RouteChat, "$(uri_captures.model)", true}, // regex paths first, as in Kong
		{"POST", "/legacy/v1/completions", "legacy", RouteCompletions, "gpt-3.5-turbo-instruct", true},
		{"DELETE", "/legacy", "legacy", RouteCompletions, "gpt-3.5-turbo-instruct", true},
		{"POST", "/svc/chat/x", "in-service", RoutePreserve, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rt, _, ok := cfg.Match(tt.method, "", tt.path, nil)
			if rt == nil {
				t.Fatal("no route")
			}
			if rt.Name != tt.route || ok != tt.allowed || rt.Plugin.RouteType != tt.routeType || rt.Plugin.Model.Name.Raw != tt.model {
				t.Errorf("got route %q allowed=%v type=%s model=%q", rt.Name, ok, rt.Plugin.RouteType, rt.Plugin.Model.Name.Raw)
			}
		})
	}
	fast := cfg.Routes[1].Plugin
	if *fast.Model.Options.Temperature != 0.2 || *fast.Model.Options.MaxTokens != 64 || fast.ID != "fast" {
		t.Errorf("route-scoped plugin options = %+v", fast)
	}
	if rt, _, _ := cfg.Match("POST", "", "/unknown", nil); rt != nil {
		t.Errorf("unknown path matched %q", rt.Name)
	}
}

func TestParseErrorsNameTheField(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{"unknown field", `{route_type: llm/v1/chat, model: {provider: openai}, colour: blue}`, []string{"colour: unknown field"}},
		{"unknown nested field", `{route_type: llm/v1/chat, model: {provider: openai, options: {temprature: 1}}}`, []string{"model.options.temprature: unknown field"}},
		{"bad enum", `{route_type: llm/v2/chat, model: {provider: openai}}`, []string{"route_type: expected one of"}},
		{"bad streaming enum", `{route_type: llm/v1/chat, response_streaming: sometimes, model: {provider: openai}}`, []string{"response_streaming: expected one of"}},
		{"missing route_type", `{model: {provider: openai}}`, []string{"route_type: required field missing"}},
		{"missing provider", `{route_type: llm/v1/chat, model: {name: gpt-4o}}`, []string{"model.provider: required field missing"}},
		{"unknown provider", `{route_type: llm/v1/chat, model: {provider: acme}}`, []string{`model.provider: provider "acme" is not one of Kong's: openai, azure, anthropic, cohere, mistral, llama2, gemini, bedrock, huggingface`}},
		{"anthropic without version", `{route_type: llm/v1/chat, model: {provider: anthropic}}`, []string{`model.options.anthropic_version: must set 'model.options.anthropic_version' for anthropic provider`}},
		{"azure without instance", `{route_type: llm/v1/chat, model: {provider: azure, options: {azure_deployment_id: d}}}`, []string{`model.options.azure_instance: must set 'model.options.azure_instance' for azure provider`}},
		{"llama2 without url", `{route_type: llm/v1/chat, model: {provider: llama2, options: {llama2_format: openai}}}`, []string{`model.options.upstream_url: must set 'model.options.upstream_url' for self-hosted providers/models`}},
		{"bedrock override", `{route_type: llm/v1/chat, auth: {allow_override: true}, model: {provider: bedrock}}`, []string{`auth.allow_override: bedrock and gemini only support auth.allow_override = false`}},
		{"half gemini vertex", `{route_type: llm/v1/chat, model: {provider: gemini, options: {gemini: {project_id: p}}}}`, []string{`model.options.gemini.api_endpoint: all or none of these fields must be set`}},
		{"half aws keys", `{route_type: llm/v1/chat, auth: {aws_access_key_id: AKIA}, model: {provider: bedrock}}`, []string{`auth.aws_access_key_id: all or none of these fields must be set`}},
		{"half header pair", `{route_type: llm/v1/chat, auth: {header_name: Authorization}, model: {provider: openai}}`, []string{"auth.header_name: all or none of these fields must be set: 'auth.header_name', 'auth.header_value'"}},
		{"half param triple", `{route_type: llm/v1/chat, auth: {param_name: key, param_value: v}, model: {provider: openai}}`, []string{"auth.param_name: all or none of these fields must be set: 'auth.param_name', 'auth.param_value', 'auth.param_location'"}},
		{"bad param location", `{route_type: llm/v1/chat, auth: {param_name: key, param_value: v, param_location: header}, model: {provider: openai}}`, []string{"auth.param_location: expected one of: query, body"}},
		{"temperature range", `{route_type: llm/v1/chat, model: {provider: openai, options: {temperature: 5.5}}}`, []string{"model.options.temperature: value should be between 0 and 5"}},
		{"top_p range", `{route_type: llm/v1/chat, model: {provider: openai, options: {top_p: 1.5}}}`, []string{"model.options.top_p: value should be between 0 and 1"}},
		{"top_k range", `{route_type: llm/v1/chat, model: {provider: openai, options: {top_k: 501}}}`, []string{"model.options.top_k: value should be between 0 and 500"}},
		{"wrong type", `{route_type: llm/v1/chat, model: {provider: openai, options: {max_tokens: lots}}}`, []string{"model.options.max_tokens: expected an integer"}},
		{"bad upstream url", `{route_type: llm/v1/chat, model: {provider: openai, options: {upstream_url: "not a url"}}}`, []string{"model.options.upstream_url: expected an absolute http or https URL"}},
		{"bad template", `{route_type: llm/v1/chat, model: {provider: openai, name: "$(cookies.x)"}}`, []string{"model.name: template source"}},
		{"several at once", `{route_type: x, model: {provider: openai, options: {top_p: 2}}}`, []string{"route_type:", "model.options.top_p:"}},
		{"deck route field", `{_format_version: "3.0", routes: [{name: r, paths: ["/a"], hostz: [x]}], plugins: [{name: ai-proxy, config: {route_type: llm/v1/chat, model: {provider: openai}}}]}`, []string{"routes[0].hostz: unknown field"}},
		{"deck bad regex", `{_format_version: "3.0", routes: [{name: r, paths: ["~/(?<m>["]}], plugins: [{name: ai-proxy, config: {route_type: llm/v1/chat, model: {provider: openai}}}]}`, []string{"routes[0].paths[0]: invalid regex path"}},
		{"deck plugin in config", `{_format_version: "3.0", plugins: [{name: ai-proxy, config: {route_type: llm/v1/chat, model: {provider: openai, name: 5}}}]}`, []string{"plugins[0].config.model.name: expected a string"}},
		{"deck route without plugin", `{_format_version: "3.0", routes: [{name: lonely, paths: ["/a"]}]}`, []string{`routes[0]: route "lonely" has no ai-proxy plugin`}},
		{"deck other plugin", `{_format_version: "3.0", plugins: [{name: acl, config: {}}]}`, []string{`plugins[0].name: plugin "acl" is not implemented here`}},
		{"unset env", `{route_type: llm/v1/chat, auth: {header_name: a, header_value: '${{ env "NOPE" }}'}, model: {provider: openai}}`, []string{"auth.header_value: environment variable NOPE is not set"}},
		{"not yaml", "route_type: [unclosed", []string{"invalid YAML"}},
		{"not json", `{"route_type": }`, []string{"invalid JSON"}},
		{"empty", "  \n", []string{"document is empty"}},
		{"max body size", `{route_type: llm/v1/chat, max_request_body_size: -1, model: {provider: openai}}`, []string{"max_request_body_size: value should be between"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(context.Background(), []byte(tt.doc), Options{LookupEnv: env(nil)})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// A configuration dumped from Kong lists every schema field, most of them
// null or for other providers; it must load as is.
func TestParseKongDump(t *testing.T) {
	doc := `{"name":"ai-proxy","id":"3f0c","enabled":true,"protocols":["http","https"],"route":null,"service":null,"consumer":null,
	"config":{"route_type":"llm/v1/chat","llm_format":"openai","max_request_body_size":8192,"model_name_header":true,"response_streaming":"allow",
	"auth":{"header_name":"Authorization","header_value":"Bearer k","param_name":null,"param_value":null,"param_location":null,"allow_override":false,
	  "azure_use_managed_identity":false,"azure_client_id":null,"gcp_use_service_account":false,"aws_access_key_id":null},
	"logging":{"log_statistics":false,"log_payloads":false},
	"model":{"provider":"openai","name":"gpt-4o","options":{"max_tokens":256,"temperature":1.0,"top_p":null,"top_k":null,"upstream_url":null,
	  "anthropic_version":null,"azure_api_version":"2023-05-15","llama2_format":null,"mistral_format":null,"gemini":null,"bedrock":null,"huggingface":null,"input_cost":null,"output_cost":null}}}}`
	cfg, err := Parse(context.Background(), []byte(doc), Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Routes[0].Plugin
	if p.ID != "3f0c" || p.MaxRequestBodySize != 8192 || *p.Model.Options.MaxTokens != 256 || p.Model.Options.TopP != nil {
		t.Errorf("plugin = %+v", p)
	}
}

type fakeVault struct {
	calls  int
	values map[string]string
	err    error
}

func (f *fakeVault) ResolveSecrets(_ context.Context, refs []string) (map[string]string, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	out := map[string]string{}
	for _, r := range refs {
		if v, ok := f.values[r]; ok {
			out[r] = v
		}
	}
	return out, nil
}

func TestParseVaultReferences(t *testing.T) {
	doc := `{route_type: llm/v1/chat,
	  auth: {header_name: Authorization, header_value: "Bearer {vault://ssm/aiproxy/key}"},
	  model: {provider: openai, name: gpt-4o, options: {upstream_url: "https://{vault://ssm/aiproxy/host}/v1/chat/completions"}}}`
	v := &fakeVault{values: map[string]string{"{vault://ssm/aiproxy/key}": "sk-secret", "{vault://ssm/aiproxy/host}": "llm.internal"}}
	cfg, err := Parse(context.Background(), []byte(doc), Options{Secrets: v})
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Routes[0].Plugin
	if p.Auth.HeaderValue != "Bearer sk-secret" || p.Model.Options.Upstream.Host != "llm.internal" {
		t.Errorf("not substituted: %+v", p)
	}
	if v.calls != 1 {
		t.Errorf("resolver called %d times, want one batch", v.calls)
	}

	missing := &fakeVault{values: map[string]string{"{vault://ssm/aiproxy/key}": "sk-secret"}}
	if _, err := Parse(context.Background(), []byte(doc), Options{Secrets: missing}); err == nil || !strings.Contains(err.Error(), "{vault://ssm/aiproxy/host} was not resolved") {
		t.Errorf("missing reference: err = %v", err)
	}
	failing := &fakeVault{err: errors.New("throttled")}
	if _, err := Parse(context.Background(), []byte(doc), Options{Secrets: failing}); err == nil || !strings.Contains(err.Error(), "throttled") {
		t.Errorf("resolver failure: err = %v", err)
	}
	if _, err := Parse(context.Background(), []byte(doc), Options{}); err == nil || !strings.Contains(err.Error(), "no secret resolver") {
		t.Errorf("no resolver: err = %v", err)
	}
	refs, err := VaultRefs([]byte(doc))
	if err != nil || strings.Join(refs, ",") != "{vault://ssm/aiproxy/host},{vault://ssm/aiproxy/key}" {
		t.Errorf("VaultRefs = %v, %v", refs, err)
	}
}

// A secret that fails validation must not appear in the error.
func TestParseErrorsDoNotLeakSecrets(t *testing.T) {
	doc := `{route_type: llm/v1/chat, auth: {header_name: Authorization, header_value: "{vault://ssm/k}"}, model: {provider: openai, options: {upstream_url: "{vault://ssm/u}"}}}`
	v := &fakeVault{values: map[string]string{"{vault://ssm/k}": "sk-canary-1", "{vault://ssm/u}": "sk-canary-2"}}
	_, err := Parse(context.Background(), []byte(doc), Options{Secrets: v})
	if err == nil {
		t.Fatal("want an error for the bad URL")
	}
	if strings.Contains(err.Error(), "sk-canary") {
		t.Errorf("error leaks a secret: %v", err)
	}
}
