package cohere

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

// Event is one v2 stream event.
type Event struct {
	Type    string      `json:"type"`
	ID      string      `json:"id"`
	Index   *int        `json:"index"`
	Message string      `json:"message"` // an error event's text
	Delta   *EventDelta `json:"delta"`
}

// EventDelta is what an event adds.
type EventDelta struct {
	Message      *DeltaMessage `json:"message"`
	FinishReason string        `json:"finish_reason"`
	Error        string        `json:"error"`
	Usage        *Usage        `json:"usage"`
}

// DeltaMessage is the piece of the message an event carries. Content and
// tool_calls are objects in the deltas but arrays in message-start, so
// they are read only by the events that carry one.
type DeltaMessage struct {
	Content   json.RawMessage `json:"content"`
	ToolPlan  string          `json:"tool_plan"`
	ToolCalls json.RawMessage `json:"tool_calls"`
}

// DeltaContent is a content event's piece.
type DeltaContent struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Thinking string `json:"thinking"`
}

// DeltaToolCall is a tool-call event's piece.
type DeltaToolCall struct {
	ID       string `json:"id"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// Events translates a v2 event stream (server-sent events, whose data is
// the JSON event; a bare JSON line is read the same way), one provider
// event per step: text, tool plan and tool-call pieces go out as they
// arrive; message-end gives the finish reason, the usage and [DONE].
type Events struct {
	body  io.ReadCloser
	br    *bufio.Reader
	s     *chat.Stream
	calls map[int]int // Cohere's tool-call index -> the stream's
	ended bool
}

// NewEvents reads body, a v2 stream for model.
func NewEvents(body io.ReadCloser, model string, includeUsage bool) *Events {
	return &Events{body: body, br: bufio.NewReaderSize(body, 16<<10), s: chat.NewStream(model, includeUsage), calls: map[int]int{}}
}

func streamError(code, msg string, cause error) *provider.StreamError {
	return &provider.StreamError{Message: msg, Type: provider.TypeServer, Code: code, Cause: cause}
}

func (e *Events) Next() ([]byte, error) {
	for !e.ended {
		data, err := e.event()
		if err != nil {
			return nil, err
		}
		out, err := e.translate(data)
		if err != nil {
			return nil, err
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	return nil, io.EOF
}

// event reads the next event's data: the data lines of one SSE event,
// joined, or one bare JSON line.
func (e *Events) event() ([]byte, error) {
	var data []byte
	for {
		line, err := provider.ReadLine(e.br, provider.MaxEvent)
		switch {
		case errors.Is(err, provider.ErrEventTooLarge):
			return nil, streamError("upstream_event_too_large", "the provider sent an event larger than 1 MiB", nil)
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF) && len(line) == 0:
			if len(data) > 0 {
				return data, nil
			}
			return nil, streamError("upstream_stream_cut", "the provider's stream ended before its last event", nil)
		case err != nil && !errors.Is(err, io.ErrUnexpectedEOF):
			return nil, streamError("upstream_stream_cut", "the provider's stream failed", err)
		}
		switch {
		case len(line) == 0:
			if len(data) > 0 {
				return data, nil
			}
		case line[0] == '{' && len(data) == 0:
			return line, nil
		case bytes.HasPrefix(line, []byte("data:")):
			v := bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("data:")), []byte(" "))
			if len(data)+len(v) > provider.MaxEvent {
				return nil, streamError("upstream_event_too_large", "the provider sent an event larger than 1 MiB", nil)
			}
			if len(data) > 0 {
				data = append(data, '\n')
			}
			data = append(data, v...)
		}
		// event:, id:, retry: and comments carry nothing the data lacks.
	}
}

func (e *Events) translate(data []byte) ([]byte, error) {
	if string(data) == "[DONE]" {
		return nil, streamError("upstream_stream_cut", "the provider's stream ended without message-end", nil)
	}
	var ev Event
	if err := json.Unmarshal(data, &ev); err != nil {
		return nil, streamError("upstream_bad_event", "the provider sent an event that is not JSON", err)
	}
	d := ev.Delta
	var m *DeltaMessage
	if d != nil {
		m = d.Message
	}
	switch ev.Type {
	case "message-start":
		return e.s.Role(), nil
	case "content-delta":
		var c DeltaContent
		if m == nil || json.Unmarshal(m.Content, &c) != nil {
			return nil, streamError("upstream_bad_event", "the provider sent a content-delta without its content", nil)
		}
		var out []byte
		if c.Thinking != "" {
			out = append(out, e.s.Reasoning(c.Thinking)...)
		}
		if c.Text != "" {
			out = append(out, e.s.Content(c.Text)...)
		}
		return out, nil
	case "tool-plan-delta":
		if m == nil || m.ToolPlan == "" {
			return nil, nil
		}
		return e.s.Content(m.ToolPlan), nil
	case "tool-call-start":
		var tc DeltaToolCall
		if m == nil || ev.Index == nil || json.Unmarshal(m.ToolCalls, &tc) != nil || tc.Function.Name == "" {
			return nil, streamError("upstream_bad_event", "the provider sent a tool-call-start without its call", nil)
		}
		if _, dup := e.calls[*ev.Index]; dup {
			return nil, streamError("upstream_bad_event", "the provider started the same tool call twice", nil)
		}
		i, out := e.s.ToolCallStart(tc.ID, tc.Function.Name)
		e.calls[*ev.Index] = i
		if tc.Function.Arguments != "" {
			out = append(out, e.s.ToolCallArgs(i, tc.Function.Arguments)...)
		}
		return out, nil
	case "tool-call-delta":
		var tc DeltaToolCall
		if m == nil || ev.Index == nil || json.Unmarshal(m.ToolCalls, &tc) != nil {
			return nil, streamError("upstream_bad_event", "the provider sent a tool-call-delta without its call", nil)
		}
		i, ok := e.calls[*ev.Index]
		if !ok {
			return nil, streamError("upstream_bad_event", "the provider sent a tool-call-delta for a call it did not start", nil)
		}
		if tc.Function.Arguments == "" {
			return nil, nil
		}
		return e.s.ToolCallArgs(i, tc.Function.Arguments), nil
	case "message-end":
		e.ended = true
		if d == nil {
			return nil, streamError("upstream_bad_event", "the provider's message-end has no finish reason", nil)
		}
		if d.FinishReason == "ERROR" {
			msg := "the provider ended the answer with an error"
			if d.Error != "" {
				msg = "cohere error: " + d.Error
			}
			return nil, streamError("upstream_error", msg, nil)
		}
		out := e.s.Finish(finish(d.FinishReason, e.s.ToolCalls()))
		if u := d.Usage.usage(); u != nil {
			out = append(out, e.s.Usage(u)...)
		}
		return append(out, e.s.Done()...), nil
	case "":
		if ev.Message != "" {
			return nil, streamError("upstream_error", "cohere error: "+ev.Message, nil)
		}
	}
	// content-start, content-end, tool-call-end, citation-*, debug: nothing
	// an OpenAI client reads.
	return nil, nil
}

func (e *Events) Close() error { return e.body.Close() }
