package responses

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

// Bounds of a translated stream: one chat event, and the output a
// Response's final event repeats whole.
const (
	MaxEvent  = 1 << 20
	MaxOutput = 32 << 20
)

// Stream reads a chat chunk stream and serves it as the Responses API's
// event stream: response.created and response.in_progress first, then the
// items as the chunks make them, and a terminal response.completed,
// response.incomplete or response.failed event with the whole Response;
// no [DONE]. Each Read pulls only as many chat events as it takes to have
// something to send. A failure of the chat stream (a read error, a cut
// before [DONE], an error event) becomes response.failed, and its cause is
// then returned by Read, so that the proxy still aborts the answer.
type Stream struct {
	body io.ReadCloser
	src  *bufio.Reader
	resp Response
	echo *Echo

	seq     int
	out     []byte
	started bool
	done    bool
	err     error

	msg       int         // output index of the open message, -1 none
	reasoning int         // output index of the open reasoning item, -1 none
	calls     map[int]int // chat tool-call index to output index
	finish    string
	usage     *chat.Usage
	size      int
	data      []byte
}

// NewStream translates the chat stream body; model is the model asked
// for, until the chunks name one.
func NewStream(body io.ReadCloser, model string, e *Echo) *Stream {
	return &Stream{body: body, src: bufio.NewReaderSize(body, 16<<10), resp: newResponse(model, e), echo: e, msg: -1, reasoning: -1, calls: map[int]int{}}
}

func (s *Stream) Close() error { return s.body.Close() }

func (s *Stream) Read(p []byte) (int, error) {
	for len(s.out) == 0 {
		if s.done {
			if s.err != nil {
				return 0, s.err
			}
			return 0, io.EOF
		}
		s.pull()
	}
	n := copy(p, s.out)
	s.out = s.out[n:]
	if len(s.out) == 0 {
		s.out = s.out[:0]
	}
	return n, nil
}

// pull reads the next chat event and translates it.
func (s *Stream) pull() {
	if !s.started {
		s.started = true
		s.emitResponse("response.created")
		s.emitResponse("response.in_progress")
		return
	}
	data, err := s.next()
	switch {
	case errors.Is(err, io.EOF):
		if s.finish != "" {
			s.end()
		} else {
			s.fail(io.ErrUnexpectedEOF, "upstream stream ended before completion", "upstream_stream_error")
		}
		return
	case err != nil:
		var se *provider.StreamError
		if errors.As(err, &se) {
			s.fail(err, se.Message, se.Code)
		} else {
			s.fail(err, "upstream stream failed before completion", "upstream_stream_error")
		}
		return
	}
	if string(data) == "[DONE]" {
		s.end()
		return
	}
	s.chunk(data)
}

// next returns the data of the next SSE event that has some.
func (s *Stream) next() ([]byte, error) {
	s.data = s.data[:0]
	has := false
	for {
		line, err := s.src.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errors.New("an upstream event line is too long")
		}
		if err != nil && (len(line) == 0 || !errors.Is(err, io.EOF)) {
			if has && errors.Is(err, io.EOF) {
				return s.data, nil
			}
			return nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if has {
				return s.data, nil
			}
			continue
		}
		if v, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			v = bytes.TrimPrefix(v, []byte(" "))
			if has {
				s.data = append(s.data, '\n')
			}
			s.data = append(s.data, v...)
			has = true
			if len(s.data) > MaxEvent {
				return nil, errors.New("an upstream event is larger than 1 MiB")
			}
		}
	}
}

// chatChunk is what the translation reads of a chunk.
type chatChunk struct {
	Model   string `json:"model"`
	Choices []struct {
		Delta        chat.Delta `json:"delta"`
		FinishReason *string    `json:"finish_reason"`
	} `json:"choices"`
	Usage *chat.Usage `json:"usage"`
	Error *struct {
		Message string `json:"message"`
		Code    any    `json:"code"`
	} `json:"error"`
}

