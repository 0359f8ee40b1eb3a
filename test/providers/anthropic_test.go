package providers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/anthropicstub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/binary"
)

// anthropicConfig is a Kong ai-proxy config for Anthropic, as Kong users
// write it, pointed at the stub. The model comes from the client.
const anthropicConfig = `
route_type: llm/v1/chat
auth: {header_name: x-api-key, header_value: KEY}
logging: {log_statistics: true}
model:
  provider: anthropic
  options: {anthropic_version: "2023-06-01", upstream_url: UPSTREAM/v1/messages}
`

type anthropicEnv struct {
	stub *anthropicstub.Server
	proc *binary.Process
}

func newAnthropic(t *testing.T) *anthropicEnv {
	t.Helper()
	s := anthropicstub.New("")
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	cfg := strings.NewReplacer("UPSTREAM", ts.URL, "KEY", s.Key).Replace(anthropicConfig)
	return &anthropicEnv{stub: s, proc: binary.Serve(t, cfg)}
}

func (e *anthropicEnv) client() *openai.Client {
	c := openai.NewClient(option.WithBaseURL("http://"+e.proc.Addr+"/v1"), option.WithAPIKey("client-key"), option.WithMaxRetries(0))
	return &c
}

func hello() []openai.ChatCompletionMessageParamUnion {
	return []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Hi")}
}

func TestAnthropicNonStreamed(t *testing.T) {
	e := newAnthropic(t)
	var res *http.Response
	c, err := e.client().Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "claude-test", Messages: hello()}, option.WithResponseInto(&res))
	if err != nil {
		t.Fatal(err)
	}
	if c.Choices[0].Message.Content != "Hello from claude-test." || c.Choices[0].FinishReason != "stop" || c.Usage.PromptTokens != 25 || c.Usage.CompletionTokens != 9 {
		t.Fatalf("%+v", c)
	}
	if got := res.Header.Get("X-Kong-LLM-Model"); got != "anthropic/claude-test" {
		t.Errorf("X-Kong-LLM-Model %q", got)
	}
	r := e.stub.Last()
	if r.Header.Get("anthropic-version") != "2023-06-01" || r.Header.Get("x-api-key") != e.stub.Key || r.Header.Get("Authorization") != "" {
		t.Errorf("upstream headers %v", r.Header)
	}
	if js(r.Decoded["system"]) != `[{"text":"Be brief.","type":"text"}]` || r.Decoded["max_tokens"] != 4096.0 {
		t.Errorf("upstream body %s", r.Body)
	}
}

// Streaming is proven by order: the client holds the first chunk before
// the stub has written its second event.
func TestAnthropicStreamedLockstep(t *testing.T) {
	e := newAnthropic(t)
	st := e.client().Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{Model: "hello-lockstep", Messages: hello(),
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}})
	if !st.Next() || st.Current().Choices[0].Delta.Role != "assistant" {
		t.Fatalf("first chunk: %v", st.Err())
	}
	var text string
	var usage openai.CompletionUsage
	var finish string
	// The first chunk came before any Step: now let the rest out (a ping
	// makes no chunk, so steps are not one per chunk).
	for range 32 {
		e.stub.Step()
	}
	for st.Next() {
		ch := st.Current()
		if len(ch.Choices) > 0 {
			text += ch.Choices[0].Delta.Content
			if ch.Choices[0].FinishReason != "" {
				finish = ch.Choices[0].FinishReason
			}
		}
		if ch.Usage.TotalTokens > 0 {
			usage = ch.Usage
		}
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	if text != "Hello from hello." || finish != "stop" || usage.PromptTokens != 25 || usage.CompletionTokens != 9 {
		t.Fatalf("text %q finish %q usage %+v", text, finish, usage)
	}
	line := statsLine(t, e.proc)
	if line["ai.proxy.usage.prompt_tokens"] != 25.0 || line["ai.proxy.usage.completion_tokens"] != 9.0 || line["ai.proxy.meta.provider_name"] != "anthropic" {
		t.Errorf("statistics: %v", line)
	}
}

