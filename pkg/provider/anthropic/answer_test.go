package anthropic

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/anthropicstub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// roundTrip prepares body for the stub's model and sends it as the proxy
// would: to the stub's URL with the configured key header.
func roundTrip(t testing.TB, s *anthropicstub.Server, body string) *http.Response {
	t.Helper()
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	var in struct {
		Model  string `json:"model"`
		Stream bool   `json:"stream"`
	}
	_ = json.Unmarshal([]byte(body), &in)
	u, _ := url.Parse(ts.URL + "/v1/messages")
	up, err := (&Driver{}).Prepare(&provider.Call{Plugin: plugin(), Model: in.Model, Stream: in.Stream, Body: []byte(body), Upstream: u})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, up.URL.String(), nil)
	req.Header.Set("x-api-key", s.Key)
	req.Header.Set("Authorization", "Bearer client-secret-must-not-pass")
	res, err := up.Transport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func readJSON(t testing.TB, res *http.Response) map[string]any {
	t.Helper()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return m
}

func user(model string) string {
	return `{"model":"` + model + `","messages":[{"role":"user","content":"Hi"}]}`
}

func TestAnswers(t *testing.T) {
	cases := []struct {
		model string
		want  map[string]string // path in the completion -> JSON
	}{
		{"hello", map[string]string{"choices.0.message.content": `"Hello from hello."`, "choices.0.finish_reason": `"stop"`,
			"usage": `{"completion_tokens":9,"prompt_tokens":25,"total_tokens":34}`, "model": `"hello"`, "object": `"chat.completion"`}},
		{"stub-tools", map[string]string{"choices.0.message.content": `"Let me check both cities."`, "choices.0.finish_reason": `"tool_calls"`,
			"choices.0.message.tool_calls": `[{"function":{"arguments":"{\"city\":\"Paris\",\"unit\":\"celsius\"}","name":"get_weather"},"id":"toolu_01","type":"function"},{"function":{"arguments":"{\"city\":\"Tokyo\",\"unit\":\"celsius\"}","name":"get_weather"},"id":"toolu_02","type":"function"}]`}},
		{"stub-thinking", map[string]string{"choices.0.message.reasoning_content": `"The user greets me. I should greet back."`,
			"choices.0.message.thinking_blocks": `[{"signature":"EqQBCkYIBxgCKkBsignature==","thinking":"The user greets me. I should greet back.","type":"thinking"}]`}},
		{"stub-cache", map[string]string{"usage": `{"completion_tokens":7,"prompt_tokens":1212,"prompt_tokens_details":{"cache_creation_tokens":200,"cached_tokens":1000},"total_tokens":1219}`}},
		{"stub-length", map[string]string{"choices.0.finish_reason": `"length"`}},
		{"stub-refusal", map[string]string{"choices.0.finish_reason": `"content_filter"`}},
	}
	for _, c := range cases {
		s := anthropicstub.New("")
		res := roundTrip(t, s, user(c.model))
		m := readJSON(t, res)
		if res.StatusCode != 200 || !strings.HasPrefix(m["id"].(string), "chatcmpl-") {
			t.Fatalf("%s: %d %v", c.model, res.StatusCode, m)
		}
		for p, want := range c.want {
			if got := js(at(m, p)); got != want {
				t.Errorf("%s %s:\n got %s\nwant %s", c.model, p, got, want)
			}
		}
		h := s.Last().Header
		if h.Get("anthropic-version") != "2023-06-01" || h.Get("Authorization") != "" || h.Get("x-api-key") != s.Key {
			t.Errorf("%s: headers sent %v", c.model, h)
		}
	}
}

func at(m any, path string) any {
	for _, k := range strings.Split(path, ".") {
		switch v := m.(type) {
		case map[string]any:
			m = v[k]
		case []any:
			i := int(k[0] - '0')
			if i >= len(v) {
				return nil
			}
			m = v[i]
		default:
			return nil
		}
	}
	return m
}

// Kong's 03-anthropic_integration_spec.lua scenarios, on its fixtures.
func TestKongScenarios(t *testing.T) {
	fixture := func(name string) string {
		b, err := os.ReadFile("testdata/kong/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cases := []struct {
		name, file, ctype string
		status            int
		wantStatus        int
		want              map[string]string
	}{
		{"good request", "good.json", "application/json", 200, 200, map[string]string{
			"choices.0.message.content": `"The sum of 1 + 1 is 2."`, "choices.0.message.role": `"assistant"`,
			"model": `"claude-2.1"`, "object": `"chat.completion"`, "choices.0.finish_reason": `"stop"`}},
		{"unauthorized", "unauthorized.json", "application/json", 401, 401, map[string]string{
			"error.type": `"authentication_error"`, "error.message": `"Invalid API Key"`, "error.code": `"authentication_error"`}},
		{"internal server error (html)", "internal_server_error.html", "text/html", 500, 500, map[string]string{
			"error.type": `"server_error"`, "error.message": `"Anthropic answered 500 Internal Server Error"`}},
		// Kong: 500 "transformation failed ...: 'content' not in
		// anthropic://llm/v1/chat response"; here a 502, the upstream's fault.
		{"bad upstream response", "bad_upstream_response.json", "application/json", 200, 502, map[string]string{
			"error.message": `"Anthropic's answer could not be read: it has no content"`}},
		// Kong: usage is the string "no usage data returned from upstream";
		// here no usage member.
		{"no usage", "no_usage_response.json", "application/json", 200, 200, map[string]string{"usage": `null`}},
		// Kong: usage {}; here zero counts.
		{"malformed usage", "malformed_usage_response.json", "application/json", 200, 200, map[string]string{
			"usage": `{"completion_tokens":0,"prompt_tokens":0,"total_tokens":0}`}},
		{"bad request", "bad_request.json", "application/json", 400, 400, map[string]string{
			"error.type": `"invalid_request_error"`, "error.message": `"Invalid request"`}},
	}
	for _, c := range cases {
		s := anthropicstub.New("")
		s.Next(anthropicstub.Scenario{Raw: &anthropicstub.Raw{Status: c.status, ContentType: c.ctype, Body: fixture(c.file)}})
		res := roundTrip(t, s, fixture("request_good.json")[:1]+`"model":"claude-2.1",`+fixture("request_good.json")[1:])
		m := readJSON(t, res)
		if res.StatusCode != c.wantStatus {
			t.Errorf("%s: status %d, want %d", c.name, res.StatusCode, c.wantStatus)
		}
		for p, want := range c.want {
			if got := js(at(m, p)); got != want {
				t.Errorf("%s %s: got %s, want %s", c.name, p, got, want)
			}
		}
	}
}

func TestUpstreamErrors(t *testing.T) {
	for _, c := range []struct {
		model              string
		status             int
		typ, code, retryAt string
	}{
		{"stub-error-401", 401, "authentication_error", "authentication_error", ""},
		{"stub-error-429", 429, "rate_limit_error", "rate_limit_error", "7"},
		{"stub-error-500", 500, "server_error", "", ""},
		{"stub-error-529", 503, "server_error", "overloaded_error", ""},
	} {
		res := roundTrip(t, anthropicstub.New(""), user(c.model))
		m := readJSON(t, res)
		if res.StatusCode != c.status || at(m, "error.type") != c.typ || res.Header.Get("Retry-After") != c.retryAt {
			t.Errorf("%s: %d %v %v", c.model, res.StatusCode, m, res.Header)
		}
		if code, _ := at(m, "error.code").(string); code != c.code {
			t.Errorf("%s: code %q", c.model, code)
		}
	}
}
