package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/observed"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/configsource"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/openai"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

// fakeChat is a translating driver (registered as "bedrock") that answers
// chat by the model name: "tools" calls get_weather, "long" stops at the
// token limit, "cut" fails after its first text; anything else says
// "Hello world". It keeps the chat body it was given.
type fakeChat struct {
	mu   sync.Mutex
	last *chat.Request
}

func (f *fakeChat) Prepare(c *provider.Call) (provider.Upstream, error) {
	req, err := chat.Decode(c.Body)
	if err != nil {
		return provider.Upstream{}, err
	}
	f.mu.Lock()
	f.last = req
	f.mu.Unlock()
	return provider.Upstream{URL: &url.URL{Scheme: "https", Host: "fake.invalid", Path: "/chat"}, Transport: fakeRT{req: req}}, nil
}

func (f *fakeChat) lastRequest() *chat.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

type fakeRT struct{ req *chat.Request }

var fakeUsage = chat.NewUsage(9, 3, 0, 4)

func (t fakeRT) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.req.Model == "denied" {
		return provider.ErrorResponse(r, &provider.Error{Status: 429, Type: provider.TypeRateLimit, Message: "slow down", Header: http.Header{"Retry-After": {"3"}}}), nil
	}
	if !t.req.Stream {
		text := "Hello world"
		c := chat.Completion{ID: "x", Model: t.req.Model, Usage: fakeUsage, Choices: []chat.Choice{{Message: chat.AnswerMessage{Content: &text}, FinishReason: chat.FinishStop}}}
		switch t.req.Model {
		case "tools":
			c.Choices[0].Message = chat.AnswerMessage{ToolCalls: []chat.ToolCall{{ID: "call_1", Type: "function", Function: chat.FunctionCall{Name: "get_weather", Arguments: `{"city":"Paris"}`}}}}
			c.Choices[0].FinishReason = chat.FinishToolCalls
		case "long":
			c.Choices[0].FinishReason = chat.FinishLength
		}
		return provider.JSONResponse(r, 200, c.Marshal()), nil
	}
	s := chat.NewStream(t.req.Model, t.req.IncludeUsage())
	var evs [][]byte
	evs = append(evs, s.Role())
	switch t.req.Model {
	case "tools":
		evs = append(evs, s.Content("Let me check. "))
		i, start := s.ToolCallStart("call_1", "get_weather")
		evs = append(evs, start, s.ToolCallArgs(i, `{"city":`), s.ToolCallArgs(i, `"Paris"}`))
		j, start2 := s.ToolCallStart("call_2", "get_time")
		evs = append(evs, start2, s.ToolCallArgs(j, `{}`), s.Finish(chat.FinishToolCalls))
	case "long":
		evs = append(evs, s.Content("Hello"), s.Finish(chat.FinishLength))
	case "cut":
		evs = append(evs, s.Content("Hello"))
		return provider.StreamResponse(r, &fakeEvents{evs: evs, err: &provider.StreamError{Message: "provider overloaded", Type: "server_error", Code: "overloaded"}}), nil
	default:
		evs = append(evs, s.Reasoning("thinking..."), s.Content("Hello"), s.Content(" world"), s.Finish(chat.FinishStop))
	}
	evs = append(evs, s.Usage(fakeUsage), s.Done())
	return provider.StreamResponse(r, &fakeEvents{evs: evs}), nil
}

type fakeEvents struct {
	evs [][]byte
	err error
}

func (e *fakeEvents) Next() ([]byte, error) {
	for len(e.evs) > 0 {
		ev := e.evs[0]
		e.evs = e.evs[1:]
		if ev != nil {
			return ev, nil
		}
	}
	if e.err != nil {
		return nil, e.err
	}
	return nil, io.EOF
}
func (e *fakeEvents) Close() error { return nil }

const apisConfig = `
_format_version: "3.0"
routes:
  - name: responses-openai
    paths: [/openai/v1/responses]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/responses
          auth: {header_name: Authorization, header_value: "Bearer sk-upstream-secret"}
          logging: {log_statistics: true}
          model: {provider: openai, name: gpt-4o, options: {max_tokens: 100, upstream_url: "%[1]s/v1/responses"}}
  - name: embeddings-openai
    paths: [/openai/v1/embeddings]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/embeddings
          auth: {header_name: Authorization, header_value: "Bearer sk-upstream-secret"}
          logging: {log_statistics: true}
          model: {provider: openai, name: text-embedding-3-small, options: {upstream_url: "%[1]s/v1/embeddings"}}
  - name: responses-fake
    paths: [/fake/v1/responses]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/responses
          logging: {log_statistics: true}
          model: {provider: bedrock, options: {max_tokens: 50}}
  - name: chat-models
    paths: ["~/(?<model>gpt-4o|gpt-4o-mini|o[34]-mini)/chat/completions$"]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/chat
          model: {provider: openai, name: "$(uri_captures.model)", model_alias: fast}
  - name: keyed
    paths: [/keyed]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/chat
          model: {provider: bedrock, name: claude-keyed}
      - name: key-auth
consumers:
  - username: alice
    keyauth_credentials: [{key: alice-key}]
`

