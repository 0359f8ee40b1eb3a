package proxy

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/clientapi/messages"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

// maxMessagesAnswer bounds a chat completion held for its translation into
// an Anthropic message: Lambda's own response limit, 6 MB, is below it.
const maxMessagesAnswer = 8 << 20

// messagesAnswer finishes a non-streamed answer on a Messages route,
// before its header is sent: an error becomes Anthropic's shape; a chat
// completion from the hub becomes an Anthropic message. A native answer
// passes as it came.
func messagesAnswer(res *http.Response, pl *plan) error {
	if res.StatusCode >= 300 {
		return messagesErrorBody(res)
	}
	if pl.nativeMessages() {
		return nil
	}
	upstream := res.Body
	b, err := io.ReadAll(io.LimitReader(upstream, maxMessagesAnswer+1))
	if err != nil {
		return &answerError{cause: err, e: &apiError{status: http.StatusBadGateway, message: "the upstream answer was cut short", typ: typeServer, code: "upstream_body_error"}}
	}
	if len(b) > maxMessagesAnswer {
		return &answerError{e: &apiError{status: http.StatusBadGateway, message: fmt.Sprintf("the upstream answer is larger than %d bytes", maxMessagesAnswer), typ: typeServer, code: "response_too_large"}}
	}
	out, err := messages.FromCompletion(b, pl.model)
	if err != nil {
		return &answerError{e: &apiError{status: http.StatusInternalServerError, message: err.Error(), typ: typeServer, code: "invalid_upstream_answer"}}
	}
	setBody(res, upstream, out)
	return nil
}

// messagesErrorBody puts an upstream error in Anthropic's shape: a chat
// error translated, Anthropic's own kept, anything else replaced by one
// naming the status. The status stays the upstream's.
func messagesErrorBody(res *http.Response) error {
	upstream := res.Body
	var src io.Reader = upstream
	if strings.EqualFold(strings.TrimSpace(res.Header.Get("Content-Encoding")), "gzip") {
		if zr, err := gzip.NewReader(upstream); err == nil {
			src = zr
		}
	}
	b, _ := io.ReadAll(io.LimitReader(src, maxErrorBody+1))
	if len(b) > maxErrorBody {
		b = nil
	}
	setBody(res, upstream, messages.ErrorFromChat(res.StatusCode, b))
	return nil
}

// setBody replaces an answer's body with b, closing upstream with it.
func setBody(res *http.Response, upstream io.Closer, b []byte) {
	res.Header.Del("Content-Encoding")
	res.Header.Set("Content-Type", "application/json")
	res.Header.Set("Content-Length", strconv.Itoa(len(b)))
	res.ContentLength = int64(len(b))
	res.Body = struct {
		io.Reader
		io.Closer
	}{bytes.NewReader(b), upstream}
}

// messagesStream translates a relayed chat stream (the hub) into
// Anthropic's events; a native stream is already Anthropic's.
func messagesStream(res *http.Response, pl *plan, relay *sseRelay) {
	relay.anthropic = pl.nativeMessages()
	if relay.anthropic {
		return
	}
	res.Body = &messagesEvents{src: relay, tr: messages.NewStream(pl.model), buf: make([]byte, 16<<10)}
}

// messagesEvents reads the relay's chat events and hands on Anthropic's,
// event by event, as they come.
type messagesEvents struct {
	src  io.ReadCloser
	tr   *messages.Stream
	in   []byte
	out  []byte
	buf  []byte
	done bool
}

func (m *messagesEvents) Read(p []byte) (int, error) {
	for len(m.out) == 0 {
		if m.done {
			return 0, io.EOF
		}
		n, err := m.src.Read(m.buf)
		if n > 0 {
			m.feed(m.buf[:n])
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			m.done = true
			if !m.tr.Ended() {
				if m.tr.Finished() {
					m.out = append(m.out, m.tr.End()...)
				} else {
					m.out = append(m.out, m.tr.Fail("api_error", "the upstream stream ended before the answer was complete")...)
				}
			}
		default:
			if len(m.out) == 0 {
				return 0, err
			}
			m.done = true
		}
	}
	n := copy(p, m.out)
	m.out = m.out[n:]
	if len(m.out) == 0 {
		m.out = m.out[:0:0]
	}
	return n, nil
}

func (m *messagesEvents) feed(b []byte) {
	m.in = append(m.in, b...)
	for {
		end, next := eventEnd(m.in)
		if end < 0 {
			break
		}
		if data := eventData(m.in[:end]); data != nil {
			m.out = append(m.out, m.tr.Event(data)...)
		}
		m.in = m.in[next:]
	}
	if len(m.in) > maxPendingEvent {
		m.out = append(m.out, m.tr.Fail("api_error", "the upstream sent an event larger than the proxy takes")...)
		m.in = nil
	}
	if len(m.in) == 0 {
		m.in = m.in[:0:0]
	}
}

func (m *messagesEvents) Close() error { return m.src.Close() }

