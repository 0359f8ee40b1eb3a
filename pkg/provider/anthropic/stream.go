package anthropic

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

// MaxEventBytes bounds one server-sent event of Anthropic's stream; a
// longer one fails the stream.
const MaxEventBytes = 1 << 20

// event is one event of Anthropic's stream, by its data's type:
// message_start, content_block_start, content_block_delta,
// content_block_stop, message_delta, message_stop, ping, error.
type event struct {
	Type         string        `json:"type"`
	Index        int           `json:"index"`
	Message      *answer       `json:"message"`
	ContentBlock *contentBlock `json:"content_block"`
	Delta        *delta        `json:"delta"`
	Usage        *deltaUsage   `json:"usage"`
}

type delta struct {
	Type        string `json:"type"`
	Text        string `json:"text"`
	PartialJSON string `json:"partial_json"`
	Thinking    string `json:"thinking"`
	Signature   string `json:"signature"`
	StopReason  string `json:"stop_reason"`
}

// deltaUsage is message_delta's usage: cumulative counts, each present or
// not.
type deltaUsage struct {
	InputTokens              *int `json:"input_tokens"`
	OutputTokens             *int `json:"output_tokens"`
	CacheReadInputTokens     *int `json:"cache_read_input_tokens"`
	CacheCreationInputTokens *int `json:"cache_creation_input_tokens"`
}

// events translates Anthropic's stream into OpenAI chunks as it is read:
// each Next reads the provider's events until one makes a chunk.
type events struct {
	body io.ReadCloser
	r    *bufio.Reader
	s    *chat.Stream

	blocks map[int]*open // open content blocks by Anthropic's index
	stop   string
	usage  usage
	done   bool
	data   []byte // the current event's data
}

// open is a content block being streamed: a tool call's index in the
// OpenAI stream, or a thinking block's text and signature.
type open struct {
	kind      string
	call      int
	thinking  []byte
	signature string
}

func newEvents(body io.ReadCloser, model string, includeUsage bool) *events {
	return &events{body: body, r: bufio.NewReaderSize(body, 16<<10), s: chat.NewStream(model, includeUsage), blocks: map[int]*open{}}
}

func (e *events) Close() error { return e.body.Close() }

// Next returns the chunks the next provider event(s) make.
func (e *events) Next() ([]byte, error) {
	if e.done {
		return nil, io.EOF
	}
	for {
		data, err := e.read()
		if err != nil {
			return nil, err
		}
		out, err := e.translate(data)
		if err != nil || len(out) > 0 {
			return out, err
		}
	}
}

var (
	errCut  = &provider.StreamError{Message: "Anthropic's stream ended before the answer did", Type: provider.TypeServer, Code: "stream_cut"}
	errBig  = &provider.StreamError{Message: "an event of Anthropic's stream is larger than 1 MiB", Type: provider.TypeServer, Code: "bad_upstream_response"}
	errRead = &provider.StreamError{Message: "Anthropic's stream could not be read", Type: provider.TypeServer, Code: "bad_upstream_response"}
)

// read returns the data of the next event that has some. The event name
// is not needed: every data object names its type.
func (e *events) read() ([]byte, error) {
	e.data = e.data[:0]
	for {
		line, err := e.line()
		if err != nil {
			if errors.Is(err, io.EOF) {
				if len(e.data) > 0 {
					return e.data, nil
				}
				return nil, errCut
			}
			return nil, err
		}
		switch {
		case len(line) == 0:
			if len(e.data) > 0 {
				return e.data, nil
			}
		case bytes.HasPrefix(line, []byte("data:")):
			v := bytes.TrimPrefix(line[5:], []byte(" "))
			if len(e.data) > 0 {
				e.data = append(e.data, '\n')
			}
			if len(e.data)+len(v) > MaxEventBytes {
				return nil, errBig
			}
			e.data = append(e.data, v...)
		}
	}
}

// line reads one line, without its end, within MaxEventBytes.
func (e *events) line() ([]byte, error) {
	line, err := e.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		long := append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			if len(long) > MaxEventBytes {
				return nil, errBig
			}
			line, err = e.r.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, &provider.StreamError{Message: errCut.Message, Type: errCut.Type, Code: errCut.Code, Cause: err}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, &provider.StreamError{Message: errRead.Message, Type: errRead.Type, Code: errRead.Code, Cause: err}
	}
	if err != nil && len(line) == 0 {
		return nil, io.EOF
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r")), nil
}

