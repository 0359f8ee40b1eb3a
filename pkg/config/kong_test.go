package config

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// The seed's Kubernetes example, verbatim but for the key.
const seedClusterPlugin = `
apiVersion: configuration.konghq.com/v1
kind: KongClusterPlugin
metadata:
  name: ai-proxy
  namespace: kong
  annotations:
    kubernetes.io/ingress.class: kong
    konghq.com/tags: ''
  labels:
    global: 'true'
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
    name: '$(uri_captures.model)'
plugin: ai-proxy
`

const manifestStream = `
---
apiVersion: configuration.konghq.com/v1
kind: KongPlugin
metadata: {name: openai-chat, namespace: default}
plugin: ai-proxy
instance_name: chat-proxy
protocols: [http, https]
config:
  route_type: llm/v1/chat
  model: {provider: openai, name: gpt-4o-mini}
---
apiVersion: configuration.konghq.com/v1
kind: KongClusterPlugin
metadata: {name: logs}
plugin: http-log
config: {http_endpoint: "http://collector:8080"}
---
apiVersion: configuration.konghq.com/v1
kind: KongPlugin
metadata: {name: metrics}
plugin: prometheus
---
apiVersion: configuration.konghq.com/v1
kind: KongPlugin
metadata: {name: old-limits}
plugin: rate-limiting
disabled: true
config: {minute: 5}
`

func TestParseManifests(t *testing.T) {
	opts := Options{LookupEnv: env(map[string]string{"DECK_OPENAI_API_KEY": "sk-env"})}
	tests := []struct {
		name, doc         string
		id, model, header string
		warning           string
	}{
		{"KongClusterPlugin", seedClusterPlugin, "ai-proxy", "$(uri_captures.model)", "Bearer sk-env", ""},
		{"KongPlugin stream", manifestStream, "chat-proxy", "gpt-4o-mini", "", "plugins http-log, prometheus only log or trace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse(context.Background(), []byte(tt.doc), opts)
			if err != nil {
				t.Fatal(err)
			}
			rt, caps, ok := cfg.Match("POST", "", "/gpt-4o/chat/completions", nil)
			if rt == nil || !ok || caps["model"] != "gpt-4o" || rt.Name != "default" {
				t.Fatalf("default route does not match: %v %v %v", rt, caps, ok)
			}
			p := rt.Plugin
			if p.ID != tt.id || p.Model.Name.Raw != tt.model || p.Auth.HeaderValue != tt.header {
				t.Errorf("plugin = %+v", p)
			}
			if got := strings.Join(cfg.Warnings, "|"); (tt.warning == "") != (got == "") || !strings.Contains(got, tt.warning) || len(cfg.Warnings) > 1 {
				t.Errorf("warnings = %q, want one containing %q", cfg.Warnings, tt.warning)
			}
		})
	}
}

