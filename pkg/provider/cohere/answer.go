package cohere

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

// Answer is a v2 chat answer.
type Answer struct {
	ID           string        `json:"id"`
	FinishReason string        `json:"finish_reason"`
	Message      AnswerMessage `json:"message"`
	Usage        *Usage        `json:"usage"`
}

// AnswerMessage is the assistant's message in an answer.
type AnswerMessage struct {
	Role      string     `json:"role"`
	Content   []Part     `json:"content"`
	ToolPlan  string     `json:"tool_plan"`
	ToolCalls []ToolCall `json:"tool_calls"`
}

// Usage is v2's usage: billed units and (all) tokens.
type Usage struct {
	BilledUnits *Units `json:"billed_units"`
	Tokens      *Units `json:"tokens"`
}

// Units counts input and output tokens.
type Units struct {
	InputTokens  float64 `json:"input_tokens"`
	OutputTokens float64 `json:"output_tokens"`
}

// usage is OpenAI's usage from v2's: the billed units, which is what a
// budget and a price table count, else the token counts.
func (u *Usage) usage() *chat.Usage {
	if u == nil {
		return nil
	}
	n := u.BilledUnits
	if n == nil || (n.InputTokens == 0 && n.OutputTokens == 0) {
		n = u.Tokens
	}
	if n == nil {
		return nil
	}
	return chat.NewUsage(int(n.InputTokens), 0, 0, int(n.OutputTokens))
}

// finish maps v2's finish reasons to OpenAI's.
func finish(reason string, calls int) string {
	switch {
	case reason == "TOOL_CALL" || calls > 0:
		return chat.FinishToolCalls
	case reason == "MAX_TOKENS":
		return chat.FinishLength
	}
	return chat.FinishStop // COMPLETE, STOP_SEQUENCE
}

// ToCompletion translates a non-streamed answer. The tool plan, when
// there is no other text, is the content (the text before the calls).
func ToCompletion(body []byte, model string) ([]byte, error) {
	var a Answer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("cohere answer is not JSON: %w", err)
	}
	if a.FinishReason == "ERROR" {
		return nil, fmt.Errorf("cohere ended the answer with an error")
	}
	var text, thinking strings.Builder
	for _, p := range a.Message.Content {
		switch p.Type {
		case "text":
			text.WriteString(p.Text)
		case "thinking":
			thinking.WriteString(p.Thinking)
		}
	}
	s := text.String()
	if s == "" {
		s = a.Message.ToolPlan
	}
	msg := chat.AnswerMessage{Role: "assistant", Content: &s, ReasoningContent: thinking.String()}
	for _, tc := range a.Message.ToolCalls {
		args := tc.Function.Arguments
		if args == "" {
			args = "{}"
		}
		msg.ToolCalls = append(msg.ToolCalls, chat.ToolCall{ID: tc.ID, Type: "function",
			Function: chat.FunctionCall{Name: tc.Function.Name, Arguments: args}})
	}
	c := chat.Completion{ID: chat.NewID(), Created: chat.Now(), Model: model,
		Choices: []chat.Choice{{Message: msg, FinishReason: finish(a.FinishReason, len(msg.ToolCalls))}},
		Usage:   a.Usage.usage()}
	if c.Usage == nil {
		c.Usage = chat.NewUsage(0, 0, 0, 0)
	}
	return c.Marshal(), nil
}
