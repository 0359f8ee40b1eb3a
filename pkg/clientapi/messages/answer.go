package messages

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

// Usage is Anthropic's usage object: input_tokens excludes the cached
// prompt tokens, which cache_read/cache_creation count.
type Usage struct {
	InputTokens              int `json:"input_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	OutputTokens             int `json:"output_tokens"`
}

// FromChatUsage splits OpenAI's usage (prompt_tokens includes the cached
// tokens) into Anthropic's.
func FromChatUsage(u *chat.Usage) Usage {
	if u == nil {
		return Usage{}
	}
	out := Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens}
	if d := u.PromptTokensDetails; d != nil {
		out.CacheReadInputTokens, out.CacheCreationInputTokens = d.CachedTokens, d.CacheCreationTokens
		out.InputTokens = max(0, u.PromptTokens-d.CachedTokens-d.CacheCreationTokens)
	}
	return out
}

// StopReason is Anthropic's stop_reason for an OpenAI finish_reason.
func StopReason(finish string) string {
	switch finish {
	case chat.FinishLength:
		return "max_tokens"
	case chat.FinishToolCalls, "function_call":
		return "tool_use"
	case chat.FinishContentFilter:
		return "refusal"
	}
	return "end_turn"
}

// NewID is a fresh message id, "msg_" and 24 hex digits.
func NewID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "msg_" + hex.EncodeToString(b[:])
}

type textBlock struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type toolUseBlock struct {
	Type  string          `json:"type"`
	ID    string          `json:"id"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
}

type thinkingBlock struct {
	Type      string `json:"type"`
	Thinking  string `json:"thinking"`
	Signature string `json:"signature"`
}

type redactedBlock struct {
	Type string `json:"type"`
	Data string `json:"data"`
}

// Answer is an Anthropic message, the non-streamed answer.
type Answer struct {
	ID           string  `json:"id"`
	Type         string  `json:"type"`
	Role         string  `json:"role"`
	Model        string  `json:"model"`
	Content      []any   `json:"content"`
	StopReason   *string `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
	Usage        Usage   `json:"usage"`
}

// completion is what the translation reads of a chat completion.
type completion struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Choices []struct {
		Message      chat.AnswerMessage `json:"message"`
		FinishReason string             `json:"finish_reason"`
	} `json:"choices"`
	Usage *chat.Usage `json:"usage"`
}

// FromCompletion translates a chat completion into an Anthropic message.
// model names the model when the completion does not.
func FromCompletion(body []byte, model string) ([]byte, error) {
	var c completion
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, errors.New("the upstream answer is not a chat completion")
	}
	if len(c.Choices) == 0 {
		return nil, errors.New("the upstream answer has no choices")
	}
	ch := c.Choices[0]
	if c.Model != "" {
		model = c.Model
	}
	stop := StopReason(ch.FinishReason)
	msg := Answer{ID: NewID(), Type: "message", Role: "assistant", Model: model, Content: []any{}, StopReason: &stop, Usage: FromChatUsage(c.Usage)}
	am := ch.Message
	switch {
	case len(am.ThinkingBlocks) > 0:
		for _, tb := range am.ThinkingBlocks {
			if tb.Type == "redacted_thinking" {
				msg.Content = append(msg.Content, redactedBlock{Type: "redacted_thinking", Data: tb.Data})
			} else {
				msg.Content = append(msg.Content, thinkingBlock{Type: "thinking", Thinking: tb.Thinking, Signature: tb.Signature})
			}
		}
	case am.ReasoningContent != "":
		msg.Content = append(msg.Content, thinkingBlock{Type: "thinking", Thinking: am.ReasoningContent})
	}
	if am.Content != nil && *am.Content != "" {
		msg.Content = append(msg.Content, textBlock{Type: "text", Text: *am.Content})
	} else if am.Refusal != nil && *am.Refusal != "" {
		msg.Content = append(msg.Content, textBlock{Type: "text", Text: *am.Refusal})
	}
	for _, tc := range am.ToolCalls {
		msg.Content = append(msg.Content, toolUseBlock{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: toolInput(tc.Function.Arguments)})
	}
	return json.Marshal(msg)
}

// toolInput is a call's arguments as the tool_use input object. Arguments
// that are not a JSON object (a model's broken output) travel as
// {"_raw": "..."} rather than as invalid JSON.
func toolInput(args string) json.RawMessage {
	if args == "" {
		return json.RawMessage("{}")
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(args), &obj) == nil && obj != nil {
		return json.RawMessage(args)
	}
	b, _ := json.Marshal(map[string]string{"_raw": args})
	return b
}
