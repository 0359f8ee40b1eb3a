package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// upstreamBody decodes the body the stub last received.
func (e *env) upstreamBody(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(e.stub.Last().Body, &m); err != nil {
		t.Fatalf("upstream body %q: %v", e.stub.Last().Body, err)
	}
	return m
}

func chatNew(client openai.Client, model string, opts ...option.RequestOption) error {
	_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: openai.ChatModel(model), Messages: userMessage("hi")}, opts...)
	return err
}

// apiError asserts an SDK error's status, message and param.
func wantAPIError(t *testing.T, err error, status int, message, param string) {
	t.Helper()
	var ae *openai.Error
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want an API error", err)
	}
	if ae.StatusCode != status || !strings.Contains(ae.Message, message) || ae.Param != param {
		t.Errorf("got %d %q param %q, want %d %q param %q", ae.StatusCode, ae.Message, ae.Param, status, message, param)
	}
}

// A member that names a controlled one with other case or escapes would be
// read as that member by a case-insensitive decoder upstream, past the
// allow-list, the streaming policy and the token cap: it is refused, naming
// the parameter, and nothing reaches the upstream.
func TestAmbiguousMembersRefused(t *testing.T) {
	e := newEnv(t, keyAuthConfig())
	client := e.clientWithKey("gpt-4o", teamKey)
	for member, param := range map[string]string{"Model": "model", "Stream": "stream", "MAX_TOKENS": "max_tokens", "Max_Completion_Tokens": "max_completion_tokens", "TOP_K": "top_k", "Temperature": "temperature"} {
		t.Run(member, func(t *testing.T) {
			before := len(e.stub.Requests())
			err := chatNew(client, "gpt-4o", option.WithJSONSet(member, "o1"))
			wantAPIError(t, err, 400, `request body member "`+member+`" is ambiguous`, param)
			if len(e.stub.Requests()) != before {
				t.Error("the upstream was called")
			}
		})
	}
	// An escaped name is the same trick for decoders that unescape first.
	res, body := e.post(t, "/gpt-4o/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"\u006dodel":"o1"}`, "apikey", teamKey)
	if res.StatusCode != 400 || !strings.Contains(body, `"param":"model"`) {
		t.Errorf("escaped model: %d %s", res.StatusCode, body)
	}
	// Exact duplicates are still resolved: one model, the checked one.
	res, body = e.post(t, "/gpt-4o/chat/completions", `{"model":"o1","messages":[{"role":"user","content":"hi"}],"model":"gpt-4o"}`, "apikey", teamKey)
	if res.StatusCode != 200 || bytes.Count(e.stub.Last().Body, []byte(`"model"`)) != 1 || e.upstreamBody(t)["model"] != "gpt-4o" {
		t.Errorf("duplicates: %d %s, upstream %s", res.StatusCode, body, e.stub.Last().Body)
	}
}

// model.options.max_tokens caps max_completion_tokens too (a deliberate
// addition to Kong, which only sets max_tokens), and Kong's "stream": false
// is written into a non-streamed upstream body.
func TestTokenCapAndStreamFalse(t *testing.T) {
	e := newEnv(t, strings.Replace(seedConfig, "  options:\n", "  options:\n    max_tokens: 50\n", 1))
	client := e.client("o3")
	_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "o3", Messages: userMessage("hi"), MaxCompletionTokens: openai.Int(100000)})
	if err != nil {
		t.Fatal(err)
	}
	got := e.upstreamBody(t)
	if got["max_completion_tokens"] != 50.0 || got["max_tokens"] != 50.0 || got["stream"] != false {
		t.Errorf("upstream body %s", e.stub.Last().Body)
	}
	if _, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "o3", Messages: userMessage("hi"), MaxCompletionTokens: openai.Int(7)}); err != nil {
		t.Fatal(err)
	}
	if got := e.upstreamBody(t); got["max_completion_tokens"] != 7.0 {
		t.Errorf("a value under the cap must be kept: %s", e.stub.Last().Body)
	}
}

