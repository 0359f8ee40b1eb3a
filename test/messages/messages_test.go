package messages

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/binary"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
)

const (
	clientKey   = "client-key-0123456789"
	upstreamKey = "sk-upstream-secret-0123"
	// Claude Code's own choices of model name.
	sonnet = "claude-sonnet-4-5-20250929"
	haiku  = "claude-haiku-4-5-20251001"
)

// deck is a decK file with two routes for one Messages plugin: the prefix
// /anthropic (ANTHROPIC_BASE_URL=http://host/anthropic) and the exact path
// /v1/messages (ANTHROPIC_BASE_URL=http://host), key-auth on both. plugin
// is the ai-proxy config's provider part (auth and model), indented six.
func deck(plugin string) string {
	return `
_format_version: "3.0"
routes:
  - name: anthropic-prefix
    paths: ["/anthropic"]
  - name: messages-exact
    paths: ["~/v1/messages(/count_tokens)?$"]
plugins:
  - name: key-auth
    config: {key_names: [apikey]}
  - name: ai-proxy
    config:
      route_type: llm/v1/chat
      llm_format: anthropic
      logging: {log_statistics: true}
` + plugin + `
consumers:
  - username: claude-code
    keyauth_credentials: [{key: ` + clientKey + `}]
`
}

func client(base string, opts ...option.RequestOption) anthropic.Client {
	return anthropic.NewClient(append([]option.RequestOption{option.WithBaseURL(base), option.WithAPIKey(clientKey), option.WithMaxRetries(0)}, opts...)...)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func ask(model string, text string) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{Model: model, MaxTokens: 256,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(text))}}
}

var weatherTool = anthropic.ToolUnionParamOfTool(anthropic.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}}}, "get_weather")

func text(m *anthropic.Message) string {
	var b strings.Builder
	for _, c := range m.Content {
		if c.Type == "text" {
			b.WriteString(c.Text)
		}
	}
	return b.String()
}

