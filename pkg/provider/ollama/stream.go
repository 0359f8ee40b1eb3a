package ollama

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

// Events translates Ollama's NDJSON stream, one line per Next: a line's
// text or tool calls become OpenAI chunks as soon as it arrives; the line
// with done: true gives the finish reason, the usage and [DONE].
type Events struct {
	body  io.ReadCloser
	br    *bufio.Reader
	s     *chat.Stream
	role  bool
	ended bool
}

// NewEvents reads body, an Ollama stream for model.
func NewEvents(body io.ReadCloser, model string, includeUsage bool) *Events {
	return &Events{body: body, br: bufio.NewReaderSize(body, 16<<10), s: chat.NewStream(model, includeUsage)}
}

func (e *Events) Next() ([]byte, error) {
	for {
		if e.ended {
			return nil, io.EOF
		}
		line, err := provider.ReadLine(e.br, provider.MaxEvent)
		switch {
		case err == nil, errors.Is(err, io.ErrUnexpectedEOF) && len(line) > 0:
			// a line, or a last line without its newline
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return nil, &provider.StreamError{Message: "the provider's stream ended before its last event", Type: provider.TypeServer, Code: "upstream_stream_cut", Cause: err}
		case errors.Is(err, provider.ErrEventTooLarge):
			return nil, &provider.StreamError{Message: "the provider sent an event larger than 1 MiB", Type: provider.TypeServer, Code: "upstream_event_too_large"}
		default:
			return nil, &provider.StreamError{Message: "the provider's stream failed", Type: provider.TypeServer, Code: "upstream_stream_cut", Cause: err}
		}
		if len(line) == 0 {
			continue
		}
		out, perr := e.line(line)
		if perr != nil {
			return nil, perr
		}
		if len(out) > 0 {
			return out, nil
		}
	}
}

func (e *Events) line(line []byte) ([]byte, error) {
	var a Answer
	if err := json.Unmarshal(line, &a); err != nil {
		return nil, &provider.StreamError{Message: "the provider sent a line that is not JSON", Type: provider.TypeServer, Code: "upstream_bad_event", Cause: err}
	}
	if a.Error != "" {
		return nil, &provider.StreamError{Message: "ollama error: " + a.Error, Type: provider.TypeServer, Code: "upstream_error"}
	}
	var out []byte
	if !e.role {
		e.role = true
		out = append(out, e.s.Role()...)
	}
	if a.Message.Thinking != "" {
		out = append(out, e.s.Reasoning(a.Message.Thinking)...)
	}
	if a.Message.Content != "" {
		out = append(out, e.s.Content(a.Message.Content)...)
	}
	for _, tc := range a.Message.ToolCalls {
		i, start := e.s.ToolCallStart(callID(tc.ID), tc.Function.Name)
		out = append(out, start...)
		out = append(out, e.s.ToolCallArgs(i, arguments(tc.Function.Arguments))...)
	}
	if a.Done {
		e.ended = true
		out = append(out, e.s.Finish(finish(a.DoneReason, e.s.ToolCalls()))...)
		out = append(out, e.s.Usage(chat.NewUsage(a.PromptEvalCount, 0, 0, a.EvalCount))...)
		out = append(out, e.s.Done()...)
	}
	return out, nil
}

func (e *Events) Close() error { return e.body.Close() }