type apisProxy struct {
	h    *Handler
	up   *stub.Server
	fake *fakeChat
	recs observed.Records
}

func newAPIsProxy(t *testing.T) *apisProxy {
	t.Helper()
	p := &apisProxy{up: stub.New(), fake: &fakeChat{}}
	srv := httptest.NewServer(p.up)
	t.Cleanup(srv.Close)
	cfg, err := config.Parse(context.Background(), []byte(fmt.Sprintf(apisConfig, srv.URL)), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p.h = New(configsource.NewStatic(cfg), Options{Logger: discardLogger,
		Drivers: provider.Set{config.ProviderOpenAI: openai.Driver{}, config.ProviderBedrock: p.fake},
		Observe: p.recs.Observe})
	return p
}

func (p *apisProxy) do(method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	func() {
		defer func() { _ = recover() }()
		p.h.ServeHTTP(w, req)
	}()
	return w
}

func (p *apisProxy) last(t *testing.T) *stats.Record { return p.recs.Last(t) }

// sseEvents splits a Responses stream into (event, data) pairs.
func sseEvents(t *testing.T, body []byte) (types []string, data []map[string]any) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	var ev string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			ev = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			var m map[string]any
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &m); err != nil {
				t.Fatalf("data is not JSON: %q", line)
			}
			if m["type"] != ev {
				t.Fatalf("event %q carries type %v", ev, m["type"])
			}
			types, data = append(types, ev), append(data, m)
		}
	}
	return types, data
}

func TestResponsesNativePolicy(t *testing.T) {
	tests := []struct {
		name, body string
		status     int
		want       map[string]any // members of the body the upstream got
		absent     []string
	}{
		{"model set, cap applied", `{"input":"hi","max_output_tokens":500}`, 200, map[string]any{"model": "gpt-4o", "max_output_tokens": 100.0, "stream": false}, []string{"stream_options", "max_tokens"}},
		{"smaller cap kept", `{"model":"gpt-4o","input":"hi","max_output_tokens":7}`, 200, map[string]any{"max_output_tokens": 7.0}, nil},
		{"cap added", `{"input":"hi"}`, 200, map[string]any{"max_output_tokens": 100.0}, nil},
		{"streamed, no stream_options", `{"input":"hi","stream":true}`, 200, map[string]any{"stream": true}, []string{"stream_options"}},
		{"other model", `{"model":"gpt-5","input":"hi"}`, 400, nil, nil},
		{"top_k dropped", `{"input":"hi","top_k":3}`, 200, nil, []string{"top_k"}},
		{"ambiguous", `{"input":"hi","Max_Output_Tokens":3}`, 400, nil, nil},
		{"not JSON", `{"input":`, 400, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newAPIsProxy(t)
			w := p.do("POST", "/openai/v1/responses", tt.body)
			if w.Code != tt.status {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if tt.status != 200 {
				if !strings.Contains(w.Body.String(), `"error"`) {
					t.Errorf("error not OpenAI-shaped: %s", w.Body)
				}
				return
			}
			got := map[string]any{}
			last := p.up.Last()
			if last.Path != "/v1/responses" || last.Header.Get("Authorization") != "Bearer sk-upstream-secret" {
				t.Errorf("upstream got %s with auth %q", last.Path, last.Header.Get("Authorization"))
			}
			_ = json.Unmarshal(last.Body, &got)
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
			for _, k := range tt.absent {
				if _, ok := got[k]; ok {
					t.Errorf("%s sent upstream", k)
				}
			}
			if u := p.last(t).Usage; u == nil || u.PromptTokens != stub.PromptTokens || u.CompletionTokens == 0 {
				t.Errorf("usage %+v", u)
			}
		})
	}
}

// The stream is relayed as it is, and its usage read from response.completed.
func TestResponsesNativeStreamUsage(t *testing.T) {
	p := newAPIsProxy(t)
	w := p.do("POST", "/openai/v1/responses", `{"input":"hi","stream":true}`, "X-Stub-Chunks", "3")
	types, _ := sseEvents(t, w.Body.Bytes())
	if len(types) == 0 || types[len(types)-1] != "response.completed" || strings.Contains(w.Body.String(), "[DONE]") {
		t.Fatalf("events %v", types)
	}
	u := p.last(t).Usage
	if u == nil || u.PromptTokens != stub.PromptTokens || u.CompletionTokens != 3 || u.TotalTokens != stub.PromptTokens+3 {
		t.Errorf("usage %+v", u)
	}
}