const formatRoutes = `{_format_version: "3.0",
  routes: [{name: chat, paths: [/chat]}, {name: completions, paths: [/completions]}],
  plugins: [
    {name: ai-proxy, route: chat, config: {route_type: llm/v1/chat, model: {provider: openai, name: gpt-4o, options: {upstream_url: "UPSTREAM/v1/chat/completions"}}}},
    {name: ai-proxy, route: completions, config: {route_type: llm/v1/completions, model: {provider: openai, name: gpt-3.5-turbo-instruct, options: {upstream_url: "UPSTREAM/v1/completions"}}}}]}`

// The request format must match the route type, as Kong's llm.is_compatible
// decides, and a body Kong cannot read as JSON has no prompts.
func TestRequestFormatMatchesRoute(t *testing.T) {
	e := newEnv(t, formatRoutes)
	completions := openai.NewClient(option.WithBaseURL(e.proxy.URL+"/completions"), option.WithAPIKey("k"), option.WithMaxRetries(0))
	chat := openai.NewClient(option.WithBaseURL(e.proxy.URL+"/chat"), option.WithAPIKey("k"), option.WithMaxRetries(0))
	_, err := completions.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "gpt-3.5-turbo-instruct", Messages: userMessage("hi")})
	wantAPIError(t, err, 400, "[llm/v1/chat] message format is not compatible with [llm/v1/completions] route type", "")
	_, err = chat.Completions.New(context.Background(), openai.CompletionNewParams{Model: "gpt-4o", Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("hi")}})
	wantAPIError(t, err, 400, "[llm/v1/completions] message format is not compatible with [llm/v1/chat] route type", "")
	_, err = chat.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: userMessage("hi")}, option.WithJSONSet("prompt", "hi"))
	wantAPIError(t, err, 400, "request matches multiple LLM request formats", "")

	for name, ct := range map[string]string{"text/plain": "text/plain", "form": "application/x-www-form-urlencoded"} {
		res, body := e.post(t, "/chat/chat/completions", chatBody, "Content-Type", ct)
		if res.StatusCode != 400 || !strings.Contains(body, "request body doesn't contain valid prompts") {
			t.Errorf("%s: %d %s", name, res.StatusCode, body)
		}
	}
	req, _ := http.NewRequest("POST", e.proxy.URL+"/chat/chat/completions", strings.NewReader(chatBody))
	req.Header.Del("Content-Type")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("no Content-Type counts as JSON, as in Kong: %d", res.StatusCode)
	}
}

// The client's query string reaches the upstream (api-version and friends),
// without the key-auth key.
func TestQueryForwarded(t *testing.T) {
	e := newEnv(t, keyAuthConfig())
	client := openai.NewClient(option.WithBaseURL(e.proxy.URL+"/gpt-4o"), option.WithAPIKey("unused"), option.WithMaxRetries(0),
		option.WithQuery("api-version", "2024-10-21"), option.WithQuery("apikey", teamKey), option.WithHeader("Authorization", ""))
	if err := chatNew(client, "gpt-4o"); err != nil {
		t.Fatal(err)
	}
	if q := e.stub.Last().Query; q != "api-version=2024-10-21" {
		t.Errorf("upstream query %q", q)
	}
}

