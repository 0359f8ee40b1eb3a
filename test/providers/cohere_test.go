package providers

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/coherestub"
)

// Cohere: Kong's config (a bearer key, upstream_url naming /v1/chat)
// served by v2 chat; non-streamed, streamed in lockstep, a tool-call round
// trip with arguments in pieces, errors before and after the first byte,
// and Cohere's billed units in the statistics.
func TestCohere(t *testing.T) {
	c := newCompat(t)
	cl := c.client("cohere")

	res, err := cl.Chat.Completions.New(ctx30(t), openai.ChatCompletionNewParams{Model: "command-a-03-2025",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("be brief"), openai.UserMessage("hi")},
		TopP:     openai.Float(0.9), Stop: openai.ChatCompletionNewParamsStopUnion{OfString: openai.String("END")}})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Choices[0].Message.Content; got != strings.Join(coherestub.Pieces, "") || res.Choices[0].FinishReason != "stop" ||
		res.Usage.PromptTokens != coherestub.BilledInput || res.Usage.CompletionTokens != coherestub.BilledOutput {
		t.Errorf("answer %q %s %+v", got, res.Choices[0].FinishReason, res.Usage)
	}
	last := c.cohere.Last()
	var sent map[string]any
	_ = json.Unmarshal(last.Body, &sent)
	msgs, _ := sent["messages"].([]any)
	if last.Path != "/v2/chat" || last.Header.Get("Authorization") != "Bearer "+cohereKey || sent["p"] != 0.9 || sent["k"] != 20.0 ||
		len(msgs) != 2 || msgs[0].(map[string]any)["role"] != "system" || sent["stop_sequences"].([]any)[0] != "END" {
		t.Errorf("Cohere got %s %s", last.Path, last.Body)
	}

	stream := cl.Chat.Completions.NewStreaming(ctx30(t), openai.ChatCompletionNewParams{Model: "command-a+lockstep", Messages: user("hi"),
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}})
	var pieces []string
	var usage openai.CompletionUsage
	var finish string
	for stream.Next() {
		ch := stream.Current()
		if len(ch.Choices) > 0 {
			if ch.Choices[0].Delta.Content != "" {
				pieces = append(pieces, ch.Choices[0].Delta.Content)
			}
			if ch.Choices[0].FinishReason != "" {
				finish = ch.Choices[0].FinishReason
			}
		}
		if ch.Usage.TotalTokens > 0 {
			usage = ch.Usage
		}
		c.cohere.Step()
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(pieces, "|") != strings.Join(coherestub.Pieces, "|") || finish != "stop" || usage.PromptTokens != coherestub.BilledInput {
		t.Errorf("streamed %q finish %q usage %+v", pieces, finish, usage)
	}

	acc := openai.ChatCompletionAccumulator{}
	stream = cl.Chat.Completions.NewStreaming(ctx30(t), openai.ChatCompletionNewParams{Model: "command-a+tools", Messages: user("weather and time in Paris?"), Tools: weatherTools()})
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	msg := acc.Choices[0].Message
	if len(msg.ToolCalls) != 2 || acc.Choices[0].FinishReason != "tool_calls" || msg.Content != strings.Join(coherestub.Plan, "") {
		t.Fatalf("accumulated %+v", acc.Choices[0])
	}
	for i, want := range coherestub.ToolCalls {
		tc := msg.ToolCalls[i]
		if tc.ID != want.ID || tc.Function.Name != want.Name || tc.Function.Arguments != strings.Join(want.Args, "") {
			t.Errorf("call %d: %+v", i, tc)
		}
	}
	next := append(user("weather and time in Paris?"), msg.ToParam(),
		openai.ToolMessage("18 degrees", msg.ToolCalls[0].ID), openai.ToolMessage("14:00", msg.ToolCalls[1].ID))
	_, err = cl.Chat.Completions.New(ctx30(t), openai.ChatCompletionNewParams{Model: "command-a", Messages: next, Tools: weatherTools()})
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Messages []struct {
			Role       string `json:"role"`
			Content    any    `json:"content"`
			ToolPlan   string `json:"tool_plan"`
			ToolCallID string `json:"tool_call_id"`
			ToolCalls  []struct {
				ID       string `json:"id"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"messages"`
		Tools []struct {
			Type     string `json:"type"`
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		} `json:"tools"`
	}
	_ = json.Unmarshal(c.cohere.Last().Body, &back)
	if len(back.Messages) != 4 || back.Messages[1].ToolPlan != strings.Join(coherestub.Plan, "") || back.Messages[1].ToolCalls[1].ID != "get_time_cd34" ||
		back.Messages[2].Role != "tool" || back.Messages[2].ToolCallID != "get_weather_ab12" || back.Messages[3].Content != "14:00" ||
		len(back.Tools) != 2 || back.Tools[0].Function.Name != "get_weather" {
		t.Errorf("round trip sent %s", c.cohere.Last().Body)
	}

	checkFailures(t, cl, "command-a", "cohere")

	lines := c.statsLines(t, "cohere", 2)
	if len(lines) < 2 || stat(lines[1], "ai.proxy.usage.prompt_tokens") != float64(coherestub.BilledInput) || stat(lines[1], "ai.proxy.meta.provider_name") != "cohere" {
		t.Errorf("statistics lines: %v", lines)
	}
}
