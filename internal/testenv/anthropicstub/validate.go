package anthropicstub

import (
	"encoding/json"
	"fmt"

	"github.com/anthropics/anthropic-sdk-go/v2"
)

// validate returns Anthropic's refusal for a body it would refuse, or "".
// It checks what a translator gets wrong: a body the SDK's own params
// cannot read, max_tokens missing, roles other than user and assistant,
// empty text blocks, tool results that do not answer the previous
// assistant turn's tool uses in one user turn, a thinking budget outside
// [1024, max_tokens), tool_choice without tools.
func validate(body map[string]any) string {
	raw, _ := json.Marshal(body)
	var p anthropic.MessageNewParams
	if err := json.Unmarshal(raw, &p); err != nil {
		return "the body is not a Messages request: " + err.Error()
	}
	maxTokens, _ := body["max_tokens"].(float64)
	if maxTokens < 1 {
		return "max_tokens: Field required"
	}
	if _, ok := body["model"].(string); !ok {
		return "model: Field required"
	}
	msgs, _ := body["messages"].([]any)
	if len(msgs) == 0 {
		return "messages: at least one message is required"
	}
	var pending map[string]bool // tool_use ids of the previous assistant turn
	for i, m := range msgs {
		msg, _ := m.(map[string]any)
		role, _ := msg["role"].(string)
		if role != "user" && role != "assistant" {
			return fmt.Sprintf("messages.%d.role: Input should be 'user' or 'assistant'", i)
		}
		if i == 0 && role != "user" {
			return "messages: first message must use the \"user\" role"
		}
		blocks, _ := msg["content"].([]any)
		if s, ok := msg["content"].(string); ok && s != "" {
			blocks = []any{map[string]any{"type": "text", "text": s}}
		}
		if len(blocks) == 0 {
			return fmt.Sprintf("messages.%d: all messages must have non-empty content", i)
		}
		uses := map[string]bool{}
		for j, b := range blocks {
			blk, _ := b.(map[string]any)
			switch blk["type"] {
			case "text":
				if t, _ := blk["text"].(string); t == "" {
					return fmt.Sprintf("messages.%d.content.%d.text: text content blocks must be non-empty", i, j)
				}
			case "tool_use":
				id, _ := blk["id"].(string)
				uses[id] = true
				if _, ok := blk["input"].(map[string]any); !ok {
					return fmt.Sprintf("messages.%d.content.%d.tool_use.input: Input should be a valid dictionary", i, j)
				}
			case "tool_result":
				id, _ := blk["tool_use_id"].(string)
				if role != "user" || !pending[id] {
					return fmt.Sprintf("messages.%d.content.%d: unexpected `tool_use_id` found in `tool_result` blocks: %s. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.", i, j, id)
				}
				delete(pending, id)
			case "thinking":
				if s, _ := blk["signature"].(string); s == "" || role != "assistant" {
					return fmt.Sprintf("messages.%d.content.%d.thinking.signature: Field required", i, j)
				}
			}
		}
		if len(pending) > 0 {
			for id := range pending {
				return fmt.Sprintf("messages.%d: `tool_use` ids were found without `tool_result` blocks immediately after: %s", i, id)
			}
		}
		pending = nil
		if role == "assistant" && len(uses) > 0 {
			pending = uses
		}
	}
	if th, ok := body["thinking"].(map[string]any); ok && th["type"] == "enabled" {
		budget, _ := th["budget_tokens"].(float64)
		if budget < 1024 || budget >= maxTokens {
			return "thinking.budget_tokens: must be >= 1024 and less than max_tokens"
		}
	}
	if _, ok := body["tool_choice"]; ok {
		if tools, _ := body["tools"].([]any); len(tools) == 0 {
			return "tool_choice: may only be specified while providing tools"
		}
	}
	return ""
}