// A stream cut mid-way ends with the Responses API's error event.
func TestResponsesNativeStreamCut(t *testing.T) {
	p := newAPIsProxy(t)
	w := p.do("POST", "/openai/v1/responses", `{"input":"hi","stream":true}`, "X-Stub-Fail-After", "2")
	types, data := sseEvents(t, w.Body.Bytes())
	if len(types) == 0 || types[len(types)-1] != "error" || data[len(data)-1]["code"] != "upstream_stream_error" {
		t.Fatalf("events %v", types)
	}
}

func TestEmbeddingsNative(t *testing.T) {
	p := newAPIsProxy(t)
	w := p.do("POST", "/openai/v1/embeddings", `{"input":["a b","c"],"encoding_format":"base64"}`)
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var got map[string]any
	_ = json.Unmarshal(p.up.Last().Body, &got)
	if got["model"] != "text-embedding-3-small" || got["encoding_format"] != "base64" || p.up.Last().Path != "/v1/embeddings" {
		t.Errorf("upstream got %s %s", p.up.Last().Path, p.up.Last().Body)
	}
	if u := p.last(t).Usage; u == nil || u.PromptTokens != 3 || u.TotalTokens != 3 {
		t.Errorf("usage %+v", u)
	}
}

// A driver without embeddings refuses them before any call.
func TestEmbeddingsUnsupportedDriver(t *testing.T) {
	d := rewriteAPIFor(t, config.RouteEmbeddings, &fakeChat{})
	if d == nil || d.status != 400 || d.code != "unsupported_route_type" {
		t.Fatalf("got %+v", d)
	}
}

func rewriteAPIFor(t *testing.T, routeType string, d provider.Driver) *apiError {
	p := &config.Plugin{RouteType: routeType, Model: config.Model{Provider: "bedrock"}}
	_, _, _, e := rewriteAPI(p, input{body: []byte(`{"model":"m","input":"x"}`), contentType: "application/json"}, d)
	return e
}

func TestResponsesTranslatedJSON(t *testing.T) {
	p := newAPIsProxy(t)
	w := p.do("POST", "/fake/v1/responses", `{"model":"m","instructions":"be brief","input":"hi","max_output_tokens":80,"tools":[{"type":"function","name":"get_weather","parameters":{"type":"object"}}]}`)
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	req := p.fake.lastRequest()
	if req.Messages[0].Role != "system" || req.Messages[1].Content.Text != "hi" || req.Tools[0].Function.Name != "get_weather" {
		t.Errorf("chat request %+v", req)
	}
	if req.MaxOutput() != 50 { // capped by model.options.max_tokens through the chat policy
		t.Errorf("max output %d", req.MaxOutput())
	}
	var r map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &r)
	if r["object"] != "response" || r["status"] != "completed" || r["instructions"] != "be brief" {
		t.Errorf("answer %s", w.Body)
	}
	if u := p.last(t).Usage; u == nil || u.PromptTokens != 12 || u.CompletionTokens != 4 || u.CacheReadTokens != 3 {
		t.Errorf("usage %+v", u)
	}
}

