package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/proxy"
)

func asAPIError(err error, dst **openai.Error) bool { return errors.As(err, dst) }

type openAIError struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Code    *string `json:"code"`
	} `json:"error"`
}

const chatBody = `{"messages":[{"role":"user","content":"hi"}]}`

// Every error the proxy makes itself is OpenAI-shaped with the right status,
// and nothing reaches the upstream.
func TestProxyErrors(t *testing.T) {
	e := newEnv(t, seedConfig)
	denyStream := newEnv(t, strings.Replace(seedConfig, "route_type: llm/v1/chat", "route_type: llm/v1/chat\nresponse_streaming: deny\nmax_request_body_size: 256", 1))
	tests := []struct {
		name    string
		env     *env
		method  string
		path    string
		body    string
		status  int
		code    string
		message string
	}{
		{"no route", e, "POST", "/chat/completions", chatBody, 404, "route_not_found", `no route matches POST "/chat/completions"`},
		{"wrong method", e, "GET", "/gpt-4o/chat/completions", "", 405, "method_not_allowed", "method GET is not allowed on this route"},
		{"malformed JSON", e, "POST", "/gpt-4o/chat/completions", `{"messages":[`, 400, "invalid_prompts", "request body doesn't contain valid prompts"},
		{"empty body", e, "POST", "/gpt-4o/chat/completions", "", 400, "invalid_prompts", "request body doesn't contain valid prompts"},
		{"no prompts", e, "POST", "/gpt-4o/chat/completions", `{"model":"gpt-4o"}`, 400, "invalid_prompts", "request body doesn't contain valid prompts"},
		{"own model", e, "POST", "/gpt-4o/chat/completions", `{"model":"o1","messages":[{"role":"user","content":"hi"}]}`, 400, "model_mismatch", "cannot use own model - must be: gpt-4o"},
		{"whitespace in model", e, "POST", "/gpt%204o/chat/completions", chatBody, 400, "invalid_model", "model name must not contain whitespace or control characters"},
		{"header injection in model", e, "POST", "/gpt%0d%0aX-Evil:%201/chat/completions", chatBody, 400, "invalid_model", "model name must not contain whitespace or control characters"},
		{"model too long", e, "POST", "/" + strings.Repeat("m", 300) + "/chat/completions", chatBody, 400, "invalid_model", "model name is longer than 256 bytes"},
		// Uncleaned, /../chat/completions would route with model "..".
		{"dot segments", e, "POST", "/../chat/completions", chatBody, 404, "route_not_found", `no route matches POST "/../chat/completions"`},
		{"encoded dot segments", e, "POST", "/%2e%2e/chat/completions", chatBody, 404, "route_not_found", `no route matches POST "/../chat/completions"`},
		{"streaming denied", denyStream, "POST", "/gpt-4o/chat/completions", `{"stream":true,"messages":[{"role":"user","content":"hi"}]}`, 400, "streaming_disabled", "response streaming is not enabled for this LLM"},
		{"body too large", denyStream, "POST", "/gpt-4o/chat/completions", `{"messages":[{"role":"user","content":"` + strings.Repeat("a", 300) + `"}]}`, 413, "request_too_large", "request body is larger than 256 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(tt.env.stub.Requests())
			req, _ := http.NewRequest(tt.method, tt.env.proxy.URL+tt.path, strings.NewReader(tt.body))
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var got openAIError
			if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if res.StatusCode != tt.status || got.Error.Code == nil || *got.Error.Code != tt.code || got.Error.Message != tt.message || got.Error.Type == "" {
				t.Errorf("got %d %+v, want %d %s %q", res.StatusCode, got.Error, tt.status, tt.code, tt.message)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if tt.status == 405 && res.Header.Get("Allow") != "POST" {
				t.Errorf("Allow = %q", res.Header.Get("Allow"))
			}
			if n := len(tt.env.stub.Requests()); n != before {
				t.Errorf("the upstream was called")
			}
		})
	}
}

func TestMissingTemplateValues(t *testing.T) {
	e := newEnv(t, `{_format_version: "3.0",
	  routes: [{name: by-header, paths: [/h/chat/completions]}, {name: by-query, paths: [/q/chat/completions]}],
	  plugins: [
	    {name: ai-proxy, route: by-header, config: {route_type: llm/v1/chat, model: {provider: openai, name: "$(headers.x-model)", options: {upstream_url: "UPSTREAM/v1/chat/completions"}}}},
	    {name: ai-proxy, route: by-query, config: {route_type: llm/v1/chat, model: {provider: openai, name: "$(query_params.model)", options: {upstream_url: "UPSTREAM/v1/chat/completions"}}}}]}`)
	for path, want := range map[string]string{
		"/h/chat/completions": "headers key x-model was not provided",
		"/q/chat/completions": "query_params key model was not provided",
	} {
		res, body := e.post(t, path, chatBody)
		if res.StatusCode != 400 || !strings.Contains(body, want) {
			t.Errorf("%s: %d %s", path, res.StatusCode, body)
		}
	}
	if res, _ := e.post(t, "/h/chat/completions", chatBody, "X-Model", "gpt-4o"); res.StatusCode != 200 {
		t.Errorf("with the header: %d", res.StatusCode)
	}
	if res, _ := e.post(t, "/q/chat/completions?model=gpt-4o", chatBody); res.StatusCode != 200 {
		t.Errorf("with the query param: %d", res.StatusCode)
	}
}

