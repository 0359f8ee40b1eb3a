package anthropic

import (
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// The proxy reaches Anthropic natively only through provider.MessagesDriver:
// without it, llm_format: anthropic would go through the chat hub.
func TestDriverIsMessagesDriver(t *testing.T) {
	var d provider.Driver = New(nil)
	if _, ok := d.(provider.MessagesDriver); !ok {
		t.Fatal("the Anthropic driver is no provider.MessagesDriver")
	}
}

// PrepareMessages: the endpoint (upstream_url or Anthropic's, count_tokens
// below it), the headers Anthropic reads and nothing else (the client's
// credentials and the configured one are the proxy's to set), a nil
// Transport (the proxy relays byte for byte), and its refusals.
func TestPrepareMessages(t *testing.T) {
	parse := func(s string) *url.URL {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	claudeCode := http.Header{"Anthropic-Version": {"2023-06-01"}, "Anthropic-Beta": {"claude-code-20250219", "interleaved-thinking-2025-05-14"}}
	tests := []struct {
		name     string
		model    string
		count    bool
		version  string // model.options.anthropic_version
		header   http.Header
		upstream string // upstream_url
		// upstreamPath is upstream_path without upstream_url, as the
		// configuration reads it (a path on OpenAI's host).
		upstreamPath string
		wantURL      string
		want         http.Header
		err          string // a refusal: the message names it
	}{
		{name: "Anthropic's endpoint, the configured version", model: "claude-sonnet-4-5", version: "2023-06-01",
			wantURL: "https://api.anthropic.com/v1/messages", want: http.Header{"Anthropic-Version": {"2023-06-01"}}},
		{name: "count_tokens at Anthropic", model: "claude-sonnet-4-5", count: true, version: "2023-06-01",
			wantURL: "https://api.anthropic.com/v1/messages/count_tokens", want: http.Header{"Anthropic-Version": {"2023-06-01"}}},
		{name: "the client's version and betas win and pass as sent", model: "m", version: "2020-01-01", header: claudeCode,
			wantURL: "https://api.anthropic.com/v1/messages", want: claudeCode},
		{name: "an empty client version takes the configured", model: "m", version: "2023-06-01", header: http.Header{"Anthropic-Version": {""}},
			wantURL: "https://api.anthropic.com/v1/messages", want: http.Header{"Anthropic-Version": {"2023-06-01"}}},
		{name: "no version anywhere: none sent", model: "m",
			wantURL: "https://api.anthropic.com/v1/messages", want: http.Header{}},
		{name: "credentials and other headers stay out", model: "m", version: "2023-06-01",
			header:  http.Header{"X-Api-Key": {"client-key"}, "Authorization": {"Bearer client-key"}, "Cookie": {"c=1"}, "X-Stainless-Lang": {"go"}},
			wantURL: "https://api.anthropic.com/v1/messages", want: http.Header{"Anthropic-Version": {"2023-06-01"}}},
		{name: "upstream_url is the endpoint, its query kept", model: "m", count: true, upstream: "http://h:1/v1/messages?tenant=a",
			wantURL: "http://h:1/v1/messages/count_tokens?tenant=a", want: http.Header{}},
		{name: "upstream_url is a base", model: "m", upstream: "http://h:1/anthropic/",
			wantURL: "http://h:1/anthropic/v1/messages", want: http.Header{}},
		{name: "upstream_path alone is a path on Anthropic's host", model: "m", upstreamPath: "/v1/messages",
			wantURL: "https://api.anthropic.com/v1/messages", want: http.Header{}},
		{name: "no model refused", model: "", version: "2023-06-01", err: "a model is needed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &config.Plugin{RouteType: config.RouteChat, LLMFormat: config.FormatAnthropic,
				Auth:  config.Auth{HeaderName: "x-api-key", HeaderValue: "configured-secret"},
				Model: config.Model{Provider: config.ProviderAnthropic, Options: config.ModelOptions{AnthropicVersion: tt.version}}}
			c := &provider.MessagesCall{Plugin: p, Model: tt.model, CountTokens: tt.count, Body: []byte(`{"model":"m"}`), Header: tt.header}
			if tt.upstream != "" {
				c.Upstream = parse(tt.upstream)
			}
			if tt.upstreamPath != "" {
				o := &p.Model.Options
				o.UpstreamPath, o.UpstreamURL = tt.upstreamPath, "https://api.openai.com:443"+tt.upstreamPath
				o.Upstream, c.Upstream = parse(o.UpstreamURL), parse(o.UpstreamURL)
				tt.upstream = o.UpstreamURL
			}
			up, err := New(nil).PrepareMessages(c)
			if tt.err != "" {
				var pe *provider.Error
				if !errors.As(err, &pe) || pe.Status != 0 && pe.Status != http.StatusBadRequest || !strings.Contains(pe.Message, tt.err) {
					t.Fatalf("got %v, want a 400 saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if up.Transport != nil {
				t.Fatalf("transport %T: the proxy relays Anthropic's API byte for byte", up.Transport)
			}
			if got := up.URL.String(); got != tt.wantURL {
				t.Fatalf("URL %s, want %s", got, tt.wantURL)
			}
			if !reflect.DeepEqual(up.Header, tt.want) {
				t.Fatalf("header %v, want %v", up.Header, tt.want)
			}
			for k, v := range up.Header {
				if strings.Contains(strings.Join(v, ","), "secret") || strings.Contains(strings.Join(v, ","), "client-key") {
					t.Fatalf("a credential in %s: %v", k, v)
				}
			}
			if c.Upstream != nil && c.Upstream.String() != tt.upstream {
				t.Fatalf("the configured upstream_url changed to %s", c.Upstream)
			}
		})
	}
}