// $(headers.x_model) reads X-Model, as Kong treats _ and - alike; a
// template in upstream_url is resolved per request and must stay http(s).
func TestTemplates(t *testing.T) {
	e := newEnv(t, `{_format_version: "3.0", routes: [{name: r, paths: [/t]}],
	  plugins: [{name: ai-proxy, route: r, config: {route_type: llm/v1/chat,
	    model: {provider: openai, name: "$(headers.x_model)", options: {upstream_url: "$(query_params.base)/v1/$(headers.x_tenant)/chat/completions"}}}}]}`)
	base := e.upstream.URL
	client := openai.NewClient(option.WithBaseURL(e.proxy.URL+"/t"), option.WithAPIKey("k"), option.WithMaxRetries(0),
		option.WithHeader("X-Model", "gpt-4o-mini"), option.WithHeader("X-Tenant", "acme"), option.WithQuery("base", base))
	if err := chatNew(client, "gpt-4o-mini"); err != nil {
		t.Fatal(err)
	}
	if last := e.stub.Last(); last.Path != "/v1/acme/chat/completions" || e.upstreamBody(t)["model"] != "gpt-4o-mini" {
		t.Errorf("upstream %s %s", last.Path, last.Body)
	}
	before := len(e.stub.Requests())
	err := chatNew(client, "gpt-4o-mini", option.WithQuery("base", "file:///etc/passwd#"))
	wantAPIError(t, err, 400, "upstream_url resolved from this request is not an absolute http or https URL", "")
	if len(e.stub.Requests()) != before {
		t.Error("the upstream was called")
	}
}

func preserveConfig(name string) string {
	model := "{provider: openai}"
	if name != "" {
		model = "{provider: openai, name: " + name + ", options: {upstream_url: UPSTREAM/v1/chat/completions}}"
	} else {
		model = "{provider: openai, options: {upstream_url: UPSTREAM/v1/chat/completions}}"
	}
	return `{_format_version: "3.0", routes: [{name: p, paths: [/v1]}],
	  consumers: [{username: team-a, keyauth_credentials: [{key: ` + teamKey + `}]}],
	  plugins: [{name: key-auth, config: {key_names: [apikey], key_in_body: true}},
	    {name: ai-proxy, config: {route_type: preserve, auth: {header_name: Authorization, header_value: Bearer KEY}, model: ` + model + `}}]}`
}

