package integration

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// A 200 that is not a completion reaches an SDK as Kong's 500 (openai.lua
// from_format), OpenAI-shaped, for a plain and a gzip upstream answer.
func TestNotACompletionIsAServerError(t *testing.T) {
	e := newEnv(t, seedConfig)
	tests := []struct{ answer, message string }{
		{"html", "transformation failed from type openai://llm/v1/chat: failed to decode llm/v1/chat response"},
		{"no-choices", "transformation failed from type openai://llm/v1/chat: 'choices' not in llm/v1/chat response"},
	}
	for _, tc := range tests {
		for _, enc := range []string{"", "gzip"} {
			t.Run(tc.answer+"/"+enc, func(t *testing.T) {
				opts := []option.RequestOption{option.WithHeader("X-Stub-Answer", tc.answer)}
				if enc != "" {
					opts = append(opts, option.WithHeader("Accept-Encoding", enc), option.WithHeader("X-Stub-Gzip", "1"))
				}
				client := e.client("gpt-4o", opts...)
				_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: userMessage("hi")})
				var apiErr *openai.Error
				if !asAPIError(err, &apiErr) || apiErr.StatusCode != http.StatusInternalServerError || apiErr.Message != tc.message || apiErr.Type != "server_error" {
					t.Fatalf("err = %v, want a 500 %q", err, tc.message)
				}
			})
		}
	}
	reqs := waitLines(t, e.logs, "request", 4)
	for _, l := range reqs {
		if l["status"] != 500.0 || l["error_code"] != "invalid_upstream_answer" {
			t.Errorf("statistics line: %v", l)
		}
	}
}

// preserveChatConfig sends the client's body as it is.
const preserveChatConfig = `
route_type: preserve
auth: {header_name: Authorization, header_value: Bearer KEY}
logging: {log_statistics: true}
model:
  provider: openai
  options: {upstream_url: UPSTREAM/v1/chat/completions}
`

// X-Kong-LLM-Model names the body's model in preserve mode, and is sent
// to a client that asks with Kong-Debug even when model_name_header is off
// (normalize-json-response.lua).
func TestModelHeaderInPreserveAndDebug(t *testing.T) {
	preserve := newEnv(t, preserveChatConfig)
	off := newEnv(t, seedConfig+"model_name_header: false\n")
	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	tests := []struct {
		name    string
		env     *env
		path    string
		headers []string
		want    string
	}{
		{"preserve names the body model", preserve, "/v1/chat/completions", nil, "openai/gpt-4o-mini"},
		{"model_name_header false", off, "/gpt-4o-mini/chat/completions", nil, ""},
		{"Kong-Debug asks for it", off, "/gpt-4o-mini/chat/completions", []string{"Kong-Debug", "1"}, "openai/gpt-4o-mini"},
		{"not on an error", off, "/gpt-4o-mini/chat/completions", []string{"Kong-Debug", "1", "X-Stub-Status", "429"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, got := tc.env.post(t, tc.path, body, tc.headers...)
			if h := res.Header.Get("X-Kong-LLM-Model"); h != tc.want {
				t.Errorf("X-Kong-LLM-Model = %q, want %q (status %d %s)", h, tc.want, res.StatusCode, got)
			}
		})
	}
}

// A client that accepts gzip gets the upstream's gzip answer (Kong answers
// gzip too), whose usage is still read; a stream stays uncompressed; an
// SDK that does not ask gets plain JSON.
func TestGzipAnswer(t *testing.T) {
	e := newEnv(t, seedConfig)
	res, raw := e.post(t, "/gpt-4o/chat/completions", chatBody, "Accept-Encoding", "gzip", "X-Stub-Gzip", "1")
	if res.StatusCode != 200 || res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("status %d, Content-Encoding %q", res.StatusCode, res.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	var answer openai.ChatCompletion
	if err != nil || json.Unmarshal(plain, &answer) != nil || len(answer.Choices) != 1 {
		t.Fatalf("gzip answer does not decode to a completion: %v %q", err, plain)
	}
	if got := e.stub.Last().Header.Get("Accept-Encoding"); got != "gzip" {
		t.Errorf("upstream Accept-Encoding = %q", got)
	}
	l := waitLines(t, e.logs, "request", 1)[0]
	if path(l, "ai.proxy.usage.total_tokens") == nil || path(l, "ai.proxy.meta.response_model") != "gpt-4o" {
		t.Errorf("usage of a gzip answer not read: %v", l)
	}

	res, raw = e.post(t, "/gpt-4o/chat/completions", `{"stream":true,"messages":[{"role":"user","content":"hi"}]}`, "Accept-Encoding", "gzip", "X-Stub-Gzip", "1")
	if res.Header.Get("Content-Encoding") != "" || !strings.Contains(raw, "data: [DONE]") {
		t.Errorf("stream: Content-Encoding %q, body %q", res.Header.Get("Content-Encoding"), raw)
	}

	client := e.client("gpt-4o", option.WithHeader("X-Stub-Gzip", "1"))
	got, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: userMessage("hi")})
	if err != nil || len(got.Choices) != 1 {
		t.Fatalf("SDK: %v", err)
	}
	if !bytes.Contains([]byte(got.RawJSON()), []byte(`"choices"`)) {
		t.Errorf("SDK answer: %s", got.RawJSON())
	}
}

