package config

import (
	"context"
	"strings"
	"testing"
)

// Kong's lookup_cfg order, one case per step: each row adds the instance
// that should win over every instance of the rows below it.
func TestScopePrecedence(t *testing.T) {
	all := []Scope{
		{},              // global
		{Service: "s"},  // service
		{Route: "r"},    // route
		{Consumer: "c"}, // consumer
		{Route: "r", Service: "s"},
		{Service: "s", Consumer: "c"},
		{Route: "r", Consumer: "c"},
		{Route: "r", Service: "s", Consumer: "c"},
	}
	name := func(sc Scope) string { return "R" + sc.Route + " S" + sc.Service + " C" + sc.Consumer }
	for n := 1; n <= len(all); n++ {
		s := scopes[string]{}
		for _, sc := range all[:n] {
			s[sc] = name(sc)
		}
		want := name(all[n-1])
		if got, _ := s.lookup("r", "s", "c"); got != want {
			t.Errorf("with %d instances: got %q, want %q", n, got, want)
		}
	}

	s := scopes[string]{}
	for _, sc := range all {
		s[sc] = name(sc)
	}
	tests := []struct {
		route, service, consumer string
		want                     string
	}{
		{"r", "s", "", "Rr Ss C"},
		{"r", "", "", "Rr S C"},
		{"", "s", "", "R Ss C"},
		{"r", "", "c", "Rr S Cc"},
		{"", "s", "c", "R Ss Cc"},
		{"", "", "c", "R S Cc"},
		{"other", "other", "other", "R S C"},
		{"other", "s", "c", "R Ss Cc"},
		{"", "", "", "R S C"},
	}
	for _, tt := range tests {
		if got, _ := s.lookup(tt.route, tt.service, tt.consumer); got != tt.want {
			t.Errorf("lookup(%q, %q, %q) = %q, want %q", tt.route, tt.service, tt.consumer, got, tt.want)
		}
	}
	if _, ok := (scopes[string]{{Route: "x"}: "x"}).lookup("r", "s", "c"); ok {
		t.Error("an instance of another route applied")
	}
}

// A consumer-scoped instance is that consumer's own (a team's budget): the
// resolution per route gives it after authentication, and the route's
// instance to everybody else.
func TestResolveForConsumer(t *testing.T) {
	s := scopes[any]{
		{}:                                "global",
		{Route: "chat"}:                   "chat",
		{Consumer: "team-a"}:              "team-a",
		{Route: "chat", Consumer: "b"}:    "b-on-chat",
		{Service: "other", Consumer: "c"}: "c-on-other",
	}
	tests := []struct {
		route, service, consumer, want string
	}{
		{"chat", "svc", "", "chat"},
		{"chat", "svc", "nobody", "chat"},
		{"chat", "svc", "team-a", "team-a"},
		{"chat", "svc", "b", "b-on-chat"},
		{"chat", "svc", "c", "chat"},
		{"legacy", "", "b", "global"},
		{"legacy", "", "team-a", "team-a"},
		{"legacy", "other", "c", "c-on-other"},
	}
	for _, tt := range tests {
		r := resolve[string](s, tt.route, tt.service)
		if got := r.For(tt.consumer); got != tt.want {
			t.Errorf("route %s service %s consumer %q: got %q, want %q", tt.route, tt.service, tt.consumer, got, tt.want)
		}
		if got, _ := s.lookup(tt.route, tt.service, tt.consumer); got != tt.want && tt.consumer != "" {
			t.Errorf("resolve and lookup disagree for %+v", tt)
		}
	}
	if r := resolve[string](scopes[any]{}, "r", ""); r.For("x") != "" {
		t.Error("an empty set resolved to something")
	}
}

const scopedDeck = `
_format_version: "3.0"
services:
  - name: svc
    id: 7b3c
    routes:
      - {name: in-svc, paths: [/svc]}
      - {name: in-svc-own, paths: [/own], plugins: [{name: key-auth, config: {key_names: [x-own]}}]}
    plugins:
      - {name: key-auth, config: {key_names: [x-svc]}}
routes:
  - {name: top, id: 11aa, paths: [/top], service: {id: 7b3c}}
  - {name: bare, paths: [/bare]}
  - {name: by-id, paths: [/by-id]}
plugins:
  - {name: ai-proxy, config: {route_type: llm/v1/chat, model: {provider: openai, name: global}}}
  - {name: ai-proxy, service: svc, config: {route_type: llm/v1/chat, model: {provider: openai, name: service}}}
  - {name: ai-proxy, route: {id: 11aa}, config: {route_type: llm/v1/chat, model: {provider: openai, name: route}}}
  - {name: ai-proxy, route: in-svc, service: svc, config: {route_type: llm/v1/chat, model: {provider: openai, name: route-and-service}}}
  - {name: key-auth, config: {key_names: [x-global]}}
consumers:
  - username: alice
    keyauth_credentials: [{key: alice-key-123}]
`