// The SDK's accumulator reassembles both parallel tool calls, and their
// results go back in one user turn that the stub accepts.
func TestAnthropicToolRoundTrip(t *testing.T) {
	e := newAnthropic(t)
	tools := []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{Name: "get_weather",
		Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}}})}
	params := openai.ChatCompletionNewParams{Model: "stub-tools", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in Paris and Tokyo?")}, Tools: tools}
	st := e.client().Chat.Completions.NewStreaming(context.Background(), params)
	acc := openai.ChatCompletionAccumulator{}
	for st.Next() {
		acc.AddChunk(st.Current())
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	msg := acc.Choices[0].Message
	if len(msg.ToolCalls) != 2 || msg.Content != anthropicstub.ToolsText || acc.Choices[0].FinishReason != "tool_calls" {
		t.Fatalf("%+v", acc.Choices[0])
	}
	for i, want := range anthropicstub.ToolCalls {
		tc := msg.ToolCalls[i]
		var got, exp any
		_ = json.Unmarshal([]byte(tc.Function.Arguments), &got)
		_ = json.Unmarshal([]byte(want[2]), &exp)
		if tc.ID != want[0] || tc.Function.Name != want[1] || js(got) != js(exp) {
			t.Fatalf("call %d: %+v", i, tc)
		}
	}
	params.Messages = append(params.Messages, msg.ToParam(),
		openai.ToolMessage("18C sunny", msg.ToolCalls[0].ID), openai.ToolMessage("22C rain", msg.ToolCalls[1].ID))
	params.Model = "done"
	c, err := e.client().Chat.Completions.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	if c.Choices[0].Message.Content != "Hello from done." {
		t.Fatalf("%+v", c)
	}
	msgs := e.stub.Last().Decoded["messages"].([]any)
	if len(msgs) != 3 || js(msgs[2]) != `{"content":[{"content":[{"text":"18C sunny","type":"text"}],"tool_use_id":"toolu_01","type":"tool_result"},{"content":[{"text":"22C rain","type":"text"}],"tool_use_id":"toolu_02","type":"tool_result"}],"role":"user"}` {
		t.Fatalf("messages %s", js(msgs))
	}
}

func TestAnthropicImages(t *testing.T) {
	e := newAnthropic(t)
	parts := []openai.ChatCompletionContentPartUnionParam{openai.TextContentPart("What is this?"),
		openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: "data:image/png;base64,iVBORw0KGgo="}),
		openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: "https://example.com/cat.jpg"})}
	_, err := e.client().Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "img",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(parts)}})
	if err != nil {
		t.Fatal(err)
	}
	content := e.stub.Last().Decoded["messages"].([]any)[0].(map[string]any)["content"]
	if js(content) != `[{"text":"What is this?","type":"text"},{"source":{"data":"iVBORw0KGgo=","media_type":"image/png","type":"base64"},"type":"image"},{"source":{"type":"url","url":"https://example.com/cat.jpg"},"type":"image"}]` {
		t.Fatalf("content %s", js(content))
	}
}

func TestAnthropicErrorsBeforeFirstByte(t *testing.T) {
	e := newAnthropic(t)
	for _, c := range []struct {
		model      string
		status     int
		retryAfter string
	}{{"stub-error-401", 401, ""}, {"stub-error-429", 429, "7"}, {"stub-error-500", 500, ""}, {"stub-error-529", 503, ""}} {
		var res *http.Response
		_, err := e.client().Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: c.model, Messages: hello()}, option.WithResponseInto(&res))
		var ae *openai.Error
		if !errors.As(err, &ae) || ae.StatusCode != c.status || res.Header.Get("Retry-After") != c.retryAfter {
			t.Errorf("%s: %v", c.model, err)
			continue
		}
		if strings.Contains(ae.RawJSON(), e.stub.Key) {
			t.Errorf("%s: key in the error", c.model)
		}
	}
	// Refused before any call: a field Anthropic has no equivalent for.
	before := len(e.stub.Requests())
	_, err := e.client().Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "x", Messages: hello(), Seed: openai.Int(1)})
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Param != "seed" || len(e.stub.Requests()) != before {
		t.Fatalf("seed: %v", err)
	}
}

func TestAnthropicErrorsAfterFirstByte(t *testing.T) {
	e := newAnthropic(t)
	for _, model := range []string{"stub-error-midstream", "stub-cut"} {
		status, s := postJSON(t, "http://"+e.proc.Addr+"/v1/chat/completions", `{"model":"`+model+`","stream":true,"messages":[{"role":"user","content":"Hi"}]}`)
		if status != 200 || !strings.Contains(s, "Partial ") || !strings.Contains(s, `"error"`) || strings.Contains(s, "[DONE]") {
			t.Errorf("%s: %d %s", model, status, s)
		}
	}
}

// statsLine waits for the binary's statistics line.
func statsLine(t *testing.T, p *binary.Process) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, l := range strings.Split(p.Output.String(), "\n") {
			if !strings.Contains(l, `"msg":"request"`) {
				continue
			}
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil {
				return flatten(m, "", map[string]any{})
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no statistics line:\n%s", p.Output)
	return nil
}

func flatten(m map[string]any, prefix string, out map[string]any) map[string]any {
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			flatten(sub, prefix+k+".", out)
			continue
		}
		out[prefix+k] = v
	}
	return out
}

func js(v any) string { b, _ := json.Marshal(v); return string(b) }
