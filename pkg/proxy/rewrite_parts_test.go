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
	tests := []struct {
		name                         string
		body                         string
		hide                         []string
		model, stream, opts, maxComp string
		chat, completions, auth      bool
		repeated                     bool
		err, param                   string
	}{
		{name: "members found", body: `{"model":"m","stream":true,"stream_options":{"a":1},"messages":[{}],"key":"k","max_completion_tokens":5}`,
			model: `"m"`, stream: "true", opts: `{"a":1}`, maxComp: "5", chat: true, auth: true},
		{name: "last duplicate counts", body: `{"model":"a","messages":[{}],"model":"b"}`, model: `"b"`, chat: true, repeated: true},
		{name: "empty messages", body: `{"messages":[ ]}`},
		{name: "messages not an array", body: `{"messages":"hi"}`},
		{name: "messages an object", body: `{"messages":{"a":1}}`},
		{name: "prompt string", body: `{"prompt":"hi"}`, completions: true},
		{name: "empty prompt string, as Kong", body: `{"prompt":""}`, completions: true},
		{name: "prompt array is not Kong's completions", body: `{"prompt":["hi"]}`},
		{name: "both formats", body: `{"prompt":"hi","messages":[{}]}`, chat: true, completions: true},
		{name: "auth param named like a key-auth key is no override", body: `{"key":"k"}`, hide: []string{"key"}},
		{name: "invalid JSON", body: `{"messages":[}`, err: "request body is not valid JSON"},
		{name: "invalid nested JSON", body: `{"messages":[{"a":tru}]}`, err: "request body is not valid JSON"},
		{name: "not an object", body: `[]`, err: "request body must be a JSON object"},
		{name: "Model", body: `{"model":"gpt-4o","messages":[{}],"Model":"o1"}`, err: "ambiguous", param: "model"},
		{name: "escaped model", body: `{"\u006dodel":"o1","messages":[{}]}`, err: "ambiguous", param: "model"},
		{name: "Stream", body: `{"Stream":true}`, err: "ambiguous", param: "stream"},
		{name: "MAX_TOKENS", body: `{"MAX_TOKENS":100000}`, err: "ambiguous", param: "max_tokens"},
		{name: "Max_Completion_Tokens", body: `{"Max_Completion_Tokens":1}`, err: "ambiguous", param: "max_completion_tokens"},
		{name: "Kelvin sign folds to k", body: "{\"top_\u212a\":1}", err: "ambiguous", param: "top_k"},
		{name: "Temperature", body: `{"Temperature":2}`, err: "ambiguous", param: "temperature"},
		{name: "TOP_P", body: `{"TOP_P":1}`, err: "ambiguous", param: "top_p"},
		{name: "Stream_Options", body: `{"Stream_Options":{}}`, err: "ambiguous", param: "stream_options"},
		{name: "body auth param", body: `{"KEY":"x"}`, err: "ambiguous", param: "key"},
		{name: "key-auth key name", body: `{"ApiKey":"x"}`, hide: []string{"apikey"}, err: "ambiguous", param: "apikey"},
		{name: "escaped key-auth key name", body: `{"api\u006bey":"x"}`, hide: []string{"apikey"}, err: "ambiguous", param: "apikey"},
		{name: "uncontrolled names are free", body: `{"Messages":[],"USER":"u","Tools":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, e := scanBody(chat, input{body: []byte(tt.body), hide: tt.hide}, nil)
			if tt.err != "" {
				if e == nil || !strings.Contains(e.message, tt.err) || e.status != 400 || e.param != tt.param {
					t.Fatalf("err = %+v, want 400 %q param %q", e, tt.err, tt.param)
				}
				return
			}
			if e != nil {
				t.Fatal(e)
			}
			if string(m.model) != tt.model || string(m.stream) != tt.stream || string(m.streamOpts) != tt.opts || string(m.maxCompletion) != tt.maxComp ||
				m.chat != tt.chat || m.completions != tt.completions || m.authParam != tt.auth || m.repeated != tt.repeated {
				t.Errorf("got %+v", m)
			}
		})
	}
}

func TestCheckFormat(t *testing.T) {
	tests := []struct {
		route             string
		chat, completions bool
		err               string
	}{
		{config.RouteChat, true, false, ""},
		{config.RouteCompletions, false, true, ""},
		{config.RouteCompletions, true, false, "[llm/v1/chat] message format is not compatible with [llm/v1/completions] route type"},
		{config.RouteChat, false, true, "[llm/v1/completions] message format is not compatible with [llm/v1/chat] route type"},
		{config.RouteChat, true, true, "request matches multiple LLM request formats"},
		{config.RouteCompletions, true, true, "request matches multiple LLM request formats"},
	}
	for _, tt := range tests {
		e := checkFormat(tt.route, members{chat: tt.chat, completions: tt.completions})
		if (e == nil) != (tt.err == "") || (e != nil && (e.message != tt.err || e.status != 400)) {
			t.Errorf("%s chat=%v completions=%v: %v, want %q", tt.route, tt.chat, tt.completions, e, tt.err)
		}
	}
}

func TestIsJSONContentType(t *testing.T) {
	for ct, want := range map[string]bool{
		"": true, "application/json": true, "Application/JSON; charset=utf-8": true, " application/json": true,
		"text/plain": false, "text/plain;charset=UTF-8": false, "multipart/form-data; boundary=x": false, "application/x-www-form-urlencoded": false,
	} {
		if got := isJSONContentType(ct); got != want {
			t.Errorf("isJSONContentType(%q) = %v, want %v", ct, got, want)
		}
	}
}

func TestChooseModel(t *testing.T) {
	tests := []struct {
		configured, body, want, err string
		balanced                    bool
	}{
		{"gpt-4o", ``, "gpt-4o", "", false},
		{"gpt-4o", `"gpt-4o"`, "gpt-4o", "", false},
		{"gpt-4o", `""`, "gpt-4o", "", false},
		{"gpt-4o", `null`, "gpt-4o", "", false},
		{"gpt-4o", `"o1"`, "", "cannot use own model - must be: gpt-4o", false},
		{"", `"gpt-4o-mini"`, "gpt-4o-mini", "", false},
		{"", ``, "", "model parameter not found in request, nor in gateway configuration", false},
		{"", `5`, "", "model must be a string", false},
		{"", `"bad model"`, "", "model name must not contain whitespace or control characters", false},
		{"gpt-4o", `"gpt\u002d4o"`, "gpt-4o", "", false},
		{"", `"gpt\u002d4o"`, "gpt-4o", "", false},
		{"gpt-4o", `"gpt-4\u006f-mini"`, "", "cannot use own model - must be: gpt-4o", false},
		// encoding/json's decoding of invalid UTF-8, kept.
		{"", "\"gpt-\xff\"", "gpt-\ufffd", "", false},
		{"", `"`, "", "model must be a string", false},
		// An ai-proxy-advanced target's own model replaces the client's.
		{"claude-haiku", `"gpt-4o-mini"`, "claude-haiku", "", true},
		{"", `"gpt-4o-mini"`, "gpt-4o-mini", "", true},
		{"claude-haiku", `5`, "", "model must be a string", true},
	}
	for _, tt := range tests {
		t.Run(tt.configured+" "+tt.body, func(t *testing.T) {
			got, e := chooseModel(tt.configured, []byte(tt.body), tt.balanced)
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
		{name: "no stream is written false, as Kong", policy: config.StreamAllow, want: streaming{}, edits: map[string]string{"stream": "false"}},
		{name: "stream false", policy: config.StreamAllow, stream: "false", edits: map[string]string{"stream": "false"}},
		{name: "stream null", policy: config.StreamAllow, stream: "null", edits: map[string]string{"stream": "false"}},
		{name: "stream asks for usage", policy: config.StreamAllow, stream: "true",
			want: streaming{stream: true, hideUsage: true}, edits: map[string]string{"stream": "true", "stream_options": `{"include_usage":true}`}},
		{name: "client asked for usage", policy: config.StreamAllow, stream: "true", opts: `{"include_usage":true}`,
			want: streaming{stream: true}, edits: map[string]string{"stream": "true"}},
		{name: "client options completed", policy: config.StreamAllow, stream: "true", opts: `{"include_obfuscation":false}`,
			want: streaming{stream: true, hideUsage: true}, edits: map[string]string{"stream": "true", "stream_options": `{"include_obfuscation":false,"include_usage":true}`}},
		{name: "always forces", policy: config.StreamAlways,
			want: streaming{stream: true, hideUsage: true}, edits: map[string]string{"stream": "true", "stream_options": `{"include_usage":true}`}},
		{name: "deny refuses", policy: config.StreamDeny, stream: "true", err: "response streaming is not enabled for this LLM"},
		{name: "deny lets false through", policy: config.StreamDeny, stream: "false", edits: map[string]string{"stream": "false"}},
		{name: "not a boolean", policy: config.StreamAllow, stream: `"yes"`, err: "stream must be a boolean"},
		{name: "options not an object", policy: config.StreamAllow, stream: "true", opts: `[1]`, err: "stream_options must be an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, edits, e := streamingEdits(tt.policy, []byte(tt.stream), []byte(tt.opts), nil)
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
	edits, _ := optionEdits(config.ModelOptions{MaxTokens: &mt, Temperature: &temp, TopP: &topP}, nil, nil)
	got := editMap(edits)
	want := map[string]string{"max_tokens": "100", "temperature": "0.5", "top_p": "0.9", "top_k": "<removed>"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("edits %v, want %v", got, want)
	}
	if edits, _ := optionEdits(config.ModelOptions{}, nil, nil); !reflect.DeepEqual(editMap(edits), map[string]string{"top_k": "<removed>"}) {
		t.Errorf("no options: edits %v", edits)
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
		configured, contentType, model         string
		stream                                 bool
	}{
		{name: "untouched", plugin: `{route_type: preserve, model: {provider: openai}}`,
			body: `{"anything": [1, 2],"stream":true}`, want: `{"anything": [1, 2],"stream":true}`, stream: true},
		{name: "stream denied", plugin: `{route_type: preserve, response_streaming: deny, model: {provider: openai}}`,
			body: `{"stream":true}`, err: "response streaming is not enabled for this LLM"},
		{name: "key removed, auth param set", plugin: `{route_type: preserve, auth: {param_name: k, param_value: v, param_location: body}, model: {provider: openai}}`,
			body: `{"apikey":"secret","k":"client","x":1}`, hideKey: "apikey", want: `{"k":"v","x":1}`},
		{name: "configured model enforced", plugin: preserveDyn, configured: "gpt-4o", body: `{"model":"o1"}`, err: "cannot use own model - must be: gpt-4o"},
		{name: "configured model repeated is fine", plugin: preserveDyn, configured: "gpt-4o", body: `{"model":"gpt-4o","input":"x"}`, want: `{"model":"gpt-4o","input":"x"}`, model: "gpt-4o"},
		{name: "no body model takes the configured one", plugin: preserveDyn, configured: "gpt-4o", body: `{"input":"x"}`, want: `{"input":"x"}`, model: "gpt-4o"},
		{name: "body model when none configured", plugin: `{route_type: preserve, model: {provider: openai}}`, body: `{"model":"text-embedding-3-small"}`, want: `{"model":"text-embedding-3-small"}`, model: "text-embedding-3-small"},
		{name: "unusable body model is not reported", plugin: `{route_type: preserve, model: {provider: openai}}`, body: `{"model":"a\r\nb"}`, want: `{"model":"a\r\nb"}`},
		{name: "first-wins decoders read the checked model", plugin: preserveDyn, configured: "gpt-4o", body: `{"model":"o1","x":1,"model":"gpt-4o"}`, want: `{"model":"gpt-4o","x":1}`, model: "gpt-4o"},
		{name: "first-wins decoders read the checked stream", plugin: `{route_type: preserve, response_streaming: deny, model: {provider: openai}}`, body: `{"stream":true,"stream":false}`, want: `{"stream":false}`},
		{name: "case-variant model refused", plugin: preserveDyn, configured: "gpt-4o", body: `{"model":"gpt-4o","MODEL":"o1"}`, err: "ambiguous"},
		{name: "invalid JSON refused", plugin: preserveDyn, configured: "gpt-4o", body: `{"model":"o1",}`, err: "request body is not valid JSON"},
		{name: "text/plain must still be JSON", plugin: preserveDyn, configured: "gpt-4o", contentType: "text/plain", body: `model=o1`, err: "request body is not valid JSON"},
		{name: "empty body passes as none", plugin: preserveDyn, configured: "gpt-4o", body: ``, want: ``},
		{name: "multipart passes untouched", plugin: `{route_type: preserve, model: {provider: openai}}`, contentType: "multipart/form-data; boundary=XX", body: multipartBody("whisper-1", ""), want: multipartBody("whisper-1", "")},
		{name: "multipart with the configured model", plugin: preserveDyn, configured: "whisper-1", contentType: "multipart/form-data; boundary=XX", body: multipartBody("whisper-1", ""), want: multipartBody("whisper-1", ""), model: "whisper-1"},
		{name: "multipart with another model", plugin: preserveDyn, configured: "whisper-1", contentType: "multipart/form-data; boundary=XX", body: multipartBody("gpt-4o-transcribe", ""), err: "cannot use own model - must be: whisper-1"},
		{name: "multipart stream denied", plugin: `{route_type: preserve, response_streaming: deny, model: {provider: openai}}`, contentType: "multipart/form-data; boundary=XX", body: multipartBody("whisper-1", "true"), err: "response streaming is not enabled for this LLM"},
		{name: "multipart with a key-auth key field", plugin: `{route_type: preserve, model: {provider: openai}}`, hideKey: "apikey", contentType: "multipart/form-data; boundary=XX",
			body: "--XX\r\nContent-Disposition: form-data; name=\"apikey\"\r\n\r\nsecret\r\n" + multipartBody("whisper-1", ""), err: "send the API key for this proxy in a header"},
		{name: "multipart without a key field when keys may travel in the body", plugin: `{route_type: preserve, model: {provider: openai}}`, hideKey: "apikey", contentType: "multipart/form-data; boundary=XX",
			body: multipartBody("whisper-1", ""), want: multipartBody("whisper-1", "")},
		{name: "multipart unreadable when a policy needs it", plugin: preserveDyn, configured: "whisper-1", contentType: "multipart/form-data; boundary=XX", body: "garbage", err: "multipart request body could not be read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := plugin(t, tt.plugin)
			in := input{body: []byte(tt.body), configured: tt.configured, contentType: tt.contentType}
			if tt.hideKey != "" {
				in.hide = []string{tt.hideKey}
			}
			rw, e := rewritePreserve(p, in)
			if tt.err != "" {
				if e == nil || !strings.Contains(e.message, tt.err) {
					t.Fatalf("err = %v, want %q", e, tt.err)
				}
				return
			}
			if e != nil || string(rw.body) != tt.want || rw.stream != tt.stream || rw.model != tt.model {
				t.Errorf("got %s stream %v model %q (%v), want %s stream %v model %q", rw.body, rw.stream, rw.model, e, tt.want, tt.stream, tt.model)
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
			}, false)
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

const preserveDyn = `{route_type: preserve, model: {provider: openai, name: "$(uri_captures.model)"}}`

// multipartBody is an audio transcription upload.
func multipartBody(model, stream string) string {
	b := "--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\nRIFF\x00\x01binary\r\n" +
		"--XX\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n" + model + "\r\n"
	if stream != "" {
		b += "--XX\r\nContent-Disposition: form-data; name=\"stream\"\r\n\r\n" + stream + "\r\n"
	}
	return b + "--XX--\r\n"
}
