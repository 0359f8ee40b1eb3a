package proxy

import (
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
)

func TestScanBody(t *testing.T) {
	chat := &config.Plugin{RouteType: config.RouteChat, Auth: config.Auth{ParamLocation: "body", ParamName: "key"}}
	completions := &config.Plugin{RouteType: config.RouteCompletions}
	tests := []struct {
		name    string
		p       *config.Plugin
		body    string
		model   string
		stream  string
		opts    string
		prompts bool
		auth    bool
		err     string
	}{
		{name: "members found", p: chat, body: `{"model":"m","stream":true,"stream_options":{"a":1},"messages":[{}],"key":"k"}`,
			model: `"m"`, stream: "true", opts: `{"a":1}`, prompts: true, auth: true},
		{name: "last duplicate counts", p: chat, body: `{"model":"a","messages":[{}],"model":"b"}`, model: `"b"`, prompts: true},
		{name: "empty messages", p: chat, body: `{"messages":[ ]}`},
		{name: "messages not an array", p: chat, body: `{"messages":"hi"}`},
		{name: "prompt on a chat route is not a prompt", p: chat, body: `{"prompt":"hi"}`},
		{name: "prompt on a completions route", p: completions, body: `{"prompt":"hi"}`, prompts: true},
		{name: "empty prompt", p: completions, body: `{"prompt":""}`},
		{name: "null prompt", p: completions, body: `{"prompt":null}`},
		{name: "invalid JSON", p: chat, body: `{"messages":[}`, err: "request body is not valid JSON"},
		{name: "not an object", p: chat, body: `[]`, err: "request body must be a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, e := scanBody(tt.p, []byte(tt.body), nil)
			if tt.err != "" {
				if e == nil || e.message != tt.err || e.code != "invalid_json" {
					t.Fatalf("err = %v, want %q", e, tt.err)
				}
				return
			}
			if e != nil {
				t.Fatal(e)
			}
			if string(m.model) != tt.model || string(m.stream) != tt.stream || string(m.streamOpts) != tt.opts || m.hasPrompts != tt.prompts || m.authParam != tt.auth {
				t.Errorf("got model %s stream %s opts %s prompts %v auth %v", m.model, m.stream, m.streamOpts, m.hasPrompts, m.authParam)
			}
		})
	}
}

func TestChooseModel(t *testing.T) {
	tests := []struct {
		configured, body, want, err string
	}{
		{"gpt-4o", ``, "gpt-4o", ""},
		{"gpt-4o", `"gpt-4o"`, "gpt-4o", ""},
		{"gpt-4o", `""`, "gpt-4o", ""},
		{"gpt-4o", `null`, "gpt-4o", ""},
		{"gpt-4o", `"o1"`, "", "cannot use own model - must be: gpt-4o"},
		{"", `"gpt-4o-mini"`, "gpt-4o-mini", ""},
		{"", ``, "", "model parameter not found in request, nor in gateway configuration"},
		{"", `5`, "", "model must be a string"},
		{"", `"bad model"`, "", "model name must not contain whitespace or control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.configured+" "+tt.body, func(t *testing.T) {
			got, e := chooseModel(tt.configured, []byte(tt.body))
			if tt.err != "" {
				if e == nil || e.message != tt.err {
					t.Fatalf("err = %v, want %q", e, tt.err)
				}
				return
			}
			if e != nil || got != tt.want {
				t.Errorf("got %q %v, want %q", got, e, tt.want)
			}
		})
	}
}

func TestStreamingEdits(t *testing.T) {
	tests := []struct {
		name, policy, stream, opts string
		want                       streaming
		edits                      map[string]string
		err                        string
	}{
		{name: "no stream", policy: config.StreamAllow, want: streaming{}, edits: map[string]string{}},
		{name: "stream false", policy: config.StreamAllow, stream: "false", edits: map[string]string{}},
		{name: "stream asks for usage", policy: config.StreamAllow, stream: "true",
			want: streaming{stream: true, hideUsage: true}, edits: map[string]string{"stream_options": `{"include_usage":true}`}},
		{name: "client asked for usage", policy: config.StreamAllow, stream: "true", opts: `{"include_usage":true}`,
			want: streaming{stream: true}, edits: map[string]string{}},
		{name: "client options completed", policy: config.StreamAllow, stream: "true", opts: `{"include_obfuscation":false}`,
			want: streaming{stream: true, hideUsage: true}, edits: map[string]string{"stream_options": `{"include_obfuscation":false,"include_usage":true}`}},
		{name: "always forces", policy: config.StreamAlways,
			want: streaming{stream: true, hideUsage: true}, edits: map[string]string{"stream": "true", "stream_options": `{"include_usage":true}`}},
		{name: "deny refuses", policy: config.StreamDeny, stream: "true", err: "response streaming is not enabled for this LLM"},
		{name: "deny lets false through", policy: config.StreamDeny, stream: "false", edits: map[string]string{}},
		{name: "not a boolean", policy: config.StreamAllow, stream: `"yes"`, err: "stream must be a boolean"},
		{name: "options not an object", policy: config.StreamAllow, stream: "true", opts: `[1]`, err: "stream_options must be an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, edits, e := streamingEdits(tt.policy, []byte(tt.stream), []byte(tt.opts))
			if tt.err != "" {
				if e == nil || e.message != tt.err {
					t.Fatalf("err = %v, want %q", e, tt.err)
				}
				return
			}
			if e != nil {
				t.Fatal(e)
			}
			if s != tt.want {
				t.Errorf("streaming = %+v, want %+v", s, tt.want)
			}
			if got := editMap(edits); !reflect.DeepEqual(got, tt.edits) {
				t.Errorf("edits %v, want %v", got, tt.edits)
			}
		})
	}
}

