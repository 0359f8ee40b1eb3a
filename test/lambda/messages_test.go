package lambda_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/rie"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
)

const messagesKey = "client-key-0123456789"

// messagesEvent turns a sample event into a Messages request to
// /anthropic/v1/messages (with prefix before it, an HTTP API stage's) with
// the client key in x-api-key.
func messagesEvent(t *testing.T, name, prefix, body string) []byte {
	t.Helper()
	return apiEvent(t, name, "POST", prefix, "/anthropic/v1/messages", body,
		map[string]string{"x-api-key": messagesKey, "anthropic-version": "2023-06-01"})
}

// TestMessagesThroughEmulator sends Anthropic Messages requests through
// the real bootstrap under the emulator, on each edge: a streamed answer
// (Function URL and REST streaming) in Anthropic's events, a buffered one
// (HTTP API) as an Anthropic message, and errors in Anthropic's shape.
func TestMessagesThroughEmulator(t *testing.T) {
	up := stub.New()
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	doc := `
_format_version: "3.0"
routes:
  - name: claude
    paths: ["/anthropic"]
plugins:
  - name: key-auth
  - name: ai-proxy
    config:
      route_type: llm/v1/chat
      llm_format: anthropic
      auth: {header_name: Authorization, header_value: Bearer test-key}
      model_aliases: {claude-sonnet-4-5-20250929: gpt-4o-mini}
      model:
        provider: openai
        options: {upstream_url: ` + srv.URL + `/v1/chat/completions}
consumers:
  - username: cc
    keyauth_credentials: [{key: ` + messagesKey + `}]
`
	cfg := filepath.Join(t.TempDir(), "aiproxy.yaml")
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	emu := rie.StartT(t, bootstrap, functionEnv(cfg, "STREAM"))
	streamBody := `{"model":"claude-sonnet-4-5-20250929","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}`
	jsonBody := `{"model":"claude-sonnet-4-5-20250929","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}`
	streamed := []string{"event: message_start\n", "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"tok0 \"}}",
		`"stop_reason":"end_turn"`, "event: message_stop\n"}
	tests := []struct {
		name, event, prefix, body string
		want                      expectation
	}{
		{"function url stream", "function-url-stream.json", "", streamBody, expectation{"stream", 200, "text/event-stream", streamed}},
		{"rest streaming", "rest-api.json", "", streamBody, expectation{"stream", 200, "text/event-stream", streamed}},
		{"http api buffered", "http-api-stage.json", "/prod", jsonBody, expectation{"proxy", 200, "application/json",
			[]string{`"type":"message"`, `"content":[{"type":"text","text":"tok0 tok1 tok2 tok3 tok4 "}]`, `"stop_reason":"end_turn"`}}},
		{"unknown model", "function-url.json", "", `{"model":"claude-opus-4","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`,
			expectation{"stream", 400, "application/json", []string{`{"type":"error","error":{"type":"invalid_request_error","message":"model \"claude-opus-4\" is not configured`}}},
		{"bad json", "http-api-stage.json", "/prod", `{"model":`, expectation{"proxy", 400, "application/json", []string{`{"type":"error","error":{"type":"invalid_request_error"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := invokeEmulator(t, emu, messagesEvent(t, tt.event, tt.prefix, tt.body))
			checkAnswer(t, resp, tt.want)
			if strings.Contains(string(resp.Body), "test-key") || strings.Contains(string(resp.Body), messagesKey) {
				t.Fatalf("a key in the answer: %s", resp.Body)
			}
		})
	}
	if h := up.Last().Header; h.Get("X-Api-Key") != "" || h.Get("Authorization") != "Bearer test-key" {
		t.Fatalf("upstream headers %v", h)
	}
}

// TestMessagesFailoverThroughEmulator: ai-proxy-advanced with llm_format:
// anthropic under the emulator; the primary target fails before its first
// byte (a 503, or an error inside its 200 stream) and the secondary's
// answer reaches the client in Anthropic's events, streamed and buffered.
func TestMessagesFailoverThroughEmulator(t *testing.T) {
	for _, fault := range []string{"fault-503", "fault-stream-error-first"} {
		t.Run(fault, func(t *testing.T) {
			up, faulty := stub.New(), stub.New()
			faulty.SetFault("gpt-4o-mini", fault)
			mux := http.NewServeMux()
			mux.Handle("/primary/", http.StripPrefix("/primary", faulty))
			mux.Handle("/", up)
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			target := func(weight int, path string) string {
				return `
        - route_type: llm/v1/chat
          weight: ` + strconv.Itoa(weight) + `
          auth: {header_name: Authorization, header_value: Bearer test-key}
          model_aliases: {claude-sonnet-4-5-20250929: gpt-4o-mini}
          model: {provider: openai, options: {upstream_url: ` + srv.URL + path + `/v1/chat/completions}}`
			}
			doc := `
_format_version: "3.0"
routes:
  - name: claude
    paths: ["/anthropic"]
plugins:
  - name: ai-proxy-advanced
    config:
      llm_format: anthropic
      balancer: {algorithm: priority, failover_criteria: [error, timeout, http_503]}
      targets:` + target(100, "/primary") + target(1, "") + "\n"
			cfg := filepath.Join(t.TempDir(), "aiproxy.yaml")
			if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
				t.Fatal(err)
			}
			emu := rie.StartT(t, bootstrap, functionEnv(cfg, "STREAM"))
			streamed := []string{"event: message_start\n", `"text":"tok0 "`, `"stop_reason":"end_turn"`, "event: message_stop\n"}
			for _, tt := range []struct {
				event, prefix, body string
				want                expectation
			}{
				{"function-url-stream.json", "", `{"model":"claude-sonnet-4-5-20250929","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}`,
					expectation{"stream", 200, "text/event-stream", streamed}},
				{"http-api-stage.json", "/prod", `{"model":"claude-sonnet-4-5-20250929","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}`,
					expectation{"proxy", 200, "application/json", []string{`"type":"message"`, `"text":"tok0 tok1 tok2 tok3 tok4 "`}}},
			} {
				resp := invokeEmulator(t, emu, messagesEvent(t, tt.event, tt.prefix, tt.body))
				checkAnswer(t, resp, tt.want)
				if strings.Contains(string(resp.Body), "Overloaded") {
					t.Fatalf("the primary's error reached the client: %s", resp.Body)
				}
			}
			if faulty.Hits("gpt-4o-mini") != 2 || up.Hits("gpt-4o-mini") != 2 {
				t.Fatalf("primary asked %d times, secondary %d; want 2 and 2", faulty.Hits("gpt-4o-mini"), up.Hits("gpt-4o-mini"))
			}
		})
	}
}
