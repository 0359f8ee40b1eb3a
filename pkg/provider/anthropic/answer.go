package anthropic

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

// answer is a Messages API response.
type answer struct {
	ID         string          `json:"id"`
	Model      string          `json:"model"`
	Content    *[]contentBlock `json:"content"`
	StopReason string          `json:"stop_reason"`
	Usage      *usage          `json:"usage"`
}

// contentBlock is a response content block (and a stream's
// content_block_start block).
type contentBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	Thinking  string          `json:"thinking"`
	Signature string          `json:"signature"`
	Data      string          `json:"data"`
}

// usage is Anthropic's usage: input_tokens excludes the cache's tokens.
type usage struct {
	InputTokens              int `json:"input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
}

func (u *usage) chat() *chat.Usage {
	return chat.NewUsage(u.InputTokens, u.CacheReadInputTokens, u.CacheCreationInputTokens, u.OutputTokens)
}

// finishReason maps Anthropic's stop_reason to OpenAI's. pause_turn (a
// server tool's long turn paused) ends this answer like end_turn.
func finishReason(stop string, toolCalls bool) string {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return chat.FinishLength
	case "tool_use":
		return chat.FinishToolCalls
	case "refusal":
		return chat.FinishContentFilter
	}
	if toolCalls && stop == "" {
		return chat.FinishToolCalls
	}
	return chat.FinishStop
}

// badAnswer is the error for a 2xx answer that is not a Messages response.
func badAnswer(what string) *provider.Error {
	return &provider.Error{Status: http.StatusBadGateway, Type: provider.TypeServer, Code: "bad_upstream_response",
		Message: "Anthropic's answer could not be read: " + what}
}

// completion translates a Messages response into a chat completion. Text
// blocks are joined as they are (Anthropic splits one text around
// citations); thinking goes to reasoning_content, and the signed blocks to
// thinking_blocks so that a client can replay them.
func completion(body []byte) ([]byte, *provider.Error) {
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, badAnswer("not a JSON object")
	}
	if a.Content == nil {
		return nil, badAnswer("it has no content")
	}
	msg := chat.AnswerMessage{Role: "assistant"}
	var text, reasoning strings.Builder
	hasText := false
	for _, b := range *a.Content {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
			hasText = true
		case "thinking":
			reasoning.WriteString(b.Thinking)
			msg.ThinkingBlocks = append(msg.ThinkingBlocks, chat.ThinkingBlock{Type: "thinking", Thinking: b.Thinking, Signature: b.Signature})
		case "redacted_thinking":
			msg.ThinkingBlocks = append(msg.ThinkingBlocks, chat.ThinkingBlock{Type: "redacted_thinking", Data: b.Data})
		case "tool_use":
			msg.ToolCalls = append(msg.ToolCalls, chat.ToolCall{ID: b.ID, Type: "function",
				Function: chat.FunctionCall{Name: b.Name, Arguments: arguments(b.Input)}})
		}
	}
	if hasText || len(msg.ToolCalls) == 0 {
		s := text.String()
		msg.Content = &s
	}
	msg.ReasoningContent = reasoning.String()
	c := chat.Completion{ID: chat.NewID(), Created: chat.Now(), Model: a.Model,
		Choices: []chat.Choice{{Message: msg, FinishReason: finishReason(a.StopReason, len(msg.ToolCalls) > 0)}}}
	if a.Usage != nil {
		c.Usage = a.Usage.chat()
	}
	return c.Marshal(), nil
}

// arguments is a tool call's input as OpenAI's arguments string: compact
// JSON, "{}" when there is none.
func arguments(input json.RawMessage) string {
	if len(bytes.TrimSpace(input)) == 0 || string(input) == "null" {
		return "{}"
	}
	var b bytes.Buffer
	if json.Compact(&b, input) != nil {
		return "{}"
	}
	return b.String()
}