func TestOptionEdits(t *testing.T) {
	mt, temp, topP := 100, 0.5, 0.9
	got := editMap(optionEdits(config.ModelOptions{MaxTokens: &mt, Temperature: &temp, TopP: &topP}))
	want := map[string]string{"max_tokens": "100", "temperature": "0.5", "top_p": "0.9", "top_k": "<removed>"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("edits %v, want %v", got, want)
	}
	if got := editMap(optionEdits(config.ModelOptions{})); !reflect.DeepEqual(got, map[string]string{"top_k": "<removed>"}) {
		t.Errorf("no options: edits %v", got)
	}
}

func TestAuthParamEdit(t *testing.T) {
	body := config.Auth{ParamLocation: "body", ParamName: "api_key", ParamValue: `server"key`}
	override := body
	override.AllowOverride = true
	tests := []struct {
		name    string
		auth    config.Auth
		present bool
		want    string // "" for no edit
	}{
		{"query location: no body edit", config.Auth{ParamLocation: "query", ParamName: "k", ParamValue: "v"}, true, ""},
		{"set when absent", body, false, `"server\"key"`},
		{"replace the client's", body, true, `"server\"key"`},
		{"override keeps the client's", override, true, ""},
		{"override without a client value sets it", override, false, `"server\"key"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ed, ok := authParamEdit(tt.auth, tt.present)
			if (tt.want != "") != ok || string(ed.value) != tt.want || (ok && ed.key != tt.auth.ParamName) {
				t.Errorf("edit %s=%s %v, want %s", ed.key, ed.value, ok, tt.want)
			}
		})
	}
}

func TestRewritePreserve(t *testing.T) {
	tests := []struct {
		name, plugin, body, hideKey, want, err string
		stream                                 bool
	}{
		{name: "untouched", plugin: `{route_type: preserve, model: {provider: openai}}`,
			body: `{"anything": [1, 2],"stream":true}`, want: `{"anything": [1, 2],"stream":true}`, stream: true},
		{name: "stream denied", plugin: `{route_type: preserve, response_streaming: deny, model: {provider: openai}}`,
			body: `{"stream":true}`, err: "response streaming is not enabled for this LLM"},
		{name: "key removed, auth param set", plugin: `{route_type: preserve, auth: {param_name: k, param_value: v, param_location: body}, model: {provider: openai}}`,
			body: `{"apikey":"secret","k":"client","x":1}`, hideKey: "apikey", want: `{"k":"v","x":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := plugin(t, tt.plugin)
			m, e := scanBody(p, []byte(tt.body), nil)
			if e != nil {
				t.Fatal(e)
			}
			rw, e := rewritePreserve(p, []byte(tt.body), m, tt.hideKey)
			if tt.err != "" {
				if e == nil || e.message != tt.err {
					t.Fatalf("err = %v, want %q", e, tt.err)
				}
				return
			}
			if e != nil || string(rw.body) != tt.want || rw.stream != tt.stream {
				t.Errorf("got %s stream %v (%v), want %s stream %v", rw.body, rw.stream, e, tt.want, tt.stream)
			}
		})
	}
}

// Key-auth is one decision: a header key is checked without reading the
// body; only key_in_body reads it.
func TestAuthenticate(t *testing.T) {
	doc := func(inBody bool) *config.KeyAuth {
		b := "false"
		if inBody {
			b = "true"
		}
		cfg, err := config.Parse(t.Context(), []byte(`{_format_version: "3.0", consumers: [{username: team, keyauth_credentials: [{key: good-key}]}],
  routes: [{name: r, paths: ["/"], plugins: [{name: key-auth, config: {key_in_body: `+b+`}}, {name: ai-proxy, config: {route_type: llm/v1/chat, model: {provider: openai, name: m}}}]}]}`), config.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Routes[0].KeyAuth
	}
	tests := []struct {
		name     string
		inBody   bool
		header   string
		body     string
		consumer string
		err      string
		readBody bool
	}{
		{name: "header key, body never read", header: "good-key", body: `{"apikey":"x"}`, consumer: "team"},
		{name: "bad header key, body never read", inBody: true, header: "bad", err: "Invalid authentication credentials"},
		{name: "no key, body not read without key_in_body", err: "No API key found in request"},
		{name: "body key", inBody: true, body: `{"apikey":"good-key"}`, consumer: "team", readBody: true},
		{name: "no key anywhere", inBody: true, body: `{"x":1}`, err: "No API key found in request", readBody: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			if tt.header != "" {
				r.Header.Set("apikey", tt.header)
			}
			read := false
			_, consumer, e := authenticate(doc(tt.inBody), r, func() ([]byte, *apiError) {
				read = true
				return []byte(tt.body), nil
			})
			if tt.err != "" {
				if e == nil || e.message != tt.err || e.status != 401 {
					t.Fatalf("err = %v, want 401 %q", e, tt.err)
				}
			} else if e != nil || consumer != tt.consumer {
				t.Fatalf("consumer %q, %v", consumer, e)
			}
			if read != tt.readBody {
				t.Errorf("body read = %v, want %v", read, tt.readBody)
			}
		})
	}
}

func editMap(edits []edit) map[string]string {
	m := map[string]string{}
	for _, e := range edits {
		if e.value == nil {
			m[e.key] = "<removed>"
		} else {
			m[e.key] = string(e.value)
		}
	}
	return m
}
