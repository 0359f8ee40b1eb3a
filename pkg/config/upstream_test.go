package config

import (
	"context"
	"strings"
	"testing"
)

// Templates resolve in every string under model, upstream_url included
// (Kong's shared.lua merge_model_options): such a URL is kept as a template
// for the proxy to resolve and check per request.
func TestUpstreamURLTemplate(t *testing.T) {
	tests := []struct {
		url, err string
	}{
		{url: "https://$(headers.x_region).example.com/v1/chat/completions"},
		{url: "$(query_params.base)/v1/chat/completions"},
		{url: "https://h.example/$(uri_captures.deployment)/chat"},
		{url: "https://h.example/$(cookies.x)", err: "template source"},
		{url: "https://h.example/$(headers.x", err: "unterminated template"},
		{url: "ftp://h.example/v1", err: "expected an absolute http or https URL"},
	}
	for _, tt := range tests {
		doc := `{route_type: llm/v1/chat, model: {provider: openai, name: m, options: {upstream_url: "` + tt.url + `"}}}`
		cfg, err := Parse(context.Background(), []byte(doc), Options{})
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err = %v, want %q", tt.url, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.url, err)
			continue
		}
		o := cfg.Routes[0].Plugin.Model.Options
		if o.UpstreamTemplate.Raw != tt.url || o.Upstream != nil {
			t.Errorf("%s: template %q, static %v", tt.url, o.UpstreamTemplate.Raw, o.Upstream)
		}
	}
}

// upstream_path is not resolved: a template there would be sent literally.
func TestUpstreamPathTemplateRefused(t *testing.T) {
	doc := `{route_type: llm/v1/chat, model: {provider: openai, name: m, options: {upstream_path: "/openai/deployments/$(uri_captures.d)/chat/completions"}}}`
	if _, err := Parse(context.Background(), []byte(doc), Options{}); err == nil || !strings.Contains(err.Error(), "upstream_path: templates are not supported here") {
		t.Errorf("err = %v", err)
	}
}