// writeMessagesError writes the proxy's own error in Anthropic's shape and
// status (503 is Anthropic's 529 overloaded_error) and returns the status.
func writeMessagesError(w http.ResponseWriter, e *apiError) int {
	status := e.status
	if status == http.StatusServiceUnavailable {
		status = 529
	}
	typ := provider.AnthropicErrorType(status)
	if e.code == "invalid_api_key" {
		typ = "authentication_error"
	}
	h := w.Header()
	for k, v := range e.header {
		h[k] = v
	}
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(provider.AnthropicErrorJSON(typ, e.message))
	return status
}

// appendMessagesFailure ends a native Messages stream with Anthropic's
// `event: error` (appendFailure's choice).
func (s *sseRelay) appendMessagesFailure(out, failure []byte) []byte {
	var probe struct {
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Code    string `json:"code"`
		} `json:"error"`
	}
	_ = jsonUnmarshal(failure, &probe)
	typ := messages.ErrorTypeFor(probe.Error.Type, probe.Error.Code)
	return append(out, provider.AnthropicErrorEvent(typ, probe.Error.Message)...)
}

// keepAnthropic reads usage, model and text from a native Messages
// stream's events: message_start carries the model and the input side of
// usage, message_delta the output side (and, from newer servers, the input
// side again).
func (s *sseRelay) keepAnthropic(data []byte) {
	var arr [8]field
	fields, err := topLevel(data, arr[:0])
	if err != nil {
		return
	}
	var typ string
	var usage, message, delta []byte
	for _, f := range fields {
		v := data[f.start:f.end]
		switch f.key {
		case "type":
			typ = jsonString(v)
		case "usage":
			usage = v
		case "message":
			message = v
		case "delta":
			delta = v
		}
	}
	switch typ {
	case "message_start":
		var marr [12]field
		mf, err := topLevel(message, marr[:0])
		if err != nil {
			return
		}
		for _, f := range mf {
			v := message[f.start:f.end]
			switch f.key {
			case "model":
				s.outcome.responseModel = jsonString(v)
			case "usage":
				s.outcome.usage = mergeAnthropicUsage(nil, v)
			}
		}
	case "message_delta":
		s.outcome.usage = mergeAnthropicUsage(s.outcome.usage, usage)
		if c := s.collect; c != nil {
			var darr [4]field
			if df, err := topLevel(delta, darr[:0]); err == nil {
				for _, f := range df {
					if f.key == "stop_reason" {
						c.finish = jsonString(delta[f.start:f.end])
					}
				}
			}
		}
	case "content_block_delta":
		if c := s.collect; c != nil {
			var darr [4]field
			if df, err := topLevel(delta, darr[:0]); err == nil {
				for _, f := range df {
					if f.key == "text" {
						c.add(jsonString(delta[f.start:f.end]))
					}
				}
			}
		}
	}
}

// anthropicCounts are the members of Anthropic's usage object.
type anthropicCounts struct {
	input, output, cacheRead, cacheWrite int
	seen                                 [4]bool
}

func readAnthropicCounts(raw []byte) (anthropicCounts, bool) {
	var c anthropicCounts
	var arr [8]field
	fields, err := topLevel(raw, arr[:0])
	if err != nil {
		return c, false
	}
	for _, f := range fields {
		v := raw[f.start:f.end]
		var dst *int
		var i int
		switch f.key {
		case "input_tokens":
			dst, i = &c.input, 0
		case "output_tokens":
			dst, i = &c.output, 1
		case "cache_read_input_tokens":
			dst, i = &c.cacheRead, 2
		case "cache_creation_input_tokens":
			dst, i = &c.cacheWrite, 3
		default:
			continue
		}
		if string(v) != "null" && scanCount(v, dst) {
			c.seen[i] = true
		}
	}
	return c, true
}

// mergeAnthropicUsage reads Anthropic's usage (input_tokens without the
// cached ones) into the statistics' shape (prompt tokens with them),
// over what an earlier event said: counts an event leaves out stay.
func mergeAnthropicUsage(prev *stats.Usage, raw []byte) *stats.Usage {
	c, ok := readAnthropicCounts(raw)
	if !ok {
		return prev
	}
	u := stats.Usage{}
	input := 0
	if prev != nil {
		u = *prev
		input = prev.PromptTokens - prev.CacheReadTokens - prev.CacheWriteTokens
	}
	if c.seen[0] {
		input = c.input
	}
	if c.seen[1] {
		u.CompletionTokens = c.output
	}
	if c.seen[2] {
		u.CacheReadTokens = c.cacheRead
	}
	if c.seen[3] {
		u.CacheWriteTokens = c.cacheWrite
	}
	u.PromptTokens = input + u.CacheReadTokens + u.CacheWriteTokens
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	u.Estimated = false
	return &u
}

// readUsage is the answer scan's usage reader: Anthropic's on a native
// Messages route, OpenAI's otherwise.
func (t *answerTap) readUsage(raw []byte) *stats.Usage {
	if t.setup.anthropicUsage {
		if len(raw) == 0 || raw[0] != '{' {
			return nil
		}
		return mergeAnthropicUsage(nil, raw)
	}
	return decodeUsage(raw)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