func TestResponsesTranslatedLengthIsIncomplete(t *testing.T) {
	p := newAPIsProxy(t)
	w := p.do("POST", "/fake/v1/responses", `{"model":"long","input":"hi"}`)
	var r struct {
		Status            string
		IncompleteDetails struct{ Reason string } `json:"incomplete_details"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &r)
	if r.Status != "incomplete" || r.IncompleteDetails.Reason != "max_output_tokens" {
		t.Errorf("answer %s", w.Body)
	}
	w = p.do("POST", "/fake/v1/responses", `{"model":"long","input":"hi","stream":true}`)
	types, data := sseEvents(t, w.Body.Bytes())
	last := data[len(data)-1]["response"].(map[string]any)
	if types[len(types)-1] != "response.incomplete" || last["incomplete_details"].(map[string]any)["reason"] != "max_output_tokens" {
		t.Errorf("events %v", types)
	}
}

func TestResponsesTranslatedStream(t *testing.T) {
	p := newAPIsProxy(t)
	w := p.do("POST", "/fake/v1/responses", `{"model":"m","input":"hi","stream":true}`)
	types, data := sseEvents(t, w.Body.Bytes())
	want := []string{"response.created", "response.in_progress",
		"response.output_item.added", "response.reasoning_text.delta", "response.reasoning_text.done", "response.output_item.done",
		"response.output_item.added", "response.content_part.added", "response.output_text.delta", "response.output_text.delta",
		"response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"}
	if strings.Join(types, ",") != strings.Join(want, ",") {
		t.Fatalf("events\n%v\nwant\n%v", types, want)
	}
	for i, d := range data {
		if d["sequence_number"] != float64(i) {
			t.Errorf("event %d has sequence_number %v", i, d["sequence_number"])
		}
	}
	final := data[len(data)-1]["response"].(map[string]any)
	usage := final["usage"].(map[string]any)
	if usage["input_tokens"] != 12.0 || usage["output_tokens"] != 4.0 || strings.Contains(w.Body.String(), "[DONE]") {
		t.Errorf("final %v", final)
	}
	if u := p.last(t).Usage; u == nil || u.PromptTokens != 12 || u.CompletionTokens != 4 {
		t.Errorf("usage %+v", u)
	}
}

func TestResponsesTranslatedToolStream(t *testing.T) {
	p := newAPIsProxy(t)
	w := p.do("POST", "/fake/v1/responses", `{"model":"tools","input":"weather?","stream":true,"tools":[{"type":"function","name":"get_weather"},{"type":"function","name":"get_time"}]}`)
	types, data := sseEvents(t, w.Body.Bytes())
	final := data[len(data)-1]["response"].(map[string]any)
	out := final["output"].([]any)
	if len(out) != 3 || types[len(types)-1] != "response.completed" {
		t.Fatalf("events %v output %v", types, out)
	}
	call := out[1].(map[string]any)
	if call["type"] != "function_call" || call["call_id"] != "call_1" || call["arguments"] != `{"city":"Paris"}` || call["name"] != "get_weather" {
		t.Errorf("call %v", call)
	}
	var args strings.Builder
	for i, ty := range types {
		if ty == "response.function_call_arguments.delta" && data[i]["output_index"] == 1.0 {
			args.WriteString(data[i]["delta"].(string))
		}
	}
	if args.String() != `{"city":"Paris"}` {
		t.Errorf("argument deltas %q", args.String())
	}
}

// The round trip's second turn: the call and its output go back as chat.
func TestResponsesTranslatedFunctionOutput(t *testing.T) {
	p := newAPIsProxy(t)
	w := p.do("POST", "/fake/v1/responses", `{"model":"m","input":[{"role":"user","content":"weather?"},{"type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{}"},{"type":"function_call_output","call_id":"call_1","output":"sunny"}]}`)
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	m := p.fake.lastRequest().Messages
	if len(m) != 3 || m[1].Role != "assistant" || m[1].ToolCalls[0].ID != "call_1" || m[2].Role != "tool" || m[2].Content.Text != "sunny" {
		t.Errorf("messages %+v", m)
	}
}

func TestResponsesTranslatedRefusals(t *testing.T) {
	p := newAPIsProxy(t)
	for _, tt := range []struct{ body, param string }{
		{`{"model":"m","input":"hi","previous_response_id":"resp_1"}`, "previous_response_id"},
		{`{"model":"m","input":"hi","store":true}`, "store"},
		{`{"model":"m","input":"hi","tools":[{"type":"web_search"}]}`, "tools"},
		{`{"model":"m","input":"hi","conversation":"c"}`, "conversation"},
	} {
		w := p.do("POST", "/fake/v1/responses", tt.body)
		var e struct{ Error struct{ Param string } }
		_ = json.Unmarshal(w.Body.Bytes(), &e)
		if w.Code != 400 || e.Error.Param != tt.param {
			t.Errorf("%s: %d %s", tt.body, w.Code, w.Body)
		}
	}
	w := p.do("POST", "/fake/v1/responses", `{"model":"m","input":"hi","store":false}`)
	if w.Code != 200 {
		t.Errorf("store false refused: %s", w.Body)
	}
}

// A provider error before the stream keeps its status and Retry-After.
func TestResponsesTranslatedUpstreamError(t *testing.T) {
	p := newAPIsProxy(t)
	w := p.do("POST", "/fake/v1/responses", `{"model":"denied","input":"hi","stream":true}`)
	if w.Code != 429 || w.Header().Get("Retry-After") != "3" || !strings.Contains(w.Body.String(), `"rate_limit_error"`) {
		t.Errorf("%d %v %s", w.Code, w.Header(), w.Body)
	}
}

// A provider failing mid-stream: response.failed, and no second error event.
func TestResponsesTranslatedStreamFailure(t *testing.T) {
	p := newAPIsProxy(t)
	w := p.do("POST", "/fake/v1/responses", `{"model":"cut","input":"hi","stream":true}`)
	types, data := sseEvents(t, w.Body.Bytes())
	if types[len(types)-1] != "response.failed" || types[len(types)-2] == "response.failed" {
		t.Fatalf("events %v", types)
	}
	if e := data[len(data)-1]["response"].(map[string]any)["error"].(map[string]any); e["code"] != "overloaded" {
		t.Errorf("error %v", e)
	}
	if p.last(t).StreamError == "" {
		t.Error("the failure is not recorded")
	}
}