// translate turns one provider event into chunks.
func (e *events) translate(data []byte) ([]byte, error) {
	var ev event
	if err := json.Unmarshal(data, &ev); err != nil {
		return nil, &provider.StreamError{Message: "an event of Anthropic's stream is not JSON", Type: provider.TypeServer, Code: "bad_upstream_response", Cause: err}
	}
	switch ev.Type {
	case "message_start":
		if m := ev.Message; m != nil {
			if m.Model != "" {
				e.s.Model = m.Model
			}
			if m.Usage != nil {
				e.usage = *m.Usage
			}
		}
		return e.s.Role(), nil
	case "content_block_start":
		return e.start(ev.Index, ev.ContentBlock), nil
	case "content_block_delta":
		return e.delta(ev.Index, ev.Delta), nil
	case "content_block_stop":
		return e.stopBlock(ev.Index), nil
	case "message_delta":
		if ev.Delta != nil && ev.Delta.StopReason != "" {
			e.stop = ev.Delta.StopReason
		}
		if u := ev.Usage; u != nil {
			set(&e.usage.InputTokens, u.InputTokens)
			set(&e.usage.OutputTokens, u.OutputTokens)
			set(&e.usage.CacheReadInputTokens, u.CacheReadInputTokens)
			set(&e.usage.CacheCreationInputTokens, u.CacheCreationInputTokens)
		}
		return nil, nil
	case "message_stop":
		e.done = true
		out := e.s.Finish(finishReason(e.stop, e.s.ToolCalls() > 0))
		out = append(out, e.s.Usage(e.usage.chat())...)
		return append(out, e.s.Done()...), nil
	case "error":
		return nil, streamError(data)
	}
	return nil, nil // ping, and events added later
}

func set(dst *int, v *int) {
	if v != nil {
		*dst = *v
	}
}

func (e *events) start(i int, b *contentBlock) []byte {
	if b == nil {
		return nil
	}
	switch b.Type {
	case "text":
		e.blocks[i] = &open{kind: "text"}
		if b.Text != "" {
			return e.s.Content(b.Text)
		}
	case "tool_use":
		call, out := e.s.ToolCallStart(b.ID, b.Name)
		e.blocks[i] = &open{kind: "tool_use", call: call}
		// The input arrives in input_json_delta events; the start's
		// input is {} (a call with no input then has "" arguments, which
		// OpenAI's clients read as none).
		if in := arguments(b.Input); in != "{}" {
			out = append(out, e.s.ToolCallArgs(call, in)...)
		}
		return out
	case "thinking":
		o := &open{kind: "thinking", signature: b.Signature}
		e.blocks[i] = o
		if b.Thinking != "" {
			o.thinking = append(o.thinking, b.Thinking...)
			return e.s.Reasoning(b.Thinking)
		}
	case "redacted_thinking":
		return e.s.Thinking(chat.ThinkingBlock{Type: "redacted_thinking", Data: b.Data})
	}
	return nil
}

func (e *events) delta(i int, d *delta) []byte {
	if d == nil {
		return nil
	}
	o := e.blocks[i]
	switch d.Type {
	case "text_delta":
		if d.Text != "" {
			return e.s.Content(d.Text)
		}
	case "input_json_delta":
		if o != nil && o.kind == "tool_use" && d.PartialJSON != "" {
			return e.s.ToolCallArgs(o.call, d.PartialJSON)
		}
	case "thinking_delta":
		if o != nil && o.kind == "thinking" && len(o.thinking)+len(d.Thinking) <= MaxThinkingBytes {
			o.thinking = append(o.thinking, d.Thinking...)
		}
		if d.Thinking != "" {
			return e.s.Reasoning(d.Thinking)
		}
	case "signature_delta":
		if o != nil {
			o.signature += d.Signature
		}
	}
	return nil
}

// MaxThinkingBytes bounds the thinking text kept to send with a block's
// signature when the block ends.
const MaxThinkingBytes = 8 << 20

// stopBlock ends a block; a thinking block is sent whole with its
// signature, for the client to replay.
func (e *events) stopBlock(i int) []byte {
	o := e.blocks[i]
	delete(e.blocks, i)
	if o == nil || o.kind != "thinking" || o.signature == "" {
		return nil
	}
	return e.s.Thinking(chat.ThinkingBlock{Type: "thinking", Thinking: string(o.thinking), Signature: o.signature})
}
