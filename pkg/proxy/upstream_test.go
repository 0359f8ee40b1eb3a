package proxy

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/openai"
)

func keyAuth(t *testing.T, names string) *config.KeyAuth {
	t.Helper()
	cfg, err := config.Parse(t.Context(), []byte(`{_format_version: "3.0", consumers: [{username: team, keyauth_credentials: [{key: good-key}]}],
  routes: [{name: r, paths: ["/"], plugins: [{name: key-auth, config: {key_names: [`+names+`], key_in_body: true}}, {name: ai-proxy, config: {route_type: llm/v1/chat, model: {provider: openai, name: m}}}]}]}`), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Routes[0].KeyAuth
}

func TestUpstreamURL(t *testing.T) {
	tests := []struct {
		name, plugin, target string
		keyAuth              bool
		header               map[string]string
		want, err            string
	}{
		{name: "chat default", plugin: `{route_type: llm/v1/chat, model: {provider: openai}}`, target: "/x/chat/completions",
			want: "https://api.openai.com/v1/chat/completions"},
		{name: "completions default", plugin: `{route_type: llm/v1/completions, model: {provider: openai}}`, target: "/x",
			want: "https://api.openai.com/v1/completions"},
		{name: "client query forwarded as is", plugin: `{route_type: llm/v1/chat, model: {provider: openai}}`, target: "/x?api-version=2024-10-21&b=%2F",
			want: "https://api.openai.com/v1/chat/completions?api-version=2024-10-21&b=%2F"},
		{name: "key-auth key removed from the query", plugin: `{route_type: llm/v1/chat, model: {provider: openai}}`, keyAuth: true,
			target: "/x?apikey=good-key&API%4bEY=k2&keep=1", want: "https://api.openai.com/v1/chat/completions?keep=1"},
		{name: "auth param applied over the client's", plugin: `{route_type: llm/v1/chat, auth: {param_name: key, param_value: server, param_location: query}, model: {provider: openai}}`,
			target: "/x?key=client&a=1", want: "https://api.openai.com/v1/chat/completions?a=1&key=server"},
		{name: "override keeps the client's", plugin: `{route_type: llm/v1/chat, auth: {param_name: key, param_value: server, param_location: query, allow_override: true}, model: {provider: openai}}`,
			target: "/x?key=client", want: "https://api.openai.com/v1/chat/completions?key=client"},
		{name: "override never passes the key-auth key", plugin: `{route_type: llm/v1/chat, auth: {param_name: apikey, param_value: server, param_location: query, allow_override: true}, model: {provider: openai}}`,
			keyAuth: true, target: "/x?apikey=good-key", want: "https://api.openai.com/v1/chat/completions?apikey=server"},
		{name: "configured query wins", plugin: `{route_type: llm/v1/chat, model: {provider: openai, options: {upstream_url: "https://h.example/openai/deployments/d/chat/completions?api-version=1"}}}`,
			target: "/x?api-version=2&z=1", want: "https://h.example/openai/deployments/d/chat/completions?api-version=1&z=1"},
		{name: "preserve sends the normalized client path", plugin: `{route_type: preserve, model: {provider: openai}}`,
			target: "/v1//x/../embeddings?a=1", want: "https://api.openai.com/v1/embeddings?a=1"},
		{name: "preserve keeps upstream_url's host and port, sends the client's path", plugin: `{route_type: preserve, model: {provider: openai, options: {upstream_url: "http://127.0.0.1:9/v1/chat/completions"}}}`,
			target: "/v1/embeddings", want: "http://127.0.0.1:9/v1/embeddings"},
		{name: "preserve with upstream_path keeps it", plugin: `{route_type: preserve, model: {provider: openai, options: {upstream_path: /fixed}}}`,
			target: "/v1/embeddings", want: "https://api.openai.com:443/fixed"},
		{name: "preserve never forwards the key-auth key in the query", plugin: `{route_type: preserve, model: {provider: openai}}`, keyAuth: true,
			target: "/v1/models?apikey=good-key", want: "https://api.openai.com/v1/models"},
		{name: "templated upstream_url", plugin: `{route_type: llm/v1/chat, model: {provider: openai, options: {upstream_url: "https://$(headers.x_region).example/v1/chat/completions"}}}`,
			target: "/x", header: map[string]string{"X-Region": "eu"}, want: "https://eu.example/v1/chat/completions"},
		{name: "templated upstream_url missing value", plugin: `{route_type: llm/v1/chat, model: {provider: openai, options: {upstream_url: "https://$(headers.x_region).example/v1"}}}`,
			target: "/x", err: "headers key x_region was not provided"},
		{name: "templated upstream_url must stay http(s)", plugin: `{route_type: llm/v1/chat, model: {provider: openai, options: {upstream_url: "$(query_params.u)/v1/chat/completions"}}}`,
			target: "/x?u=file:///etc", err: "model.options.upstream_url resolved from this request is not an absolute http or https URL"},
		{name: "templated upstream_url cannot smuggle credentials", plugin: `{route_type: llm/v1/chat, model: {provider: openai, options: {upstream_url: "https://$(headers.h)/v1"}}}`,
			target: "/x", header: map[string]string{"H": "user:pw@evil.example"}, err: "not an absolute http or https URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := plugin(t, tt.plugin)
			r := httptest.NewRequest("POST", tt.target, nil)
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			var ka *config.KeyAuth
			if tt.keyAuth {
				ka = keyAuth(t, "apikey")
			}
			up, e := upstream(openai.Driver{}, &provider.Call{Plugin: p}, r, ka, templateLookup(r, nil))
			u := up.URL
			if tt.err != "" {
				if e == nil || !strings.Contains(e.message, tt.err) || e.status != 400 {
					t.Fatalf("err = %v, want 400 %q", e, tt.err)
				}
				return
			}
			if e != nil || u.String() != tt.want {
				t.Errorf("got %v (%v), want %s", u, e, tt.want)
			}
		})
	}
}

