package lambda_test

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/anthropicstub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/rie"
)

// TestAnthropicStreamThroughEmulator streams an Anthropic answer through
// the real bootstrap under the Runtime Interface Emulator: the Function URL
// event's OpenAI request reaches the Anthropic stub as a Messages request,
// and the SSE answer comes back as OpenAI chunks.
func TestAnthropicStreamThroughEmulator(t *testing.T) {
	s := anthropicstub.New("")
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	cfg := fmt.Sprintf(`route_type: llm/v1/chat
auth: {header_name: x-api-key, header_value: %q}
model:
  provider: anthropic
  name: "$(uri_captures.model)"
  options: {anthropic_version: "2023-06-01", upstream_url: %q}
`, s.Key, srv.URL+"/v1/messages")
	path := filepath.Join(t.TempDir(), "aiproxy.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	emu := rie.StartT(t, bootstrap, functionEnv(path, "STREAM"))
	resp := invokeEmulator(t, emu, readEvent(t, "function-url-stream.json"))
	checkAnswer(t, resp, expectation{"stream", 200, "text/event-stream", []string{
		`"role":"assistant"`, `"content":"Hello from "`, `"content":"gpt-4o-mini"`, `"finish_reason":"stop"`, "data: [DONE]\n\n"}})
	last := s.Last()
	if last.Path != "/v1/messages" || last.Header.Get("anthropic-version") != "2023-06-01" || last.Decoded["stream"] != true {
		t.Fatalf("the stub got %s %v %s", last.Path, last.Header, last.Body)
	}
}