func TestDeckPluginScopes(t *testing.T) {
	cfg, err := Parse(context.Background(), []byte(scopedDeck), Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, model, keyName string
	}{
		{"/svc", "route-and-service", "x-svc"},
		{"/own", "service", "x-own"},
		{"/top", "route", "x-svc"},
		{"/bare", "global", "x-global"},
		{"/by-id", "global", "x-global"},
	}
	for _, tt := range tests {
		rt, _, _ := cfg.Match("POST", "", tt.path, nil)
		if rt == nil {
			t.Fatalf("%s: no route", tt.path)
		}
		if got := rt.Plugin.Model.Name.Raw; got != tt.model {
			t.Errorf("%s: ai-proxy %q, want %q", tt.path, got, tt.model)
		}
		if rt.KeyAuth == nil || rt.KeyAuth.KeyNames[0] != tt.keyName {
			t.Errorf("%s: key-auth %+v, want %s", tt.path, rt.KeyAuth, tt.keyName)
		}
		if c, ok := rt.KeyAuth.Identify("alice-key-123"); !ok || c != "alice" {
			t.Errorf("%s: credentials not shared with this key-auth", tt.path)
		}
	}
}

func TestDeckPluginScopeErrors(t *testing.T) {
	const ai = `config: {route_type: llm/v1/chat, model: {provider: openai}}`
	tests := []struct {
		name, doc, want string
	}{
		{"unknown route", `{_format_version: "3.0", routes: [{name: r, paths: [/]}], plugins: [{name: ai-proxy, route: nope, ` + ai + `}]}`,
			`plugins[0].route: route "nope" is not defined`},
		// A key-auth on a misspelled service must not silently leave the
		// service's routes open.
		{"unknown service", `{_format_version: "3.0", routes: [{name: r, paths: [/]}], plugins: [{name: ai-proxy, ` + ai + `}, {name: key-auth, service: nope}]}`,
			`plugins[1].service: service "nope" is not defined`},
		{"route of unknown service", `{_format_version: "3.0", routes: [{name: r, paths: [/], service: nope}], plugins: [{name: ai-proxy, ` + ai + `}]}`,
			`routes[0].service: service "nope" is not defined`},
		{"same scope twice", `{_format_version: "3.0", plugins: [{name: ai-proxy, ` + ai + `}, {name: ai-proxy, ` + ai + `}]}`,
			`plugins[1]: another ai-proxy plugin has the same scope`},
		{"same scope by nesting and by field", `{_format_version: "3.0", routes: [{name: r, paths: [/], plugins: [{name: key-auth}]}], plugins: [{name: ai-proxy, ` + ai + `}, {name: key-auth, route: r}]}`,
			`another key-auth plugin has the same scope`},
		{"nested under another route", `{_format_version: "3.0", routes: [{name: r, paths: [/], plugins: [{name: key-auth, route: s}]}, {name: s, paths: [/s]}], plugins: [{name: ai-proxy, ` + ai + `}]}`,
			`routes[0].plugins[0].route: the plugin is listed under another route than "s"`},
		{"key-auth on a consumer", `{_format_version: "3.0", consumers: [{username: a, plugins: [{name: key-auth}]}], plugins: [{name: ai-proxy, ` + ai + `}]}`,
			`consumers[0].plugins[0]: a consumer-scoped key-auth plugin is not supported`},
		{"ai-proxy on a consumer", `{_format_version: "3.0", consumers: [{username: a}], plugins: [{name: ai-proxy, consumer: a, ` + ai + `}]}`,
			`plugins[0]: a consumer-scoped ai-proxy plugin is not supported`},
		{"consumer group", `{_format_version: "3.0", plugins: [{name: ai-proxy, consumer_group: g, ` + ai + `}]}`,
			`plugins[0].consumer_group: consumer-group scoped plugins are not supported`},
		{"route name twice", `{_format_version: "3.0", routes: [{name: r, paths: [/a]}, {name: r, paths: [/b]}], plugins: [{name: ai-proxy, ` + ai + `}]}`,
			`routes[1].name: route "r" is defined twice`},
		{"only a scoped ai-proxy and no routes", `{_format_version: "3.0", services: [{name: s}], plugins: [{name: ai-proxy, service: s, ` + ai + `}]}`,
			`plugins: no routes, and no global ai-proxy plugin`},
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
