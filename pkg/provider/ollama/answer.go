package ollama

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

// Answer is one Ollama /api/chat answer: the whole of a non-streamed one,
// or one NDJSON line of a stream (the last has done: true and the counts).
type Answer struct {
	Model           string  `json:"model"`
	Message         Message `json:"message"`
	Done            bool    `json:"done"`
	DoneReason      string  `json:"done_reason"`
	PromptEvalCount int     `json:"prompt_eval_count"`
	EvalCount       int     `json:"eval_count"`
	Error           string  `json:"error"`
}

// finish maps Ollama's done_reason ("stop", "length", "load", "unload").
func finish(reason string, calls int) string {
	switch {
	case calls > 0:
		return chat.FinishToolCalls
	case reason == "length":
		return chat.FinishLength
	}
	return chat.FinishStop
}

// callID is the call's own id, or a fresh one: older Ollama versions give
// none, and OpenAI clients pair tool results by it.
func callID(id string) string {
	if id != "" {
		return id
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "call_" + hex.EncodeToString(b[:])
}

// arguments is a call's arguments as OpenAI's JSON string.
func arguments(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return "{}"
	}
	return string(raw)
}

// ToCompletion translates a non-streamed answer.
func ToCompletion(body []byte, model string) ([]byte, error) {
	var a Answer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("ollama answer is not JSON: %w", err)
	}
	if a.Error != "" {
		return nil, fmt.Errorf("ollama error: %s", a.Error)
	}
	if a.Model != "" {
		model = a.Model
	}
	text := a.Message.Content
	msg := chat.AnswerMessage{Role: "assistant", Content: &text, ReasoningContent: a.Message.Thinking}
	for _, tc := range a.Message.ToolCalls {
		msg.ToolCalls = append(msg.ToolCalls, chat.ToolCall{ID: callID(tc.ID), Type: "function",
			Function: chat.FunctionCall{Name: tc.Function.Name, Arguments: arguments(tc.Function.Arguments)}})
	}
	c := chat.Completion{ID: chat.NewID(), Created: chat.Now(), Model: model,
		Choices: []chat.Choice{{Message: msg, FinishReason: finish(a.DoneReason, len(msg.ToolCalls))}},
		Usage:   chat.NewUsage(a.PromptEvalCount, 0, 0, a.EvalCount)}
	return c.Marshal(), nil
}
