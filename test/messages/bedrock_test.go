package messages

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/bedrockstub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/binary"
)

// bedrockPlugin routes Claude Code's names to Bedrock stub scenarios.
const bedrockPlugin = `      model_aliases:
        ` + sonnet + `: stub.tools
        ` + haiku + `: stub.text
        claude-cache: stub.cache
        claude-think: stub.reasoning
        claude-midstream: stub.error-midstream
        claude-throttle: stub.error-throttle
        claude-cut: stub.cut
      model:
        provider: bedrock
        options:
          max_tokens: 512
          bedrock: {aws_region: us-east-1}`

type bedrockEnv struct {
	stub *bedrockstub.Server
	proc *binary.Process
	base string
}

// startBedrock runs the Bedrock stub and the binary pointed at it through
// AWS_ENDPOINT_URL_BEDROCK_RUNTIME, signing with the stub's keys.
func startBedrock(t *testing.T, doc string) *bedrockEnv {
	t.Helper()
	srv := bedrockstub.New(bedrockstub.Options{})
	endpoint := srv.ListenT(t)
	p := binary.Serve(t, doc, srv.Env(endpoint)...)
	p.NeverLogs(t, srv.Options().SecretAccessKey, clientKey)
	return &bedrockEnv{stub: srv, proc: p, base: "http://" + p.Addr + "/anthropic"}
}