func stream(t *testing.T, c anthropic.Client, p anthropic.MessageNewParams) (*anthropic.Message, []string) {
	t.Helper()
	s := c.Messages.NewStreaming(ctx(t), p)
	var m anthropic.Message
	var types []string
	for s.Next() {
		ev := s.Current()
		types = append(types, ev.Type)
		if err := m.Accumulate(ev); err != nil {
			t.Fatalf("accumulate %s: %v", ev.Type, err)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	return &m, types
}

func apiError(t *testing.T, err error) *anthropic.Error {
	t.Helper()
	var ae *anthropic.Error
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want an API error", err)
	}
	return ae
}

// toolTurn runs a tool round trip: the model asks for get_weather, the
// client answers it, the model answers in text.
func toolTurn(t *testing.T, c anthropic.Client, model string, streamed bool, wantID string) {
	t.Helper()
	p := ask(model, "Weather in Paris?")
	p.Tools = []anthropic.ToolUnionParam{weatherTool}
	var m *anthropic.Message
	if streamed {
		m, _ = stream(t, c, p)
	} else {
		var err error
		if m, err = c.Messages.New(ctx(t), p); err != nil {
			t.Fatal(err)
		}
	}
	if m.StopReason != "tool_use" {
		t.Fatalf("stop_reason = %q, want tool_use; %+v", m.StopReason, m.Content)
	}
	var use *anthropic.ContentBlockUnion
	for i := range m.Content {
		if m.Content[i].Type == "tool_use" {
			use = &m.Content[i]
		}
	}
	if use == nil || use.Name != "get_weather" || use.ID != wantID {
		t.Fatalf("no get_weather tool_use %s in %+v", wantID, m.Content)
	}
	var in map[string]string
	if err := json.Unmarshal(use.Input, &in); err != nil || in["city"] != "Paris" {
		t.Fatalf("tool input = %s, want {\"city\":\"Paris\"}", use.Input)
	}
	p.Messages = append(p.Messages, m.ToParam(), anthropic.NewUserMessage(anthropic.NewToolResultBlock(use.ID, "sunny, 21C", false)))
	var final *anthropic.Message
	if streamed {
		final, _ = stream(t, c, p)
	} else {
		var err error
		if final, err = c.Messages.New(ctx(t), p); err != nil {
			t.Fatal(err)
		}
	}
	if got := text(final); got != "It is sunny." || final.StopReason != "end_turn" {
		t.Fatalf("final = %q (%s), want \"It is sunny.\"", got, final.StopReason)
	}
}

// TestHubOpenAI: Messages in, OpenAI chat out, through the chat hub;
// Claude Code's model names aliased.
func TestHubOpenAI(t *testing.T) {
	up := stub.New()
	srv := httptestServer(t, up)
	p := binary.Serve(t, deck(`      auth: {header_name: Authorization, header_value: Bearer `+upstreamKey+`}
      model_aliases: {`+sonnet+`: gpt-4o-mini, `+haiku+`: gpt-4o-nano}
      model:
        provider: openai
        options: {upstream_url: `+srv+`/v1/chat/completions}`))
	for _, base := range []string{"http://" + p.Addr + "/anthropic", "http://" + p.Addr} {
		c := client(base)
		m, err := c.Messages.New(ctx(t), ask(sonnet, "hello"), option.WithQuery("beta", "true"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(text(m), stub.Word(0)) || m.StopReason != "end_turn" || m.Usage.OutputTokens == 0 {
			t.Fatalf("answer = %+v", m)
		}
		last := up.Last()
		if last.Query != "" {
			t.Fatalf("the client's query reached the chat upstream: %s", last.Query)
		}
		if !strings.Contains(string(last.Body), `"model":"gpt-4o-mini"`) || last.Header.Get("Authorization") != "Bearer "+upstreamKey || last.Header.Get("X-Api-Key") != "" {
			t.Fatalf("upstream got %s %v", last.Body, last.Header)
		}
		sm, types := stream(t, c, ask(haiku, "hello"))
		if !strings.HasPrefix(text(sm), stub.Word(0)) || types[0] != "message_start" || types[len(types)-1] != "message_stop" {
			t.Fatalf("streamed %q, events %v", text(sm), types)
		}
		if sm.Usage.OutputTokens == 0 || sm.Usage.InputTokens == 0 {
			t.Fatalf("streamed usage = %+v", sm.Usage)
		}
		if last := up.Last(); !strings.Contains(string(last.Body), `"model":"gpt-4o-nano"`) {
			t.Fatalf("haiku went to %s", last.Body)
		}
	}
	c := client("http://" + p.Addr + "/anthropic")
	t.Run("unknown model", func(t *testing.T) {
		_, err := c.Messages.New(ctx(t), ask("claude-opus-4-1", "hi"))
		ae := apiError(t, err)
		if ae.StatusCode != 400 || ae.Type() != "invalid_request_error" || !strings.Contains(ae.Message, "model_aliases") || !strings.Contains(ae.Message, sonnet) {
			t.Fatalf("%d %s %q", ae.StatusCode, ae.Type(), ae.Message)
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		bad := anthropic.NewClient(option.WithBaseURL("http://"+p.Addr+"/anthropic"), option.WithAPIKey("not-a-key-0000"), option.WithMaxRetries(0))
		_, err := bad.Messages.New(ctx(t), ask(sonnet, "hi"))
		ae := apiError(t, err)
		if ae.StatusCode != 401 || ae.Type() != "authentication_error" {
			t.Fatalf("%d %s %q", ae.StatusCode, ae.Type(), ae.Message)
		}
	})
	t.Run("bearer key", func(t *testing.T) {
		bc := anthropic.NewClient(option.WithBaseURL("http://"+p.Addr+"/anthropic"), option.WithAuthToken(clientKey), option.WithMaxRetries(0))
		if _, err := bc.Messages.New(ctx(t), ask(sonnet, "hi")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("count_tokens refused", func(t *testing.T) {
		_, err := c.Messages.CountTokens(ctx(t), anthropic.MessageCountTokensParams{Model: sonnet,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
		ae := apiError(t, err)
		if ae.StatusCode != 404 || ae.Type() != "not_found_error" {
			t.Fatalf("%d %s %q", ae.StatusCode, ae.Type(), ae.Message)
		}
	})
	t.Run("upstream 429", func(t *testing.T) {
		_, err := c.Messages.New(ctx(t), ask(sonnet, "hi"), option.WithHeader("X-Stub-Status", "429"))
		ae := apiError(t, err)
		if ae.StatusCode != 429 || ae.Type() != "rate_limit_error" || ae.Response.Header.Get("Retry-After") != "7" {
			t.Fatalf("%d %s %q", ae.StatusCode, ae.Type(), ae.Message)
		}
	})
	t.Run("cut mid-stream", func(t *testing.T) {
		s := c.Messages.NewStreaming(ctx(t), ask(sonnet, "hi"), option.WithHeader("X-Stub-Fail-After", "2"))
		for s.Next() {
		}
		if s.Err() == nil {
			t.Fatal("a cut stream ended cleanly")
		}
	})
	if strings.Contains(p.Output.String(), clientKey) || strings.Contains(p.Output.String(), upstreamKey) {
		t.Fatalf("a key in the logs:\n%s", p.Output)
	}
}

// TestHubTools: a tool round trip through the chat hub, streamed and not.
func TestHubTools(t *testing.T) {
	srv, _ := openAITools(t)
	p := binary.Serve(t, deck(`      auth: {header_name: Authorization, header_value: Bearer `+upstreamKey+`}
      model_aliases: {"*": gpt-test}
      model:
        provider: openai
        options: {upstream_url: `+srv.URL+`/v1/chat/completions}`))
	c := client("http://" + p.Addr + "/anthropic")
	toolTurn(t, c, sonnet, false, "call_1")
	toolTurn(t, c, sonnet, true, "call_1")
}

// TestNativeAnthropic: relayed to Anthropic as is, the configured key in
// place of the client's, anthropic-beta forwarded, cache usage counted.
func TestNativeAnthropic(t *testing.T) {
	srv, rec := anthropicUpstream(t, upstreamKey)
	p := binary.Serve(t, deck(`      auth: {header_name: x-api-key, header_value: `+upstreamKey+`}
      model_aliases: {`+sonnet+`: claude-sonnet-4-5, claude-overloaded: claude-overloaded}
      model:
        provider: anthropic
        options: {anthropic_version: "2023-06-01", upstream_url: `+srv.URL+`/v1/messages, max_tokens: 100}`))
	c := client("http://"+p.Addr+"/anthropic", option.WithHeader("anthropic-beta", "interleaved-thinking-2025-05-14"))
	toolTurn(t, c, sonnet, false, "toolu_1")
	toolTurn(t, c, sonnet, true, "toolu_1")
	last := rec.last(t)
	if last.Header.Get("X-Api-Key") != upstreamKey || last.Header.Get("Anthropic-Beta") != "interleaved-thinking-2025-05-14" || last.Header.Get("Anthropic-Version") == "" {
		t.Fatalf("upstream headers %v", last.Header)
	}
	var body map[string]any
	_ = json.Unmarshal(last.Body, &body)
	if body["model"] != "claude-sonnet-4-5" || body["max_tokens"] != float64(100) {
		t.Fatalf("upstream body %s", last.Body)
	}
	m, _ := stream(t, c, ask(sonnet, "hi"))
	if m.Usage.CacheReadInputTokens != 100 || m.Usage.CacheCreationInputTokens != 3 {
		t.Fatalf("usage %+v", m.Usage)
	}
	n, err := c.Messages.CountTokens(ctx(t), anthropic.MessageCountTokensParams{Model: sonnet,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
	if err != nil || n.InputTokens != 42 {
		t.Fatalf("count_tokens = %v, %v", n, err)
	}
	if last := rec.last(t); last.Path != "/v1/messages/count_tokens" || strings.Contains(string(last.Body), "max_tokens") {
		t.Fatalf("count_tokens went to %s with %s", last.Path, last.Body)
	}
	_, err = c.Messages.New(ctx(t), ask("claude-overloaded", "hi"))
	if ae := apiError(t, err); ae.StatusCode != 529 || ae.Type() != "overloaded_error" {
		t.Fatalf("%d %s", ae.StatusCode, ae.Type())
	}
	out := waitOutput(t, p, `"prompt_tokens":114`) // 11 + 100 cached + 3 written
	if strings.Contains(out, clientKey) || strings.Contains(out, upstreamKey) {
		t.Fatalf("a key in the logs:\n%s", out)
	}
}
