package proxy

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/configsource"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/openai"
)

// The Messages routes' per-request cost next to BenchmarkHandler's chat
// request: the same handler, the same canned-answer transports, a
// Claude Code-sized Messages body.

var benchMessagesBody = []byte(`{"model":"claude-sonnet-4-5-20250929","max_tokens":4096,"system":[{"type":"text","text":"You are Claude Code.","cache_control":{"type":"ephemeral"}}],` +
	`"messages":[{"role":"user","content":[{"type":"text","text":"Print note.txt"}]},{"role":"assistant","content":[{"type":"text","text":"Reading it."},{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"cat note.txt"}}]},` +
	`{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"hello"}]}],` +
	`"tools":[{"name":"Bash","description":"Run a shell command","input_schema":{"type":"object","properties":{"command":{"type":"string"}},"required":["command"]}}],"metadata":{"user_id":"u"}}`)

func benchMessagesConfig(b *testing.B, provider string) *config.Config {
	b.Helper()
	doc := `
route_type: llm/v1/chat
llm_format: anthropic
logging: {log_statistics: true}
auth: {header_name: Authorization, header_value: Bearer bench-key}
model_aliases: {claude-sonnet-4-5-20250929: bench-model}
model:
  provider: ` + provider + `
  options: {upstream_url: "http://upstream.invalid/v1/chat/completions", bedrock: {aws_region: us-east-1}}
`
	cfg, err := config.Parse(context.Background(), []byte(doc), config.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// nativeDriver is a MessagesDriver whose transport answers a canned
// Anthropic message: the proxy's side of the native path, no SDK.
type nativeDriver struct{ answer []byte }

func (d nativeDriver) Prepare(*provider.Call) (provider.Upstream, error) {
	return provider.Upstream{}, provider.Unsupported("", "chat")
}

func (d nativeDriver) PrepareMessages(c *provider.MessagesCall) (provider.Upstream, error) {
	u, _ := url.Parse("http://upstream.invalid/model/" + c.Model + "/invoke")
	return provider.Upstream{URL: u, Transport: nativeAnswer(d)}, nil
}

type nativeAnswer struct{ answer []byte }

func (t nativeAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return provider.JSONResponse(r, http.StatusOK, t.answer), nil
}

func benchMessagesServe(b *testing.B, h http.Handler) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodPost, "http://proxy.local/anthropic/v1/messages", bytes.NewReader(benchMessagesBody))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Api-Key", "client-key")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkHandlerMessagesHub: Messages in, chat out (translated both
// ways), against BenchmarkHandler's canned chat completion.
func BenchmarkHandlerMessagesHub(b *testing.B) {
	opts := benchOptions(cannedTransport{benchAnswer()})
	opts.Drivers = provider.Set{config.ProviderOpenAI: openai.Driver{}}
	benchMessagesServe(b, New(configsource.NewStatic(benchMessagesConfig(b, "openai")), opts))
}

// BenchmarkHandlerMessagesNative: Messages in and out through a native
// driver (as to Bedrock), the policy on the Messages body, usage read from
// Anthropic's answer.
func BenchmarkHandlerMessagesNative(b *testing.B) {
	answer := []byte(`{"id":"msg_1","type":"message","role":"assistant","model":"bench-model","content":[{"type":"text","text":"tok0 ` + strings.Repeat("x", 755) +
		`"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":11,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}`)
	opts := benchOptions(nil)
	opts.Drivers = provider.Set{config.ProviderBedrock: nativeDriver{answer}}
	benchMessagesServe(b, New(configsource.NewStatic(benchMessagesConfig(b, "bedrock")), opts))
}
