package gemini

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

// maxEvent bounds one SSE event of Gemini's stream.
const maxEvent = 1 << 20

// events translates streamGenerateContent?alt=sse, one Gemini event per
// pull: each event is a whole GenerateContentResponse holding the new
// parts; usageMetadata is cumulative, so the last one counts.
type events struct {
	body  io.ReadCloser
	rd    *bufio.Reader
	s     *chat.Stream
	event []byte

	pending []byte // the first event's chunks, read before the status line
	reason  string // Gemini's finishReason, once seen
	usage   *usageMetadata
	done    bool
}

func newEvents(body io.ReadCloser, model string, includeUsage bool) *events {
	return &events{body: body, rd: bufio.NewReaderSize(body, 16<<10), s: chat.NewStream(model, includeUsage)}
}

// prime reads the first event before the answer's status is sent, so that
// a prompt Gemini blocks is a 400 and an error in the first event keeps
// its status, as they would be without streaming.
func (e *events) prime() *provider.Error {
	g, err := e.read()
	if err != nil {
		return &provider.Error{Status: 502, Type: provider.TypeServer, Code: "bad_upstream_response", Message: err.Error()}
	}
	if g.Error != nil {
		return fromAPIError(g.Error, 502, nil)
	}
	if pe := blocked(g); pe != nil {
		return pe
	}
	e.pending = append(e.s.Role(), e.translate(g)...)
	return nil
}

func (e *events) Next() ([]byte, error) {
	if e.pending != nil {
		out := e.pending
		e.pending = nil
		return out, nil
	}
	for !e.done {
		g, err := e.read()
		if errors.Is(err, io.EOF) {
			if e.reason == "" {
				return nil, &provider.StreamError{Message: "Gemini's stream ended before its last event", Type: provider.TypeServer, Code: "upstream_stream_cut"}
			}
			e.done = true
			out := e.s.Finish(finish(e.reason, e.s.ToolCalls() > 0))
			if e.usage != nil {
				out = append(out, e.s.Usage(usage(e.usage))...)
			}
			return append(out, e.s.Done()...), nil
		}
		if err != nil {
			return nil, &provider.StreamError{Message: "Gemini's stream failed", Type: provider.TypeServer, Code: "upstream_stream_error", Cause: err}
		}
		if g.Error != nil {
			return nil, &provider.StreamError{Message: "Gemini: " + g.Error.Message, Type: provider.TypeServer, Code: g.Error.Status}
		}
		if out := e.translate(g); len(out) > 0 {
			return out, nil
		}
	}
	return nil, io.EOF
}

// translate turns one event's parts into chunks and notes its finish
// reason and usage.
func (e *events) translate(g *generateResponse) []byte {
	if g.UsageMetadata != nil {
		e.usage = g.UsageMetadata
	}
	if len(g.Candidates) == 0 {
		return nil
	}
	c := g.Candidates[0]
	if c.FinishReason != "" {
		e.reason = c.FinishReason
	}
	if c.Content == nil {
		return nil
	}
	var out []byte
	for _, p := range c.Content.Parts {
		switch {
		case p.FunctionCall != nil:
			tc := toolCall(p)
			i, start := e.s.ToolCallStart(tc.ID, tc.Function.Name)
			out = append(out, start...)
			out = append(out, e.s.ToolCallArgs(i, tc.Function.Arguments)...)
		case p.Thought && p.Text != "":
			out = append(out, e.s.Reasoning(p.Text)...)
		case p.Text != "":
			out = append(out, e.s.Content(p.Text)...)
		}
	}
	return out
}

var errEventTooLarge = errors.New("an event of Gemini's stream is larger than 1 MiB")

// read returns the next data event, skipping comments and empty events;
// io.EOF at the end of the stream.
func (e *events) read() (*generateResponse, error) {
	e.event = e.event[:0]
	have := false
	for {
		line, err := e.line()
		if err != nil {
			if errors.Is(err, io.EOF) && have {
				break
			}
			return nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if have {
				break
			}
			continue
		}
		data, ok := bytes.CutPrefix(line, []byte("data:"))
		if !ok {
			continue // comments, event:, id:, retry:
		}
		data = bytes.TrimPrefix(data, []byte(" "))
		if len(e.event)+len(data)+1 > maxEvent {
			return nil, errEventTooLarge
		}
		if have {
			e.event = append(e.event, '\n')
		}
		e.event = append(e.event, data...)
		have = true
	}
	var g generateResponse
	if err := json.Unmarshal(e.event, &g); err != nil {
		return nil, errors.New("an event of Gemini's stream is not JSON")
	}
	return &g, nil
}

// line reads one line of at most maxEvent bytes.
func (e *events) line() ([]byte, error) {
	l, err := e.rd.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		if err != nil && len(l) > 0 && errors.Is(err, io.EOF) {
			return l, nil
		}
		return l, err
	}
	long := append([]byte(nil), l...)
	for errors.Is(err, bufio.ErrBufferFull) {
		if len(long) > maxEvent {
			return nil, errEventTooLarge
		}
		l, err = e.rd.ReadSlice('\n')
		long = append(long, l...)
	}
	if err != nil && !(errors.Is(err, io.EOF) && len(long) > 0) {
		return nil, err
	}
	return long, nil
}

func (e *events) Close() error { return e.body.Close() }
