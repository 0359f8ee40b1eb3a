package anthropicstub

import (
	"encoding/json"
	"fmt"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/shared"
)

// The wire shapes of answers and stream events. Everything typed comes
// from the SDK (blocks as the SDK encodes them, deltas, usage, the stop
// events, the error response); where the SDK's response type holds a
// union that encodes every variant's members at once, a small envelope
// carries the SDK's encoding of the one variant instead.

type wireMessage struct {
	ID           string                             `json:"id"`
	Type         string                             `json:"type"`
	Role         string                             `json:"role"`
	Model        string                             `json:"model"`
	Content      []anthropic.ContentBlockParamUnion `json:"content"`
	StopReason   *anthropic.StopReason              `json:"stop_reason"`
	StopSequence *string                            `json:"stop_sequence"`
	Usage        anthropic.Usage                    `json:"usage"`
}

type wireBlockStart struct {
	Type         string                           `json:"type"`
	Index        int                              `json:"index"`
	ContentBlock anthropic.ContentBlockParamUnion `json:"content_block"`
}

type wireBlockDelta struct {
	Type  string `json:"type"`
	Index int    `json:"index"`
	Delta any    `json:"delta"`
}

type wireMessageDelta struct {
	Type  string `json:"type"`
	Delta struct {
		StopReason   anthropic.StopReason `json:"stop_reason"`
		StopSequence *string              `json:"stop_sequence"`
	} `json:"delta"`
	Usage anthropic.MessageDeltaUsage `json:"usage"`
}

func (u Usage) sdk() anthropic.Usage {
	return anthropic.Usage{InputTokens: u.Input, OutputTokens: u.Output, CacheReadInputTokens: u.CacheRead, CacheCreationInputTokens: u.CacheWrite}
}

func stopReason(sc Scenario) anthropic.StopReason {
	if sc.StopReason == "" {
		return anthropic.StopReasonEndTurn
	}
	return sc.StopReason
}

// message is the non-streamed answer.
func message(id, model string, sc Scenario) []byte {
	m := wireMessage{ID: id, Type: "message", Role: "assistant", Model: model, Usage: sc.Usage.sdk()}
	m.Content = []anthropic.ContentBlockParamUnion{}
	for _, b := range sc.Blocks {
		m.Content = append(m.Content, b.param())
	}
	sr := stopReason(sc)
	m.StopReason = &sr
	out, _ := json.Marshal(m)
	return out
}

// streamEvents are the events of a streamed answer, as SSE text, in order.
func streamEvents(id, model string, sc Scenario) [][]byte {
	var out [][]byte
	add := func(name string, v any) {
		b, _ := json.Marshal(v)
		out = append(out, fmt.Appendf(nil, "event: %s\ndata: %s\n\n", name, b))
	}
	start := sc.Usage.sdk()
	start.OutputTokens = 1
	add("message_start", map[string]any{"type": "message_start",
		"message": wireMessage{ID: id, Type: "message", Role: "assistant", Model: model, Content: []anthropic.ContentBlockParamUnion{}, Usage: start}})
	if sc.Ping {
		add("ping", map[string]string{"type": "ping"})
	}
	for i, b := range sc.Blocks {
		var first anthropic.ContentBlockParamUnion
		switch b.Kind {
		case "tool_use":
			first = anthropic.NewToolUseBlock(b.ID, json.RawMessage("{}"), b.Name)
		case "thinking":
			first = anthropic.NewThinkingBlock("", "")
		case "redacted_thinking":
			first = b.param()
		default:
			first = anthropic.NewTextBlock("")
		}
		add("content_block_start", wireBlockStart{Type: "content_block_start", Index: i, ContentBlock: first})
		for _, d := range b.Deltas {
			var delta any
			switch b.Kind {
			case "tool_use":
				delta = anthropic.InputJSONDelta{PartialJSON: d}
			case "thinking":
				delta = anthropic.ThinkingDelta{Thinking: d}
			default:
				delta = anthropic.TextDelta{Text: d}
			}
			add("content_block_delta", wireBlockDelta{Type: "content_block_delta", Index: i, Delta: delta})
		}
		if b.Kind == "thinking" {
			add("content_block_delta", wireBlockDelta{Type: "content_block_delta", Index: i, Delta: anthropic.SignatureDelta{Signature: b.Signature}})
		}
		add("content_block_stop", anthropic.ContentBlockStopEvent{Index: int64(i)})
	}
	if sc.StreamError != nil {
		add("error", errorBody(sc.StreamError))
		return out
	}
	if sc.Cut {
		return out
	}
	md := wireMessageDelta{Type: "message_delta"}
	md.Delta.StopReason = stopReason(sc)
	md.Usage = anthropic.MessageDeltaUsage{OutputTokens: sc.Usage.Output, InputTokens: sc.Usage.Input,
		CacheReadInputTokens: sc.Usage.CacheRead, CacheCreationInputTokens: sc.Usage.CacheWrite}
	add("message_delta", md)
	add("message_stop", anthropic.MessageStopEvent{})
	return out
}

func errorBody(e *APIError) shared.ErrorResponse {
	return shared.ErrorResponse{Error: shared.ErrorObjectUnion{Type: e.Type, Message: e.Message}, RequestID: "req_stub"}
}
