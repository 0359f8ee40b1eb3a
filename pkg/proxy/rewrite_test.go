package proxy

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
)

func plugin(t testing.TB, doc string) *config.Plugin {
	t.Helper()
	cfg, err := config.Parse(context.Background(), []byte(doc), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Routes[0].Plugin
}

const dynamic = `{route_type: llm/v1/chat, model: {provider: openai, name: "$(uri_captures.model)"}}`

func TestRewriteBody(t *testing.T) {
	tests := []struct {
		name        string
		plugin      string
		configured  string
		body        string
		want        map[string]any // top-level members expected upstream (nil: check err)
		absent      []string
		err         string
		stream      bool
		hideKey     string
		contentType string
	}{
		{name: "model set from path", plugin: dynamic, configured: "gpt-4o",
			body: `{"messages":[{"role":"user","content":"hi"}]}`, want: map[string]any{"model": "gpt-4o"}},
		{name: "same model kept", plugin: dynamic, configured: "gpt-4o",
			body: `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, want: map[string]any{"model": "gpt-4o"}},
		{name: "empty model filled", plugin: dynamic, configured: "gpt-4o",
			body: `{"model":"","messages":[{"role":"user","content":"hi"}]}`, want: map[string]any{"model": "gpt-4o"}},
		{name: "other model refused", plugin: dynamic, configured: "gpt-4o",
			body: `{"model":"o1","messages":[{"role":"user","content":"hi"}]}`, err: "cannot use own model - must be: gpt-4o"},
		{name: "duplicate model key cannot smuggle", plugin: dynamic, configured: "gpt-4o",
			body: `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"model":"o1"}`, err: "cannot use own model - must be: gpt-4o"},
		{name: "body model when none configured", plugin: `{route_type: llm/v1/chat, model: {provider: openai}}`,
			body: `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`, want: map[string]any{"model": "gpt-4o-mini"}},
		{name: "no model anywhere", plugin: `{route_type: llm/v1/chat, model: {provider: openai}}`,
			body: `{"messages":[{"role":"user","content":"hi"}]}`, err: "model parameter not found in request, nor in gateway configuration"},
		{name: "model not a string", plugin: `{route_type: llm/v1/chat, model: {provider: openai}}`,
			body: `{"model":5,"messages":[{"role":"user","content":"hi"}]}`, err: "model must be a string"},
		{name: "no messages", plugin: dynamic, configured: "gpt-4o",
			body: `{"model":"gpt-4o"}`, err: "request body doesn't contain valid prompts"},
		{name: "empty messages", plugin: dynamic, configured: "gpt-4o",
			body: `{"messages":[ ]}`, err: "request body doesn't contain valid prompts"},
		{name: "not json, as Kong", plugin: dynamic, configured: "gpt-4o", body: `{"messages":`, err: "request body doesn't contain valid prompts"},
		{name: "not an object, as Kong", plugin: dynamic, configured: "gpt-4o", body: `[1,2]`, err: "request body doesn't contain valid prompts"},
		{name: "empty body, as Kong", plugin: dynamic, configured: "gpt-4o", body: ``, err: "request body doesn't contain valid prompts"},
		{name: "text/plain, as Kong", plugin: dynamic, configured: "gpt-4o", contentType: "text/plain", body: `{"messages":[{"role":"user","content":"hi"}]}`, err: "request body doesn't contain valid prompts"},
		{name: "no Content-Type counts as JSON", plugin: dynamic, configured: "gpt-4o", body: `{"messages":[{"role":"user","content":"hi"}]}`, want: map[string]any{"model": "gpt-4o"}},
		{name: "JSON with charset", plugin: dynamic, configured: "gpt-4o", contentType: "application/json; charset=utf-8", body: `{"messages":[{"role":"user","content":"hi"}]}`, want: map[string]any{"model": "gpt-4o"}},
		{name: "chat body on a completions route", plugin: `{route_type: llm/v1/completions, model: {provider: openai, name: m}}`, configured: "m",
			body: `{"messages":[{"role":"user","content":"hi"}]}`, err: "[llm/v1/chat] message format is not compatible with [llm/v1/completions] route type"},
		{name: "completions body on a chat route", plugin: dynamic, configured: "gpt-4o",
			body: `{"prompt":"hi"}`, err: "[llm/v1/completions] message format is not compatible with [llm/v1/chat] route type"},
		{name: "both formats", plugin: dynamic, configured: "gpt-4o",
			body: `{"prompt":"hi","messages":[{"role":"user","content":"hi"}]}`, err: "request matches multiple LLM request formats"},
		{name: "stream false written, as Kong", plugin: dynamic, configured: "gpt-4o",
			body: `{"messages":[{"role":"user","content":"hi"}]}`, want: map[string]any{"stream": false}},
		{name: "case-variant model refused", plugin: dynamic, configured: "gpt-4o",
			body: `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"Model":"o1"}`, err: `request body member "Model" is ambiguous: it names "model" with different case or escapes; send "model" exactly`},
		{name: "max_completion_tokens capped",
			plugin:     `{route_type: llm/v1/chat, model: {provider: openai, name: o3, options: {max_tokens: 100}}}`,
			configured: "o3", body: `{"messages":[{"role":"user","content":"hi"}],"max_completion_tokens":100000}`,
			want: map[string]any{"max_completion_tokens": 100.0, "max_tokens": 100.0}},
		{name: "max_completion_tokens under the cap kept",
			plugin:     `{route_type: llm/v1/chat, model: {provider: openai, name: o3, options: {max_tokens: 100}}}`,
			configured: "o3", body: `{"messages":[{"role":"user","content":"hi"}],"max_completion_tokens":7}`,
			want: map[string]any{"max_completion_tokens": 7.0}},
		{name: "repeated max_completion_tokens: one reaches the upstream, capped",
			plugin:     `{route_type: llm/v1/chat, model: {provider: openai, name: o3, options: {max_tokens: 100}}}`,
			configured: "o3", body: `{"messages":[{"role":"user","content":"hi"}],"max_completion_tokens":7,"max_completion_tokens":9000}`,
			want: map[string]any{"max_completion_tokens": 100.0}},
		{name: "max_completion_tokens not an integer",
			plugin:     `{route_type: llm/v1/chat, model: {provider: openai, name: o3, options: {max_tokens: 100}}}`,
			configured: "o3", body: `{"messages":[{"role":"user","content":"hi"}],"max_completion_tokens":1e9}`, err: "max_completion_tokens must be an integer"},
		{name: "max_completion_tokens free without a cap", plugin: dynamic, configured: "gpt-4o",
			body: `{"messages":[{"role":"user","content":"hi"}],"max_completion_tokens":100000}`, want: map[string]any{"max_completion_tokens": 100000.0}, absent: []string{"max_tokens"}},
		{name: "options overwrite the client's, top_k dropped",
			plugin:     `{route_type: llm/v1/chat, model: {provider: openai, name: gpt-4o, options: {temperature: 0.5, max_tokens: 100, top_p: 0.9, top_k: 40}}}`,
			configured: "gpt-4o",
			body:       `{"messages":[{"role":"user","content":"hi"}],"temperature":2,"max_tokens":4000,"top_k":3}`,
			want:       map[string]any{"temperature": 0.5, "max_tokens": 100.0, "top_p": 0.9}, absent: []string{"top_k"}},
		{name: "stream denied", plugin: `{route_type: llm/v1/chat, response_streaming: deny, model: {provider: openai, name: gpt-4o}}`, configured: "gpt-4o",
			body: `{"stream":true,"messages":[{"role":"user","content":"hi"}]}`, err: "response streaming is not enabled for this LLM"},
		{name: "stream forced, usage asked for", plugin: `{route_type: llm/v1/chat, response_streaming: always, model: {provider: openai, name: gpt-4o}}`, configured: "gpt-4o",
			body: `{"messages":[{"role":"user","content":"hi"}]}`, stream: true,
			want: map[string]any{"stream": true, "stream_options": map[string]any{"include_usage": true}}},
		{name: "client's stream_options kept and completed", plugin: dynamic, configured: "gpt-4o",
			body: `{"stream":true,"stream_options":{"include_obfuscation":false},"messages":[{"role":"user","content":"hi"}]}`, stream: true,
			want: map[string]any{"stream_options": map[string]any{"include_usage": true, "include_obfuscation": false}}},
		{name: "stream not boolean", plugin: dynamic, configured: "gpt-4o",
			body: `{"stream":"yes","messages":[{"role":"user","content":"hi"}]}`, err: "stream must be a boolean"},
		{name: "completions need a prompt", plugin: `{route_type: llm/v1/completions, model: {provider: openai, name: gpt-3.5-turbo-instruct}}`, configured: "gpt-3.5-turbo-instruct",
			body: `{"prompt":"Say hi"}`, want: map[string]any{"model": "gpt-3.5-turbo-instruct", "prompt": "Say hi"}},
		{name: "auth param named like the key-auth key is set, not overridden",
			plugin:     `{route_type: llm/v1/chat, auth: {param_name: apikey, param_value: server-key, param_location: body, allow_override: true}, model: {provider: openai, name: m}}`,
			configured: "m", hideKey: "apikey", body: `{"apikey":"client-key-123","messages":[{"role":"user","content":"hi"}]}`,
			want: map[string]any{"apikey": "server-key"}},
		{name: "auth param in body replaces the client's",
			plugin:     `{route_type: llm/v1/chat, auth: {param_name: api_key, param_value: server-key, param_location: body}, model: {provider: openai, name: m}}`,
			configured: "m", body: `{"api_key":"client","messages":[{"role":"user","content":"hi"}]}`,
			want: map[string]any{"api_key": "server-key"}},
		{name: "auth param override allowed",
			plugin:     `{route_type: llm/v1/chat, auth: {param_name: api_key, param_value: server-key, param_location: body, allow_override: true}, model: {provider: openai, name: m}}`,
			configured: "m", body: `{"api_key":"client","messages":[{"role":"user","content":"hi"}]}`,
			want: map[string]any{"api_key": "client"}},
		{name: "client key in body removed", plugin: dynamic, configured: "gpt-4o", hideKey: "apikey",
			body: `{"apikey":"client-key-123","messages":[{"role":"user","content":"hi"}]}`, want: map[string]any{"model": "gpt-4o"}, absent: []string{"apikey"}},
		{name: "preserve passes the body through", plugin: `{route_type: preserve, model: {provider: openai}}`,
			body: `{"anything":[1,2,3]}`, want: map[string]any{"anything": []any{1.0, 2.0, 3.0}}, absent: []string{"model"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := plugin(t, tt.plugin)
			var hide []string
			if tt.hideKey != "" {
				hide = []string{tt.hideKey}
			}
			rw, e := rewriteBody(p, input{body: []byte(tt.body), contentType: tt.contentType, configured: tt.configured, hide: hide})
			if tt.err != "" {
				if e == nil || e.message != tt.err || e.status != 400 {
					t.Fatalf("err = %v, want 400 %q", e, tt.err)
				}
				return
			}
			if e != nil {
				t.Fatal(e)
			}
			var got map[string]any
			if err := json.Unmarshal(rw.body, &got); err != nil {
				t.Fatalf("upstream body is not JSON: %s", rw.body)
			}
			for k, v := range tt.want {
				if !reflect.DeepEqual(got[k], v) {
					t.Errorf("%s = %#v, want %#v (body %s)", k, got[k], v, rw.body)
				}
			}
			for _, k := range tt.absent {
				if _, ok := got[k]; ok {
					t.Errorf("%s present in %s", k, rw.body)
				}
			}
			if rw.stream != tt.stream {
				t.Errorf("stream = %v, want %v", rw.stream, tt.stream)
			}
			if strings.Count(string(rw.body), `"model"`) > 1 || strings.Count(string(rw.body), `"max_completion_tokens"`) > 1 {
				t.Errorf("duplicate model key upstream: %s", rw.body)
			}
		})
	}
}

func TestResolveModel(t *testing.T) {
	tests := []struct {
		name     string
		tmpl     string
		target   string
		header   string
		params   map[string]string
		captures map[string]string
		want     string
		err      string
	}{
		{name: "regex capture", tmpl: "$(uri_captures.model)", target: "/gpt-4o/chat/completions", captures: map[string]string{"model": "gpt-4o"}, want: "gpt-4o"},
		{name: "edge path parameter wins", tmpl: "$(uri_captures.model)", target: "/x", captures: map[string]string{"model": "from-regex"}, params: map[string]string{"model": "from-gateway"}, want: "from-gateway"},
		{name: "missing capture", tmpl: "$(uri_captures.model)", target: "/x", err: "uri_captures key model was not provided"},
		{name: "header", tmpl: "$(headers.x-model)", target: "/x", header: "gpt-4o-mini", want: "gpt-4o-mini"},
		{name: "missing header", tmpl: "$(headers.x-model)", target: "/x", err: "headers key x-model was not provided"},
		{name: "query", tmpl: "azure-$(query_params.m)", target: "/x?m=gpt", want: "azure-gpt"},
		{name: "missing query", tmpl: "$(query_params.m)", target: "/x", err: "query_params key m was not provided"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := plugin(t, `{route_type: llm/v1/chat, model: {provider: openai, name: "`+tt.tmpl+`"}}`)
			r := httptest.NewRequest("POST", tt.target, nil)
			if tt.header != "" {
				r.Header.Set("X-Model", tt.header)
			}
			for k, v := range tt.params {
				r.SetPathValue(k, v)
			}
			got, err := resolveModel(p, templateLookup(r, tt.captures))
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestCheckModelName(t *testing.T) {
	for _, bad := range []string{"gpt 4o", "gpt\r\nX-Evil: 1", "gpt\x00", "tab\there", strings.Repeat("m", 257), "\xff\xfe", "line\u2028sep"} {
		if checkModelName(bad) == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	for _, good := range []string{"gpt-4o", "ft:gpt-4o-mini:org:name:id", "meta-llama/Llama-3-70b", strings.Repeat("m", 256), "modèle"} {
		if e := checkModelName(good); e != nil {
			t.Errorf("rejected %q: %v", good, e)
		}
	}
}