// An upstream whose error echoes the request's credentials (header or
// query) does not hand the upstream key to the client.
func TestUpstreamErrorBodyRedacted(t *testing.T) {
	query := newEnv(t, `
route_type: llm/v1/chat
auth: {param_name: api-key, param_value: KEY, param_location: query}
model: {provider: openai, name: "$(uri_captures.model)", options: {upstream_url: UPSTREAM/v1/chat/completions}}
`)
	for name, e := range map[string]*env{"header": newEnv(t, seedConfig), "query": query} {
		t.Run(name, func(t *testing.T) {
			client := e.client("gpt-4o", option.WithHeader("X-Stub-Answer", "echo-auth"))
			_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: userMessage("hi")})
			var apiErr *openai.Error
			if !asAPIError(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
				t.Fatalf("err = %v, want the upstream's 401", err)
			}
			if raw := apiErr.RawJSON(); strings.Contains(raw, upstreamKey) || !strings.Contains(raw, "[REDACTED]") {
				t.Errorf("error relayed to the client: %s", raw)
			}
		})
	}
}

// Statistics as Kong logs them: the request payload is the body sent
// upstream; a stream's response payload is the assembled answer; a stream
// without usage gets Kong's estimate, marked as one; real counts stay.
func TestStreamStatisticsAndPayloads(t *testing.T) {
	e := newEnv(t, costConfig)
	stream := `{"stream":true,"messages":[{"role":"user","content":"hi"}]}`
	_, _ = e.post(t, "/gpt-4o/chat/completions", stream, "X-Stub-Answer", "no-usage")
	_, _ = e.post(t, "/gpt-4o/chat/completions", stream)
	reqs := waitLines(t, e.logs, "request", 2)

	noUsage := reqs[0]
	// "hi": 1 word x 1.8 -> 2; "tok0 tok1 tok2 tok3 tok4" stripped: 24 bytes / 4 -> 6.
	for p, want := range map[string]any{
		"ai.proxy.usage.prompt_tokens": 2.0, "ai.proxy.usage.completion_tokens": 6.0, "ai.proxy.usage.total_tokens": 8.0,
		"ai.proxy.usage.estimated": true, "ai.proxy.usage.cost": (2*2.5 + 6*10) / 1e6,
	} {
		if got := path(noUsage, p); got != want {
			t.Errorf("stream without usage: %s = %v, want %v", p, got, want)
		}
	}
	req, _ := path(noUsage, "ai.proxy.payload.request").(string)
	if !strings.Contains(req, `"model":"gpt-4o"`) || req == stream {
		t.Errorf("request payload is not the upstream body: %q", req)
	}
	resp, _ := path(noUsage, "ai.proxy.payload.response").(string)
	var answer openai.ChatCompletion
	if json.Unmarshal([]byte(resp), &answer) != nil || len(answer.Choices) != 1 || answer.Choices[0].Message.Content != "tok0 tok1 tok2 tok3 tok4 " {
		t.Errorf("stream response payload = %q", resp)
	}

	withUsage := reqs[1]
	if path(withUsage, "ai.proxy.usage.estimated") != nil || path(withUsage, "ai.proxy.usage.completion_tokens") != 5.0 {
		t.Errorf("stream with usage: %v", path(withUsage, "ai.proxy.usage"))
	}
}
