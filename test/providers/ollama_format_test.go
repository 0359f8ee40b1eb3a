package providers

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/ollamastub"
)

// ollamaFormat drives a route in the ollama format (mistral or llama2)
// end to end: non-streamed, streamed in lockstep, a tool-call round trip
// reassembled by the SDK's accumulator, errors before and after the first
// byte, and the statistics line's usage.
func ollamaFormat(t *testing.T, route, provider string) {
	c := newCompat(t)
	cl := c.client(route)

	res, err := cl.Chat.Completions.New(ctx30(t), openai.ChatCompletionNewParams{Model: "llama3", Messages: user("hi"), MaxTokens: openai.Int(64)})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Choices[0].Message.Content; got != strings.Join(ollamastub.Pieces, "") || res.Choices[0].FinishReason != "stop" ||
		res.Usage.PromptTokens != ollamastub.PromptTokens || res.Usage.CompletionTokens != ollamastub.OutputTokens {
		t.Errorf("answer %q %s %+v", got, res.Choices[0].FinishReason, res.Usage)
	}
	var sent struct {
		Model   string         `json:"model"`
		Stream  bool           `json:"stream"`
		Options map[string]any `json:"options"`
	}
	last := c.ollama.Last()
	_ = json.Unmarshal(last.Body, &sent)
	if last.Header.Get("Authorization") != "Bearer "+ollamaKey || sent.Model != "llama3" || sent.Stream || sent.Options["num_predict"] != 64.0 {
		t.Errorf("Ollama got %s with Authorization %q", last.Body, last.Header.Get("Authorization"))
	}

	// Streamed: line i+1 is written only once the client saw line i.
	stream := cl.Chat.Completions.NewStreaming(ctx30(t), openai.ChatCompletionNewParams{Model: "llama3+lockstep", Messages: user("hi"),
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}})
	var pieces []string
	var usage openai.CompletionUsage
	for stream.Next() {
		ch := stream.Current()
		if len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != "" {
			pieces = append(pieces, ch.Choices[0].Delta.Content)
			c.ollama.Step()
		}
		if ch.Usage.TotalTokens > 0 {
			usage = ch.Usage
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(pieces, "|") != strings.Join(ollamastub.Pieces, "|") || usage.PromptTokens != ollamastub.PromptTokens {
		t.Errorf("streamed %q, usage %+v", pieces, usage)
	}

	// A tool-call round trip: the calls reassembled, then sent back with
	// their results, which Ollama pairs by tool name.
	acc := openai.ChatCompletionAccumulator{}
	stream = cl.Chat.Completions.NewStreaming(ctx30(t), openai.ChatCompletionNewParams{Model: "llama3+tools", Messages: user("weather and time in Paris?"), Tools: weatherTools()})
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	msg := acc.Choices[0].Message
	if len(msg.ToolCalls) != 2 || acc.Choices[0].FinishReason != "tool_calls" || msg.Content != "Let me check." {
		t.Fatalf("accumulated %+v", acc.Choices[0])
	}
	for i, want := range ollamastub.ToolCalls {
		tc := msg.ToolCalls[i]
		if tc.Function.Name != want[0] || tc.Function.Arguments != want[1] || tc.ID == "" {
			t.Errorf("call %d: %+v", i, tc)
		}
	}
	next := append(user("weather and time in Paris?"), msg.ToParam(),
		openai.ToolMessage("18 degrees", msg.ToolCalls[0].ID), openai.ToolMessage("14:00", msg.ToolCalls[1].ID))
	if _, err := cl.Chat.Completions.New(ctx30(t), openai.ChatCompletionNewParams{Model: "llama3", Messages: next, Tools: weatherTools()}); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Messages []struct {
			Role      string `json:"role"`
			Content   string `json:"content"`
			ToolName  string `json:"tool_name"`
			ToolCalls []struct {
				Function struct {
					Name      string          `json:"name"`
					Arguments json.RawMessage `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"messages"`
	}
	_ = json.Unmarshal(c.ollama.Last().Body, &back)
	if len(back.Messages) != 4 || back.Messages[1].ToolCalls[0].Function.Name != "get_weather" ||
		string(back.Messages[1].ToolCalls[0].Function.Arguments) != ollamastub.ToolCalls[0][1] ||
		back.Messages[2].ToolName != "get_weather" || back.Messages[3].ToolName != "get_time" || back.Messages[3].Content != "14:00" {
		t.Errorf("round trip sent %s", c.ollama.Last().Body)
	}

	checkFailures(t, cl, "llama3", "ollama")

	lines := c.statsLines(t, route, 3)
	if len(lines) < 3 || stat(lines[1], "ai.proxy.usage.prompt_tokens") != float64(ollamastub.PromptTokens) ||
		stat(lines[1], "ai.proxy.usage.completion_tokens") != float64(ollamastub.OutputTokens) || stat(lines[1], "ai.proxy.meta.provider_name") != provider {
		t.Errorf("statistics lines: %v", lines)
	}
}