// TestBedrockNative: Messages to Claude on Bedrock through InvokeModel /
// InvokeModelWithResponseStream, Bedrock's native Anthropic body.
func TestBedrockNative(t *testing.T) {
	e := startBedrock(t, deck(bedrockPlugin))
	c := client(e.base, option.WithHeader("anthropic-beta", "claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14"))

	t.Run("text", func(t *testing.T) {
		m, err := c.Messages.New(ctx(t), ask(haiku, "hello"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(text(m), bedrockstub.Word(0)) || m.Usage.InputTokens != bedrockstub.InputTokens {
			t.Fatalf("answer %+v", m)
		}
		last := e.stub.Last()
		if last.Operation != "InvokeModel" || last.ModelID != "stub.text" {
			t.Fatalf("stub got %s %s", last.Operation, last.ModelID)
		}
		var body map[string]json.RawMessage
		_ = json.Unmarshal(last.Body, &body)
		if _, ok := body["model"]; ok || string(body["anthropic_beta"]) != `["interleaved-thinking-2025-05-14"]` || string(body["max_tokens"]) != "256" ||
			string(body["anthropic_version"]) != `"bedrock-2023-05-31"` {
			t.Fatalf("Bedrock body %s", last.Body)
		}
	})
	t.Run("streamed tools", func(t *testing.T) {
		p := ask(sonnet, "weather and time in Paris?")
		p.Tools = []anthropic.ToolUnionParam{weatherTool}
		m, types := stream(t, c, p)
		if e.stub.Last().Operation != "InvokeModelWithResponseStream" || types[0] != "message_start" || types[len(types)-1] != "message_stop" {
			t.Fatalf("%s, events %v", e.stub.Last().Operation, types)
		}
		var ids []string
		for _, b := range m.Content {
			if b.Type == "tool_use" {
				ids = append(ids, b.ID+" "+b.Name+" "+string(b.Input))
			}
		}
		want := []string{bedrockstub.ToolUseID1 + ` get_weather {"city":"Paris"}`, bedrockstub.ToolUseID2 + ` get_time {"tz":"Europe/Paris"}`}
		if strings.Join(ids, "|") != strings.Join(want, "|") || m.StopReason != "tool_use" || text(m) != "Let me check." {
			t.Fatalf("tool uses %v, stop %s, text %q", ids, m.StopReason, text(m))
		}
		p.Messages = append(p.Messages, m.ToParam(), anthropic.NewUserMessage(
			anthropic.NewToolResultBlock(bedrockstub.ToolUseID1, "sunny", false), anthropic.NewToolResultBlock(bedrockstub.ToolUseID2, "14:00", false)))
		p.Model = haiku
		if _, err := c.Messages.New(ctx(t), p); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(e.stub.Last().Body), `"tool_use_id":"`+bedrockstub.ToolUseID2+`"`) {
			t.Fatalf("tool results not relayed: %s", e.stub.Last().Body)
		}
	})
	t.Run("thinking signed", func(t *testing.T) {
		m, _ := stream(t, c, ask("claude-think", "think"))
		if len(m.Content) == 0 || m.Content[0].Type != "thinking" || m.Content[0].Signature != bedrockstub.ReasoningSignature {
			t.Fatalf("content %+v", m.Content)
		}
	})
	t.Run("cache usage", func(t *testing.T) {
		m, _ := stream(t, c, ask("claude-cache", "cached"))
		if m.Usage.CacheReadInputTokens != 100 || m.Usage.CacheCreationInputTokens != 50 || m.Usage.InputTokens != bedrockstub.InputTokens {
			t.Fatalf("usage %+v", m.Usage)
		}
		waitOutput(t, e.proc, `"prompt_tokens":161`) // 11 + 100 read + 50 written
	})
	t.Run("claude code body", func(t *testing.T) {
		raw := `{"model":"` + haiku + `","max_tokens":100,"stream":false,"messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"}}]}],` +
			`"system":[{"type":"text","text":"You are Claude Code.","cache_control":{"type":"ephemeral"}}],"metadata":{"user_id":"u1"},` +
			`"context_management":{"edits":[]},"output_config":{"effort":"high"},"thinking":{"type":"enabled","budget_tokens":1024}}`
		var m anthropic.Message
		if err := c.Post(ctx(t), "v1/messages", json.RawMessage(raw), &m); err != nil {
			t.Fatal(err)
		}
		body := string(e.stub.Last().Body)
		for _, gone := range []string{`"metadata"`, `"context_management"`, `"output_config"`, `"stream"`, `"model"`} {
			if strings.Contains(body, gone) {
				t.Fatalf("%s reached Bedrock: %s", gone, body)
			}
		}
		if !strings.Contains(body, `"cache_control":{"type":"ephemeral"}`) || !strings.Contains(body, `"budget_tokens":1024`) {
			t.Fatalf("cache_control or thinking lost: %s", body)
		}
	})
	t.Run("count_tokens", func(t *testing.T) {
		n, err := c.Messages.CountTokens(ctx(t), anthropic.MessageCountTokensParams{Model: sonnet,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("one two three"))}})
		if err != nil || n.InputTokens != 3 || e.stub.Last().Operation != "CountTokens" {
			t.Fatalf("count = %+v, %v (%s)", n, err, e.stub.Last().Operation)
		}
	})
	t.Run("throttled", func(t *testing.T) {
		_, err := c.Messages.New(ctx(t), ask("claude-throttle", "hi"))
		if ae := apiError(t, err); ae.StatusCode != 429 || ae.Type() != "rate_limit_error" {
			t.Fatalf("%d %s %s", ae.StatusCode, ae.Type(), ae.Message)
		}
	})
	t.Run("error event on the wire", func(t *testing.T) {
		body := rawPost(t, e.base+"/v1/messages", `{"model":"claude-midstream","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		if !strings.Contains(body, "event: content_block_delta\n") || !strings.Contains(body, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"Bedrock: The model stream was interrupted.\"}}\n\n") ||
			strings.Contains(body, "message_stop") {
			t.Fatalf("stream %q", body)
		}
	})
	for _, model := range []string{"claude-midstream", "claude-cut"} {
		t.Run(model, func(t *testing.T) {
			s := c.Messages.NewStreaming(ctx(t), ask(model, "hi"))
			n := 0
			for s.Next() {
				n++
			}
			if s.Err() == nil || n == 0 {
				t.Fatalf("%d events, err %v: want events, then an error", n, s.Err())
			}
		})
	}
}