func TestKeepAuthHeader(t *testing.T) {
	override := config.Auth{HeaderName: "api-key", HeaderValue: "server", AllowOverride: true}
	tests := []struct {
		name    string
		auth    config.Auth
		keyAuth bool
		key     presented
		want    bool
	}{
		{"override", override, false, presented{}, true},
		{"no override", config.Auth{HeaderName: "api-key", HeaderValue: "server"}, false, presented{}, false},
		{"the header carried the key-auth key", override, true, presented{key: "k", header: "Api-Key"}, false},
		{"the header is a key-auth key name, the key came in the query", override, true, presented{key: "k"}, false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set("api-key", "client")
		var ka *config.KeyAuth
		if tt.keyAuth {
			ka = keyAuth(t, "api-key")
		}
		if got := keepAuthHeader(tt.auth, ka, r, tt.key); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// $(headers.x_model) reads X-Model: Kong treats _ and - alike.
func TestTemplateLookupHeaderUnderscore(t *testing.T) {
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set("X-Model", "gpt-4o")
	for _, key := range []string{"x_model", "x-model", "X_MODEL"} {
		if v, ok := templateLookup(r, nil)(config.SourceHeaders, key); !ok || v != "gpt-4o" {
			t.Errorf("%s: %q %v", key, v, ok)
		}
	}
}

// A Content-Length is a claim: a client that claims a terabyte costs only
// what it sends.
func TestReadBodyHugeContentLength(t *testing.T) {
	const tib = 1 << 40
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{"a":1}`))
	r.ContentLength = tib
	body, e := readBody(r, tib)
	if e != nil || string(body) != `{"a":1}` {
		t.Fatalf("got %q, %v", body, e)
	}
	r = httptest.NewRequest("POST", "/", iotest.ErrReader(errors.New("client went silent")))
	r.ContentLength = tib
	if _, e := readBody(r, tib); e == nil || e.status != 400 {
		t.Errorf("a failed read: %v", e)
	}
}

func TestReadBody(t *testing.T) {
	tests := []struct {
		name   string
		body   io.Reader
		cl     int64
		limit  int64
		want   string
		status int
	}{
		{"within the limit", strings.NewReader("abc"), 3, 3, "abc", 0},
		{"over the limit, unannounced", strings.NewReader("abcd"), -1, 3, "", http.StatusRequestEntityTooLarge},
		{"over the limit, announced", strings.NewReader("abcd"), 4, 3, "", http.StatusRequestEntityTooLarge},
		{"no body", http.NoBody, 0, 3, "", 0},
		{"unannounced, beyond the first buffer", strings.NewReader(strings.Repeat("x", 5000)), -1, 5000, strings.Repeat("x", 5000), 0},
		{"announced short", strings.NewReader(strings.Repeat("x", 5000)), 10, 5000, strings.Repeat("x", 5000), 0},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/", tt.body)
		r.ContentLength = tt.cl
		got, e := readBody(r, tt.limit)
		if (e == nil) != (tt.status == 0) || (e != nil && e.status != tt.status) || string(got) != tt.want {
			t.Errorf("%s: %q %v", tt.name, got, e)
		}
	}
}

// A body of announced length is read into one buffer of that length (and
// a byte to see its end), never copied into a larger one.
func TestReadBodyOneBuffer(t *testing.T) {
	body := strings.Repeat("x", 2026)
	r := httptest.NewRequest("POST", "/", strings.NewReader(body))
	got, e := readBody(r, 1<<20)
	if e != nil || string(got) != body || cap(got) != len(body)+1 {
		t.Fatalf("len %d cap %d (%v), want %d in a buffer of %d", len(got), cap(got), e, len(body), len(body)+1)
	}
}

// The answer type's shortcut decides as mime.ParseMediaType would.
func TestIsEventStreamJSONShortcut(t *testing.T) {
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8", "application/jsonx", "text/event-stream"} {
		mt, _, _ := mime.ParseMediaType(ct)
		if got, want := isEventStream(ct), mt == "text/event-stream"; got != want {
			t.Errorf("isEventStream(%q) = %v, want %v", ct, got, want)
		}
	}
}