func TestParseManifestErrors(t *testing.T) {
	const head = "apiVersion: configuration.konghq.com/v1\nkind: KongPlugin\nmetadata: {name: x}\n"
	const ai = head + "plugin: ai-proxy\nconfig: {route_type: llm/v1/chat, model: {provider: openai}}\n"
	tests := []struct {
		name, doc, want string
	}{
		{"enforcing plugin", ai + "---\n" + head + "plugin: ip-restriction\nconfig: {allow: [10.0.0.0/8]}\n", `documents[1].plugin: plugin "ip-restriction" is not implemented here`},
		{"key-auth", ai + "---\n" + head + "plugin: key-auth\n", `documents[1].plugin: key-auth needs consumers`},
		{"two ai-proxy", ai + "---\n" + ai, `documents[1]: a second ai-proxy plugin`},
		{"only disabled", head + "plugin: ai-proxy\ndisabled: true\n", `no enabled ai-proxy plugin among the manifests`},
		{"secret config", head + "plugin: ai-proxy\nconfigFrom: {secretKeyRef: {name: s, key: k}}\n", `configFrom: not supported: Kubernetes secrets`},
		{"secret patch", ai + "configPatches: [{path: /auth/header_value, valueFrom: {secretKeyRef: {name: s, key: k}}}]\n", `configPatches: not supported`},
		{"consumer", ai + "consumerRef: alice\n", `consumerRef: consumer-scoped plugins are not supported`},
		{"another kind", ai + "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: x}\n", `documents[1]: expected a KongPlugin or KongClusterPlugin manifest`},
		{"bad config", head + "plugin: ai-proxy\nconfig: {route_type: llm/v1/chat, model: {provider: openai, colour: blue}}\n", `config.model.colour: unknown field`},
		{"unknown manifest field", ai + "spec: {}\n", `spec: unknown field`},
		{"bad yaml in a later document", ai + "---\nplugin: [\n", `invalid YAML`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(context.Background(), []byte(tt.doc), Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// What `deck gateway dump` writes: every field of Kong's route, service,
// plugin and consumer entities, most at their defaults.
const deckDump = `
_format_version: "3.0"
_info: {select_tags: [ai], defaults: {}}
certificates: []
upstreams: []
vaults: [{name: aws, prefix: my-aws, config: {region: eu-west-1}}]
services:
- id: 0f1d0f6c-0000-4000-8000-000000000001
  name: openai
  enabled: true
  protocol: https
  host: api.openai.com
  port: 443
  path: /v1
  retries: 5
  connect_timeout: 60000
  read_timeout: 60000
  write_timeout: 60000
  tls_verify: null
  tls_verify_depth: null
  ca_certificates: null
  client_certificate: null
  tags: [ai]
  created_at: 1700000000
  updated_at: 1700000000
  routes:
  - id: 0f1d0f6c-0000-4000-8000-000000000002
    name: chat
    hosts: [api.example.com, "*.ai.example.com"]
    paths: ["~/(?<model>[^#?/]+)/chat/completions$"]
    methods: [POST]
    headers: null
    protocols: [http, https]
    snis: null
    sources: null
    destinations: null
    strip_path: true
    preserve_host: false
    regex_priority: 0
    path_handling: v0
    https_redirect_status_code: 426
    request_buffering: true
    response_buffering: true
    tags: [ai]
    created_at: 1700000000
    updated_at: 1700000000
  - name: beta
    paths: ["~/(?<model>[^#?/]+)/chat/completions$"]
    methods: [POST]
    headers: {x-channel: [beta]}
    snis: [api.example.com]
    destinations: [{ip: 10.0.0.1, port: 8443}]
    plugins:
    - name: ai-proxy
      instance_name: beta-proxy
      enabled: true
      protocols: [grpc, grpcs, http, https]
      ordering: null
      tags: []
      config:
        route_type: llm/v1/chat
        llm_format: openai
        genai_category: text/generation
        max_request_body_size: 0
        model:
          provider: openai
          name: "$(uri_captures.model)"
          model_alias: fast
          options: {input_cost: 2.5, output_cost: 10, cache_read_cost: 1.25, cache_write_cost: 3.75, cache_write_cost_list: null, databricks: null}
  - name: priority
    paths: ["~/(?<model>gpt-5[a-z-]*)/chat/completions$"]
    methods: [POST]
    regex_priority: 5
  plugins:
  - name: ai-proxy
    enabled: true
    config:
      route_type: llm/v1/chat
      model: {provider: openai, name: "$(uri_captures.model)"}
  - name: ai-proxy
    route: chat
    enabled: false
    config: {route_type: preserve, model: {provider: anthropic}}
- name: retired
  enabled: false
  routes:
  - {name: retired-route, paths: [/]}
plugins:
- {name: file-log, config: {path: /dev/stdout}}
- {name: prometheus, service: openai}
- {name: correlation-id, config: {header_name: X-Request-ID}}
- {name: acl, enabled: false, config: {allow: [admins]}}
consumers:
- id: 0f1d0f6c-0000-4000-8000-000000000003
  username: team-a
  custom_id: cost-center-7
  tags: []
  created_at: 1700000000
  acls: [{group: admins}]
  basicauth_credentials: [{username: a, password: b}]
`

func TestParseDeckDump(t *testing.T) {
	cfg, err := Parse(context.Background(), []byte(deckDump), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 1 || cfg.Warnings[0] != "plugins correlation-id, file-log, prometheus only log or trace in Kong and are ignored here; this proxy writes its own log lines (logging.log_statistics)" {
		t.Errorf("warnings = %q", cfg.Warnings)
	}
	tests := []struct {
		name, host, path string
		header           http.Header
		route            string // "" when no route may take it
		pluginID         string
	}{
		{"plain host", "api.example.com", "/gpt-4o/chat/completions", nil, "chat", "chat"},
		{"wildcard host", "eu.ai.example.com", "/gpt-4o/chat/completions", nil, "chat", "chat"},
		// Both routes have three conditions and neither has only plain
		// hosts (chat has a wildcard): Kong then puts more headers first.
		{"header and host", "api.example.com", "/gpt-4o/chat/completions", http.Header{"X-Channel": {"beta"}}, "beta", "beta-proxy"},
		{"header elsewhere", "other.example", "/gpt-4o/chat/completions", http.Header{"X-Channel": {"BETA"}}, "beta", "beta-proxy"},
		// regex_priority orders routes of equal weight.
		{"regex priority", "other.example", "/gpt-5-mini/chat/completions", nil, "priority", "priority"},
		{"no host, no header", "other.example", "/gpt-4o/chat/completions", nil, "", ""},
		// The disabled service's routes are not routed.
		{"disabled service", "other.example", "/anything", nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, _, _ := cfg.Match("POST", tt.host, tt.path, tt.header)
			if tt.route == "" {
				if rt != nil {
					t.Fatalf("matched %s", rt.Name)
				}
				return
			}
			if rt == nil || rt.Name != tt.route || rt.Plugin.ID != tt.pluginID {
				t.Fatalf("got %+v, want route %s plugin %s", rt, tt.route, tt.pluginID)
			}
			// A disabled route-scoped plugin masks nothing: the service's applies.
			if rt.Plugin.RouteType != RouteChat || rt.Plugin.Model.Provider != "openai" {
				t.Errorf("plugin = %+v", rt.Plugin)
			}
		})
	}
	beta, _, _ := cfg.Match("POST", "x", "/m/chat/completions", http.Header{"X-Channel": {"beta"}})
	o := beta.Plugin.Model.Options
	if beta.Plugin.Model.Alias != "fast" || *o.CacheReadCost != 1.25 || *o.CacheWriteCost != 3.75 || *o.InputCost != 2.5 {
		t.Errorf("3.14 fields not parsed: %+v %+v", beta.Plugin.Model, o)
	}
	if beta.Plugin.MaxRequestBodySize != MaxRequestBodySizeUnlimited {
		t.Errorf("max_request_body_size 0 = %d", beta.Plugin.MaxRequestBodySize)
	}
}

func TestParseKongFieldErrors(t *testing.T) {
	const ai = `{name: ai-proxy, config: {route_type: llm/v1/chat, model: {provider: openai}}}`
	deck := func(routes string, plugins ...string) string {
		return `{_format_version: "3.0", routes: [` + routes + `], plugins: [` + strings.Join(append([]string{ai}, plugins...), ",") + `]}`
	}
	bare := func(extra string) string {
		return `{route_type: llm/v1/chat, ` + extra + `, model: {provider: openai}}`
	}
	tests := []struct {
		name, doc, want string
	}{
		// Enforcing plugins stay errors, named.
		{"acl", deck(`{name: r, paths: [/]}`, `{name: acl, config: {allow: [a]}}`), `plugins[1].name: plugin "acl" is not implemented here`},
		{"ip-restriction", deck(`{name: r, paths: [/]}`, `{name: ip-restriction, route: r}`), `plugin "ip-restriction" is not implemented`},
		{"cors", deck(`{name: r, paths: [/], plugins: [{name: cors}]}`), `routes[0].plugins[0].name: plugin "cors" is not implemented`},
		{"request-size-limiting", deck(`{name: r, paths: [/]}`, `{name: request-size-limiting}`), `plugin "request-size-limiting" is not implemented`},
		{"ai-prompt-guard", deck(`{name: r, paths: [/]}`, `{name: ai-prompt-guard}`), `plugin "ai-prompt-guard" is not implemented`},
		{"rate-limiting-advanced", deck(`{name: r, paths: [/]}`, `{name: rate-limiting-advanced, config: {limit: [5], window_size: [60]}}`), `plugin "rate-limiting-advanced" is not implemented`},
		{"consumer group plugin", `{_format_version: "3.0", consumer_groups: [{name: g, plugins: [{name: rate-limiting-advanced}]}], plugins: [` + ai + `]}`, `consumer_groups[0].plugins: consumer-group scoped plugins`},
		// Route fields.
		{"bad wildcard", deck(`{name: r, hosts: ["a.*.com"]}`), `routes[0].hosts[0]: host "a.*.com": invalid wildcard`},
		{"host header", deck(`{name: r, headers: {Host: [a]}}`), `routes[0].headers.Host: cannot contain 'host' header`},
		{"header without values", deck(`{name: r, headers: {x-a: []}}`), `routes[0].headers.x-a: header "x-a" needs at least one value`},
		{"sources", deck(`{name: r, paths: [/], sources: [{ip: 10.0.0.0/8}]}`), `routes[0].sources: not supported`},
		{"stream route", deck(`{name: r, paths: [/], protocols: [tcp, tls]}`), `routes[0].protocols: a route for tcp, tls cannot take HTTP requests`},
		{"expression", deck(`{name: r, expression: 'http.path == "/"'}`), `routes[0].expression: expression routes are not supported`},
		{"nothing to match", deck(`{name: r, snis: [a.example]}`), `routes[0].paths: a route needs paths, hosts, headers or methods`},
		{"regex priority type", deck(`{name: r, paths: [/], regex_priority: high}`), `routes[0].regex_priority: expected an integer`},
		// ai-proxy 3.11+ fields.
		{"llm_format", bare(`llm_format: bedrock`), `llm_format: "bedrock" is not supported: clients speak OpenAI's format`},
		{"genai_category", bare(`genai_category: image/generation`), `genai_category: "image/generation" is not supported`},
		{"new route type", `{route_type: llm/v1/assistants, model: {provider: openai}}`, `route_type: expected one of`},
		{"embeddings category on chat", bare(`genai_category: text/embeddings`), `genai_category: "text/embeddings" is not supported for route_type llm/v1/chat`},
		{"cost refinements", `{route_type: llm/v1/chat, model: {provider: openai, options: {service_tier_factor: [{tier: priority, factor: 2}]}}}`, `model.options.service_tier_factor: not supported`},
		{"cost type", `{route_type: llm/v1/chat, model: {provider: openai, options: {cache_read_cost: cheap}}}`, `model.options.cache_read_cost: expected a number`},
		{"unknown field still fails", `{route_type: llm/v1/chat, model: {provider: openai, options: {cache_reed_cost: 1}}}`, `model.options.cache_reed_cost: unknown field`},
		// Admin-API objects that would not apply to every caller.
		{"admin disabled", `{name: ai-proxy, enabled: false, config: {route_type: llm/v1/chat, model: {provider: openai}}}`, `enabled: the plugin is disabled`},
		{"admin consumer", `{name: ai-proxy, consumer: {id: x}, config: {route_type: llm/v1/chat, model: {provider: openai}}}`, `consumer: a consumer-scoped ai-proxy plugin`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(context.Background(), []byte(tt.doc), Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