// Preserve mode: upstream_url's scheme, host and port with the client's own
// normalized path; the configured model enforced; the key-auth credential
// never forwarded, wherever it travelled.
func TestPreserve(t *testing.T) {
	e := newEnv(t, preserveConfig("text-embedding-3-small"))
	client := openai.NewClient(option.WithBaseURL(e.proxy.URL+"/v1"), option.WithAPIKey(teamKey), option.WithMaxRetries(0))
	embed := func(model string) error {
		_, err := client.Embeddings.New(context.Background(), openai.EmbeddingNewParams{Model: model, Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hi")}})
		return err
	}
	_ = embed("text-embedding-3-small") // the stub answers 404 for embeddings: what it received is the point
	last := e.stub.Last()
	if last.Path != "/v1/embeddings" || strings.Contains(string(last.Body)+last.Query+last.Header.Get("Authorization"), teamKey) || last.Header.Get("Authorization") != "Bearer "+upstreamKey {
		t.Errorf("upstream got %s ?%s %v %s", last.Path, last.Query, last.Header, last.Body)
	}
	before := len(e.stub.Requests())
	wantAPIError(t, embed("text-embedding-3-large"), 400, "cannot use own model - must be: text-embedding-3-small", "")
	if len(e.stub.Requests()) != before {
		t.Error("the upstream was called")
	}

	// A request without a body (GET /v1/models) passes as one.
	_, _ = client.Models.Get(context.Background(), "text-embedding-3-small")
	if last := e.stub.Last(); last.Method != "GET" || last.Path != "/v1/models/text-embedding-3-small" || len(last.Body) != 0 || last.Header.Get("Content-Type") != "" {
		t.Errorf("GET upstream got %s %s %q %v", last.Method, last.Path, last.Body, last.Header)
	}

	for name, tc := range map[string]struct{ path, body string }{
		"query":              {"/v1//x/../embeddings?apikey=" + teamKey + "&keep=1", `{"model":"text-embedding-3-small","input":"hi"}`},
		"body (key_in_body)": {"/v1/embeddings", `{"apikey":"` + teamKey + `","model":"text-embedding-3-small","input":"hi"}`},
	} {
		e.post(t, tc.path, tc.body)
		last := e.stub.Last()
		if last.Path != "/v1/embeddings" || strings.Contains(string(last.Body)+last.Query, teamKey) {
			t.Errorf("%s: upstream got %s ?%s %s", name, last.Path, last.Query, last.Body)
		}
	}
}

// Multipart bodies (audio, file uploads) pass through preserve untouched,
// the configured model still enforced on them.
func TestPreserveMultipart(t *testing.T) {
	e := newEnv(t, preserveConfig("whisper-1"))
	client := openai.NewClient(option.WithBaseURL(e.proxy.URL+"/v1"), option.WithAPIKey(teamKey), option.WithMaxRetries(0))
	audio := []byte("RIFF\x00\x01\x02binary-audio")
	transcribe := func(model string) error {
		_, err := client.Audio.Transcriptions.New(context.Background(), openai.AudioTranscriptionNewParams{Model: model, File: openai.File(bytes.NewReader(audio), "a.wav", "audio/wav")})
		return err
	}
	_ = transcribe("whisper-1")
	last := e.stub.Last()
	if last.Path != "/v1/audio/transcriptions" || !strings.HasPrefix(last.Header.Get("Content-Type"), "multipart/form-data; boundary=") || !bytes.Contains(last.Body, audio) {
		t.Errorf("upstream got %s %s %q", last.Path, last.Header.Get("Content-Type"), last.Body)
	}
	before := len(e.stub.Requests())
	wantAPIError(t, transcribe("gpt-4o-transcribe"), 400, "cannot use own model - must be: whisper-1", "")
	if len(e.stub.Requests()) != before {
		t.Error("the upstream was called")
	}
}

// allow_override never turns a key-auth key into the upstream credential,
// in the query or in the body.
func TestOverrideNeverForwardsKeyAuthKey(t *testing.T) {
	for _, loc := range []string{"query", "body"} {
		t.Run(loc, func(t *testing.T) {
			e := newEnv(t, `{_format_version: "3.0", routes: [{name: r, paths: [/o]}],
			  consumers: [{username: team-a, keyauth_credentials: [{key: `+teamKey+`}]}],
			  plugins: [{name: key-auth, config: {key_names: [apikey], key_in_body: true}},
			    {name: ai-proxy, config: {route_type: llm/v1/chat, auth: {param_name: apikey, param_value: KEY, param_location: `+loc+`, allow_override: true},
			      model: {provider: openai, name: gpt-4o, options: {upstream_url: UPSTREAM/v1/chat/completions}}}}]}`)
			path, body := "/o/chat/completions", chatBody
			if loc == "query" {
				path += "?apikey=" + teamKey
			} else {
				body = `{"apikey":"` + teamKey + `","messages":[{"role":"user","content":"hi"}]}`
			}
			if res, b := e.post(t, path, body); res.StatusCode != 200 {
				t.Fatalf("%d %s", res.StatusCode, b)
			}
			last := e.stub.Last()
			if strings.Contains(string(last.Body)+last.Query, teamKey) || !strings.Contains(string(last.Body)+last.Query, upstreamKey) {
				t.Errorf("upstream got ?%s %s", last.Query, last.Body)
			}
		})
	}
}

// max_request_body_size up to 1 TiB is accepted, and a client that claims
// a body that large costs only what it sends.
func TestHugeContentLengthClaim(t *testing.T) {
	e := newEnv(t, strings.Replace(seedConfig, "route_type: llm/v1/chat", "route_type: llm/v1/chat\nmax_request_body_size: 1099511627776", 1))
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.proxy.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	_, _ = conn.Write([]byte("POST /gpt-4o/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1099511627776\r\n\r\n{\"messages\":"))
	_ = conn.(*net.TCPConn).CloseWrite()
	buf := make([]byte, 512)
	n, _ := conn.Read(buf)
	if !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 400") {
		t.Errorf("answer %q", buf[:n])
	}
	if res, _ := e.post(t, "/gpt-4o/chat/completions", chatBody); res.StatusCode != 200 {
		t.Errorf("the proxy no longer answers: %d", res.StatusCode)
	}
}