func TestUpstreamUnreachableIs502(t *testing.T) {
	closed := stub.ClosedAddr(t)
	e := newEnv(t, strings.Replace(seedConfig, "UPSTREAM", "http://"+closed, 1))
	res, body := e.post(t, "/gpt-4o/chat/completions", chatBody)
	if res.StatusCode != 502 || !strings.Contains(body, `"code":"upstream_unreachable"`) {
		t.Errorf("got %d %s", res.StatusCode, body)
	}
}

func TestUpstreamTimeoutIs504(t *testing.T) {
	e := newEnv(t, seedConfig, func(o *proxy.Options) { o.Transport = proxy.NewTransport(time.Second, 200*time.Millisecond) })
	res, body := e.post(t, "/gpt-4o/chat/completions", chatBody, "X-Stub-Delay", "2s")
	if res.StatusCode != 504 || !strings.Contains(body, `"code":"upstream_timeout"`) {
		t.Errorf("got %d %s", res.StatusCode, body)
	}
}

type failingSource struct{}

func (failingSource) Current(context.Context) (*config.Config, error) {
	return nil, fmt.Errorf("load parameter: %w", config.ErrNoConfig)
}

func TestNoConfigIs503(t *testing.T) {
	e := newEnv(t, seedConfig)
	e.proxy.Config.Handler = proxy.New(failingSource{}, proxy.Options{})
	res, body := e.post(t, "/gpt-4o/chat/completions", chatBody)
	if res.StatusCode != 503 || !strings.Contains(body, `"code":"config_unavailable"`) || res.Header.Get("Retry-After") == "" {
		t.Errorf("got %d %s", res.StatusCode, body)
	}
}

// The client's credentials and cookies never reach the upstream; the
// configured key always does, unless the operator allows an override.
func TestAuthHeaders(t *testing.T) {
	e := newEnv(t, seedConfig)
	_, _ = e.post(t, "/gpt-4o/chat/completions", chatBody, "Authorization", "Bearer client-key", "Cookie", "session=1", "X-Amzn-Trace-Id", "Root=1")
	up := e.stub.Last()
	if up.Header.Get("Authorization") != "Bearer "+upstreamKey || up.Header.Get("Cookie") != "" || up.Header.Get("X-Amzn-Trace-Id") != "" {
		t.Errorf("upstream headers: %v", up.Header)
	}

	o := newEnv(t, strings.Replace(seedConfig, `header_value: "Bearer KEY"`, "header_value: \"Bearer KEY\"\n  allow_override: true", 1))
	_, _ = o.post(t, "/gpt-4o/chat/completions", chatBody, "Authorization", "Bearer client-own")
	if got := o.stub.Last().Header.Get("Authorization"); got != "Bearer client-own" {
		t.Errorf("override: upstream Authorization = %q", got)
	}
	_, _ = o.post(t, "/gpt-4o/chat/completions", chatBody)
	if got := o.stub.Last().Header.Get("Authorization"); got != "Bearer "+upstreamKey {
		t.Errorf("override without client key: upstream Authorization = %q", got)
	}

	q := newEnv(t, `{route_type: llm/v1/chat, auth: {param_name: key, param_value: KEY, param_location: query}, model: {provider: openai, name: "$(uri_captures.model)", options: {upstream_url: "UPSTREAM/v1/chat/completions?api-version=1"}}}`)
	_, _ = q.post(t, "/gpt-4o/chat/completions?key=client", chatBody, "Authorization", "Bearer client-key")
	up = q.stub.Last()
	if !strings.Contains(up.Query, "key="+upstreamKey) || !strings.Contains(up.Query, "api-version=1") || up.Header.Get("Authorization") != "" {
		t.Errorf("query auth: query %q, Authorization %q", up.Query, up.Header.Get("Authorization"))
	}
}

// When the client hangs up, the upstream request is cancelled at once. The
// stub streams in lockstep and is never stepped, so after its first chunk it
// waits: only a cancelled request ends that wait within eventually's 5 s (a
// proxy that left the upstream running would leave it waiting 10 s, then
// count a stall, not a cancellation). No elapsed time is measured.
func TestClientGoneCancelsUpstream(t *testing.T) {
	e := newEnv(t, seedConfig)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", e.proxy.URL+"/gpt-4o/chat/completions", strings.NewReader(`{"stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("X-Stub-Chunks", "100")
	req.Header.Set("X-Stub-Lockstep", "1")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if _, err := res.Body.Read(buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	res.Body.Close()
	eventually(t, "the upstream stream to be cancelled", func() bool { return e.stub.Cancelled() == 1 })
	if n := e.stub.Stalled(); n != 0 {
		t.Errorf("%d upstream streams outlived their client until the stub gave up", n)
	}
}
