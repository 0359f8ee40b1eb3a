package messages

import (
	"encoding/json"
	"strconv"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

// Stream turns an OpenAI chat chunk stream into Anthropic's event stream,
// one chunk at a time: message_start at the first chunk, a content block
// per run of text, reasoning or tool call (content_block_start, _delta,
// _stop), then message_delta (stop_reason and usage) and message_stop at
// [DONE]. An error chunk becomes `event: error`. It holds no text: only
// which block is open.
type Stream struct {
	model    string
	started  bool
	next     int    // the next block index
	open     int    // the open block's index, -1 for none
	openKind string // "text", "thinking" or "tool_use"
	tools    map[int]int
	finish   string
	usage    Usage
	ended    bool
}

// NewStream starts a translation; model names the model until a chunk
// does.
func NewStream(model string) *Stream {
	return &Stream{model: model, open: -1}
}

// Ended reports whether the stream reached message_stop or an error.
func (s *Stream) Ended() bool { return s.ended }

type chunkIn struct {
	Model   string `json:"model"`
	Choices []struct {
		Delta struct {
			Content          *string              `json:"content"`
			ReasoningContent string               `json:"reasoning_content"`
			ThinkingBlocks   []chat.ThinkingBlock `json:"thinking_blocks"`
			ToolCalls        []chat.ToolCall      `json:"tool_calls"`
			Refusal          *string              `json:"refusal"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *chat.Usage `json:"usage"`
	Error *struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    any    `json:"code"`
	} `json:"error"`
}

// Event translates the data of one chat SSE event ("[DONE]" included) into
// zero or more Anthropic events.
func (s *Stream) Event(data []byte) []byte {
	if s.ended {
		return nil
	}
	if string(data) == "[DONE]" {
		return s.End()
	}
	var c chunkIn
	if err := json.Unmarshal(data, &c); err != nil {
		return s.Fail("api_error", "the upstream sent an event that is not a chat chunk")
	}
	if c.Error != nil {
		return s.Fail(ErrorTypeFor(c.Error.Type, c.Error.Code), c.Error.Message)
	}
	if c.Model != "" && !s.started {
		s.model = c.Model
	}
	out := s.start(nil)
	if c.Usage != nil {
		s.usage = FromChatUsage(c.Usage)
	}
	if len(c.Choices) == 0 {
		return out
	}
	ch := c.Choices[0]
	d := ch.Delta
	if d.ReasoningContent != "" {
		out = s.ensure(out, "thinking", -1, "", "")
		out = s.delta(out, `{"type":"thinking_delta","thinking":`, d.ReasoningContent)
	}
	for _, tb := range d.ThinkingBlocks {
		out = s.thinkingBlock(out, tb)
	}
	if d.Content != nil && *d.Content != "" {
		out = s.ensure(out, "text", -1, "", "")
		out = s.delta(out, `{"type":"text_delta","text":`, *d.Content)
	}
	if d.Refusal != nil && *d.Refusal != "" {
		out = s.ensure(out, "text", -1, "", "")
		out = s.delta(out, `{"type":"text_delta","text":`, *d.Refusal)
	}
	for _, tc := range d.ToolCalls {
		out = s.toolCall(out, tc)
	}
	if ch.FinishReason != nil && *ch.FinishReason != "" {
		s.finish = *ch.FinishReason
	}
	return out
}

func (s *Stream) thinkingBlock(out []byte, tb chat.ThinkingBlock) []byte {
	if tb.Type == "redacted_thinking" {
		out = s.close(out)
		i := s.next
		s.next++
		out = event(out, "content_block_start", `{"type":"content_block_start","index":`+strconv.Itoa(i)+`,"content_block":{"type":"redacted_thinking","data":`+string(provider.AppendString(nil, tb.Data))+`}}`)
		return event(out, "content_block_stop", `{"type":"content_block_stop","index":`+strconv.Itoa(i)+`}`)
	}
	if s.openKind != "thinking" {
		out = s.ensure(out, "thinking", -1, "", "")
		if tb.Thinking != "" {
			out = s.delta(out, `{"type":"thinking_delta","thinking":`, tb.Thinking)
		}
	}
	if tb.Signature != "" {
		out = s.delta(out, `{"type":"signature_delta","signature":`, tb.Signature)
	}
	return s.close(out)
}

func (s *Stream) toolCall(out []byte, tc chat.ToolCall) []byte {
	idx := 0
	if tc.Index != nil {
		idx = *tc.Index
	}
	if s.tools == nil {
		s.tools = map[int]int{}
	}
	block, known := s.tools[idx]
	if !known || tc.ID != "" && (s.openKind != "tool_use" || s.open != block) {
		out = s.ensure(out, "tool_use", idx, tc.ID, tc.Function.Name)
		block = s.open
	}
	if tc.Function.Arguments == "" {
		return out
	}
	b := append(out, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":"...)
	b = strconv.AppendInt(b, int64(block), 10)
	b = append(b, `,"delta":{"type":"input_json_delta","partial_json":`...)
	b = provider.AppendString(b, tc.Function.Arguments)
	return append(b, "}}\n\n"...)
}

// start sends message_start once.
func (s *Stream) start(out []byte) []byte {
	if s.started {
		return out
	}
	s.started = true
	b := append(out, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\""...)
	b = append(b, NewID()...)
	b = append(b, `","type":"message","role":"assistant","model":`...)
	b = provider.AppendString(b, s.model)
	return append(b, ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":0,\"output_tokens\":0}}}\n\n"...)
}

// ensure opens a block of kind unless one is open (a tool_use block is
// always new: toolIdx is the chat call's index).
func (s *Stream) ensure(out []byte, kind string, toolIdx int, id, name string) []byte {
	if s.openKind == kind && kind != "tool_use" {
		return out
	}
	out = s.close(out)
	s.open, s.openKind = s.next, kind
	s.next++
	var cb string
	switch kind {
	case "text":
		cb = `{"type":"text","text":""}`
	case "thinking":
		cb = `{"type":"thinking","thinking":"","signature":""}`
	default:
		s.tools[toolIdx] = s.open
		if id == "" {
			id = "toolu_" + NewID()[4:]
		}
		cb = `{"type":"tool_use","id":` + string(provider.AppendString(nil, id)) + `,"name":` + string(provider.AppendString(nil, name)) + `,"input":{}}`
	}
	return event(out, "content_block_start", `{"type":"content_block_start","index":`+strconv.Itoa(s.open)+`,"content_block":`+cb+`}`)
}

func (s *Stream) delta(out []byte, head, text string) []byte {
	b := append(out, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":"...)
	b = strconv.AppendInt(b, int64(s.open), 10)
	b = append(b, `,"delta":`...)
	b = append(b, head...)
	b = provider.AppendString(b, text)
	return append(b, "}}\n\n"...)
}

func (s *Stream) close(out []byte) []byte {
	if s.open < 0 {
		return out
	}
	out = event(out, "content_block_stop", `{"type":"content_block_stop","index":`+strconv.Itoa(s.open)+`}`)
	s.open, s.openKind = -1, ""
	return out
}

// End closes the stream cleanly: the open block, message_delta with the
// stop reason and usage, message_stop.
func (s *Stream) End() []byte {
	if s.ended {
		return nil
	}
	out := s.start(nil)
	out = s.close(out)
	s.ended = true
	u, _ := json.Marshal(s.usage)
	out = event(out, "message_delta", `{"type":"message_delta","delta":{"stop_reason":"`+StopReason(s.finish)+`","stop_sequence":null},"usage":`+string(u)+`}`)
	return event(out, "message_stop", `{"type":"message_stop"}`)
}

// Finished reports whether a finish reason arrived: a stream that then
// ends without [DONE] still ended cleanly.
func (s *Stream) Finished() bool { return s.finish != "" }

// Fail ends the stream with an error event.
func (s *Stream) Fail(typ, message string) []byte {
	if s.ended {
		return nil
	}
	s.ended = true
	return provider.AnthropicErrorEvent(typ, message)
}

func event(out []byte, name, data string) []byte {
	out = append(out, "event: "...)
	out = append(out, name...)
	out = append(out, "\ndata: "...)
	out = append(out, data...)
	return append(out, "\n\n"...)
}

// ErrorTypeFor maps an OpenAI error's type (and code) to Anthropic's.
func ErrorTypeFor(typ string, code any) string {
	switch typ {
	case "invalid_request_error", "authentication_error", "permission_error", "not_found_error", "rate_limit_error", "overloaded_error", "timeout_error", "request_too_large":
		return typ
	case "server_error", "api_error":
	}
	if c, ok := code.(string); ok {
		switch c {
		case "upstream_timeout", "deadline_exceeded":
			return "timeout_error"
		case "rate_limit_exceeded":
			return "rate_limit_error"
		}
	}
	return "api_error"
}

// ErrorFromChat translates an OpenAI-shaped error body into Anthropic's
// for status; a body already in Anthropic's shape is kept; anything else
// becomes a generic error naming the status.
func ErrorFromChat(status int, body []byte) []byte {
	var probe struct {
		Type  string `json:"type"`
		Error *struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Code    any    `json:"code"`
		} `json:"error"`
	}
	typ := provider.AnthropicErrorType(status)
	if json.Unmarshal(body, &probe) != nil || probe.Error == nil {
		return provider.AnthropicErrorJSON(typ, "the upstream answered "+strconv.Itoa(status))
	}
	if probe.Type == "error" {
		return body
	}
	if status >= 500 || status == http429 {
		// The status decides; a provider's own type may say more.
		if t := ErrorTypeFor(probe.Error.Type, probe.Error.Code); t != "api_error" && t != "invalid_request_error" {
			typ = t
		}
	}
	msg := probe.Error.Message
	if msg == "" {
		msg = "the upstream answered " + strconv.Itoa(status)
	}
	return provider.AnthropicErrorJSON(typ, msg)
}

const http429 = 429