func (s *Stream) chunk(data []byte) {
	var c chatChunk
	if err := json.Unmarshal(data, &c); err != nil {
		s.fail(errors.New("the upstream sent an event that is not JSON"), "upstream stream failed before completion", "upstream_stream_error")
		return
	}
	if c.Error != nil {
		code, _ := c.Error.Code.(string)
		if code == "" {
			code = "upstream_stream_error"
		}
		s.fail(errors.New("the upstream stream ended with an error event"), c.Error.Message, code)
		return
	}
	if c.Model != "" {
		s.resp.Model = c.Model
	}
	if c.Usage != nil {
		s.usage = c.Usage
	}
	if len(c.Choices) == 0 {
		return
	}
	ch := c.Choices[0]
	d := ch.Delta
	if d.ReasoningContent != "" || len(d.ThinkingBlocks) > 0 {
		s.reason(d.ReasoningContent, d.ThinkingBlocks)
	}
	if d.Content != nil && *d.Content != "" {
		s.text(*d.Content)
	}
	for _, tc := range d.ToolCalls {
		s.toolCall(tc)
	}
	if ch.FinishReason != nil && *ch.FinishReason != "" {
		s.finish = *ch.FinishReason
	}
	if s.size > MaxOutput {
		s.fail(errors.New("the answer exceeded the translated stream's bound"), "the answer is larger than this gateway relays", "answer_too_large")
	}
}

func (s *Stream) reason(text string, blocks []chat.ThinkingBlock) {
	if s.reasoning < 0 {
		s.closeMessage()
		s.reasoning = len(s.resp.Output)
		s.resp.Output = append(s.resp.Output, Item{Type: "reasoning", ID: newID("rs_"), Status: "in_progress"})
		s.emitItem("response.output_item.added", s.reasoning)
	}
	it := &s.resp.Output[s.reasoning]
	for _, b := range blocks {
		if b.Signature != "" {
			it.Encrypted = b.Signature
		}
		if text == "" && b.Thinking != "" {
			text = b.Thinking
		}
	}
	if text == "" {
		return
	}
	it.Text += text
	s.size += len(text)
	s.delta("response.reasoning_text.delta", it.ID, s.reasoning, text, true)
}

func (s *Stream) text(t string) {
	s.closeReasoning()
	if s.msg < 0 {
		s.msg = len(s.resp.Output)
		s.resp.Output = append(s.resp.Output, Item{Type: "message", ID: newID("msg_"), Status: "in_progress"})
		s.emitItem("response.output_item.added", s.msg)
		s.resp.Output[s.msg].hasText = true
		s.emitPart("response.content_part.added", s.msg)
	}
	it := &s.resp.Output[s.msg]
	it.Text += t
	s.size += len(t)
	s.delta("response.output_text.delta", it.ID, s.msg, t, true)
}

func (s *Stream) toolCall(tc chat.ToolCall) {
	idx := 0
	if tc.Index != nil {
		idx = *tc.Index
	}
	out, ok := s.calls[idx]
	if !ok {
		s.closeReasoning()
		s.closeMessage()
		out = len(s.resp.Output)
		s.calls[idx] = out
		callID := tc.ID
		if callID == "" {
			callID = newID("call_")
		}
		it := s.echo.callItem(callID, tc.Function.Name)
		it.Status = "in_progress"
		s.resp.Output = append(s.resp.Output, it)
		s.emitItem("response.output_item.added", out)
	}
	it := &s.resp.Output[out]
	if it.Name == "" && tc.Function.Name != "" {
		c := s.echo.call(tc.Function.Name)
		it.Name, it.Namespace = c.Name, c.Namespace
	}
	if a := tc.Function.Arguments; a != "" {
		it.Arguments += a
		s.size += len(a)
		// A custom tool's input is a string inside the chat call's JSON
		// arguments: it is sent whole when the call ends.
		if it.Type == "function_call" {
			s.delta("response.function_call_arguments.delta", it.ID, out, a, false)
		}
	}
}

func (s *Stream) closeReasoning() {
	if s.reasoning < 0 {
		return
	}
	i := s.reasoning
	s.reasoning = -1
	it := &s.resp.Output[i]
	if it.Text != "" {
		s.emit("response.reasoning_text.done", map[string]any{"item_id": it.ID, "output_index": i, "content_index": 0, "text": it.Text})
	}
	it.Status = "completed"
	s.emitItem("response.output_item.done", i)
}

func (s *Stream) closeMessage() {
	if s.msg < 0 {
		return
	}
	i := s.msg
	s.msg = -1
	it := &s.resp.Output[i]
	s.emit("response.output_text.done", map[string]any{"item_id": it.ID, "output_index": i, "content_index": 0, "text": it.Text, "logprobs": []string{}})
	s.emitPart("response.content_part.done", i)
	it.Status = s.itemStatus()
	s.emitItem("response.output_item.done", i)
}

func (s *Stream) itemStatus() string {
	if s.finish == chat.FinishLength || s.finish == chat.FinishContentFilter {
		return "incomplete"
	}
	return "completed"
}

