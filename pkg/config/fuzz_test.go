package config

import (
	"context"
	"net/http"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{seedBare, seedAdmin, seedDeck, multiRoute, seedClusterPlugin, manifestStream, deckDump, scopedDeck, `{}`, `[]`, `null`, `{"name":"ai-proxy","config":null}`,
		`{_format_version: "3.0", consumers: [{username: a, keyauth_credentials: [{key: "sha256:zz"}]}], plugins: [{name: key-auth}]}`,
		"route_type: llm/v1/chat\nmodel: {provider: openai, name: \"$(headers.x\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(context.Background(), data, Options{LookupEnv: func(string) (string, bool) { return "v", true }})
		if err != nil {
			return
		}
		for _, r := range cfg.Routes {
			if r.Plugin == nil {
				t.Fatalf("route %q compiled without a plugin", r.Name)
			}
			cfg.Match("POST", "api.example.com", "/gpt-4o/chat/completions", http.Header{"X-Channel": {"beta"}})
		}
	})
}

func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"gpt-4o", "$(uri_captures.model)", "a-$(headers.x)-$(query_params.y)-b", "$(", "$()", "$(.)", "))$("} {
		f.Add(s, "value")
	}
	f.Fuzz(func(t *testing.T, tmpl, value string) {
		tp, err := ParseTemplate(tmpl)
		if err != nil {
			return
		}
		got, err := tp.Resolve(func(string, string) (string, bool) { return value, true })
		if err == nil && tp.IsStatic() && got != tmpl {
			t.Fatalf("static template %q resolved to %q", tmpl, got)
		}
	})
}