// end closes every open item and sends the terminal event.
func (s *Stream) end() {
	s.closeReasoning()
	s.closeMessage()
	for i := range s.resp.Output {
		it := &s.resp.Output[i]
		if it.Status != "in_progress" {
			continue
		}
		switch it.Type {
		case "function_call":
			if it.Arguments == "" {
				it.Arguments = "{}"
			}
			s.emit("response.function_call_arguments.done", map[string]any{"item_id": it.ID, "output_index": i, "name": it.Name, "arguments": it.Arguments})
		case "custom_tool_call":
			it.Input = customInput(it.Arguments)
			if it.Input != "" {
				s.delta("response.custom_tool_call_input.delta", it.ID, i, it.Input, false)
			}
			s.emit("response.custom_tool_call_input.done", map[string]any{"item_id": it.ID, "output_index": i, "input": it.Input})
		default:
			continue
		}
		it.Status = s.itemStatus()
		s.emitItem("response.output_item.done", i)
	}
	s.resp.settle(s.finish)
	s.resp.Usage = fromChatUsage(s.usage)
	if s.resp.Status == "incomplete" {
		s.emitResponse("response.incomplete")
	} else {
		s.emitResponse("response.completed")
	}
	s.done = true
}

// fail ends the stream with response.failed; cause is returned after it.
func (s *Stream) fail(cause error, message, code string) {
	s.resp.Status = "failed"
	s.resp.Error = &ErrorObject{Code: code, Message: message}
	s.resp.Usage = fromChatUsage(s.usage)
	s.emitResponse("response.failed")
	s.done, s.err = true, cause
}

// Event writers. Each event is "event: <type>\ndata: <json>\n\n", its JSON
// carrying type and sequence_number.

func (s *Stream) emitResponse(typ string) {
	b, _ := json.Marshal(&s.resp)
	s.begin(typ)
	s.out = append(s.out, `"response":`...)
	s.out = append(s.out, b...)
	s.endEvent()
}

func (s *Stream) emitItem(typ string, i int) {
	b, _ := json.Marshal(s.resp.Output[i])
	s.begin(typ)
	s.out = append(s.out, `"output_index":`...)
	s.out = strconv.AppendInt(s.out, int64(i), 10)
	s.out = append(s.out, `,"item":`...)
	s.out = append(s.out, b...)
	s.endEvent()
}

func (s *Stream) emitPart(typ string, i int) {
	it := s.resp.Output[i]
	text := ""
	if typ == "response.content_part.done" {
		text = it.Text
	}
	b, _ := json.Marshal(outputText{Type: "output_text", Text: text, Annotations: []string{}, Logprobs: []string{}})
	s.begin(typ)
	s.out = append(s.out, `"item_id":`...)
	s.out = provider.AppendString(s.out, it.ID)
	s.out = append(s.out, `,"output_index":`...)
	s.out = strconv.AppendInt(s.out, int64(i), 10)
	s.out = append(s.out, `,"content_index":0,"part":`...)
	s.out = append(s.out, b...)
	s.endEvent()
}

func (s *Stream) emit(typ string, fields map[string]any) {
	b, _ := json.Marshal(fields)
	s.begin(typ)
	s.out = append(s.out, b[1:len(b)-1]...)
	s.endEvent()
}

// delta is the hot path: written by hand, no reflection.
func (s *Stream) delta(typ, id string, i int, d string, content bool) {
	s.begin(typ)
	s.out = append(s.out, `"item_id":`...)
	s.out = provider.AppendString(s.out, id)
	s.out = append(s.out, `,"output_index":`...)
	s.out = strconv.AppendInt(s.out, int64(i), 10)
	if content {
		s.out = append(s.out, `,"content_index":0`...)
	}
	s.out = append(s.out, `,"delta":`...)
	s.out = provider.AppendString(s.out, d)
	if typ == "response.output_text.delta" {
		s.out = append(s.out, `,"logprobs":[]`...)
	}
	s.endEvent()
}

func (s *Stream) begin(typ string) {
	s.out = append(s.out, "event: "...)
	s.out = append(s.out, typ...)
	s.out = append(s.out, "\ndata: {\"type\":"...)
	s.out = provider.AppendString(s.out, typ)
	s.out = append(s.out, ',')
}

func (s *Stream) endEvent() {
	s.out = append(s.out, `,"sequence_number":`...)
	s.out = strconv.AppendInt(s.out, int64(s.seq), 10)
	s.out = append(s.out, "}\n\n"...)
	s.seq++
}
