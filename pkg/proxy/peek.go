package proxy

import (
	"bytes"
	"errors"
	"io"
	"net/http"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/clientapi/messages"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// An attempt's 200 event stream is held at its opening until it carries
// content, so that an error sent inside it before then still fails over
// (failover.go). Each client API's stream has its own judge of what
// counts as content.

// streamJudge is the judge of what this plan's upstream streams: a
// native Messages upstream Anthropic's events, a native Responses upstream
// the Responses API's, any other chat chunks (the chat hub's upstream
// streams chat, translated only after the chain has answered).
func (pl *plan) streamJudge() func([]byte) openingVerdict {
	switch {
	case pl.nativeMessages():
		return anthropicOpeningEvent
	case pl.plugin != nil && pl.plugin.RouteType == config.RouteResponses && pl.api == nil:
		return responsesOpeningEvent
	}
	return openingEvent
}

// peekStream holds a 200 event stream's opening events, up to peekLimit
// bytes, until one carries content (text, a tool call, reasoning) or the
// stream ends: an error event, a cut or an empty end before then is a
// failure ("error"; a read_timeout is "timeout"). The held bytes are
// replayed in front of the rest. An error that says the upstream is
// throttling (Bedrock's ThrottlingException inside a ConverseStream, an
// OpenAI-compatible server's rate_limit_error event) is "http_429" where
// the criteria name it, and answers 429 if no other target does.
//
// judge reads the upstream's events (streamJudge); anthropic says the
// client is answered in Anthropic's error shape.
func peekStream(res *http.Response, r *http.Request, crit config.Criteria, judge func([]byte) openingVerdict, anthropic bool) (*http.Response, config.Criteria, error) {
	var held []byte
	buf := make([]byte, 8<<10)
	scanned := 0
	for len(held) < peekLimit {
		n, err := res.Body.Read(buf)
		held = append(held, buf[:n]...)
		for {
			end, next := eventEnd(held[scanned:])
			if end < 0 {
				break
			}
			verdict := judge(held[scanned : scanned+end])
			scanned += next
			switch verdict {
			case eventContent:
				res.Body = replay(held, res.Body)
				return res, 0, nil
			case eventError:
				res.Body.Close()
				ev := held[scanned-next : scanned]
				e := streamErrorEvent(ev)
				return inStreamAnswer(r, e, ev, anthropic), inStreamKind(e, crit), nil
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) && bytes.Contains(held, []byte("[DONE]")) {
				res.Body = replay(held, io.NopCloser(bytes.NewReader(nil)))
				return res, 0, nil // an empty answer, but a whole one
			}
			res.Body.Close()
			kind := config.FailError
			if isTimeout(err) {
				kind = config.FailTimeout
			}
			e := &provider.Error{Status: http.StatusBadGateway, Type: typeServer, Code: "upstream_stream_error", Message: "the upstream stream ended before any content"}
			var se *provider.StreamError
			if errors.As(err, &se) {
				e.Message = se.Message
				if throttled(se.Type, se.Code) {
					e.Status, e.Type, e.Code = http.StatusTooManyRequests, provider.TypeRateLimit, se.Code
				}
			}
			if kind == config.FailError {
				kind = inStreamKind(e, crit)
			}
			return provider.ErrorResponse(r, e), kind, nil
		}
	}
	res.Body = replay(held, res.Body) // past the bound: commit
	return res, 0, nil
}

type openingVerdict int

const (
	eventNone openingVerdict = iota
	eventContent
	eventError
)

// openingEvent judges one event of a chat stream's opening.
func openingEvent(ev []byte) openingVerdict {
	if isErrorEvent(ev) {
		return eventError
	}
	data := eventData(ev)
	if data == nil {
		return eventNone
	}
	if bytes.Equal(data, []byte("[DONE]")) {
		return eventContent
	}
	var arr [16]field
	fields, err := topLevel(data, arr[:0])
	if err != nil {
		return eventContent // not JSON: not ours to judge
	}
	for _, f := range fields {
		switch f.key {
		case "error":
			if v := data[f.start:f.end]; !bytes.Equal(v, []byte("null")) {
				return eventError
			}
		case "choices":
			if chunkHasContent(data[f.start:f.end]) {
				return eventContent
			}
		}
	}
	return eventNone
}

// isErrorEvent reports an event named error (`event: error`).
func isErrorEvent(ev []byte) bool {
	for _, line := range bytes.Split(ev, []byte("\n")) {
		if bytes.Equal(bytes.TrimSpace(line), []byte("event: error")) || bytes.Equal(bytes.TrimSpace(line), []byte("event:error")) {
			return true
		}
	}
	return false
}

// anthropicOpeningEvent judges one event of a Messages stream's opening
// (Anthropic's, or Bedrock's InvokeModel stream framed as Anthropic's):
// message_start, ping, an empty text block's start and a block's stop
// carry nothing yet; a block delta, the start of any other block (tool_use,
// thinking, redacted_thinking, a server tool's) or of a text block with
// text, message_delta (the stop reason) and message_stop are the answer;
// an error event is a failure. An event of a type not known here is the
// answer too, so that it is never held back.
func anthropicOpeningEvent(ev []byte) openingVerdict {
	typ, block, v, ok := typedEvent(ev, "content_block")
	if !ok {
		return v
	}
	switch typ {
	case "error":
		return eventError
	case "message_start", "ping", "content_block_stop":
		return eventNone
	case "content_block_start":
		if memberString(block, "type") == "text" && memberString(block, "text") == "" {
			return eventNone
		}
	}
	return eventContent
}

// responsesOpeningEvent judges one event of a Responses API stream's
// opening: response.created, in_progress and queued, a message item's
// start and an empty content part carry nothing yet; an error event or
// response.failed is a failure; anything else (a text or arguments delta,
// a function call's item, reasoning, response.completed or incomplete,
// an event not known here) is the answer, so that it is never held back.
func responsesOpeningEvent(ev []byte) openingVerdict {
	typ, item, v, ok := typedEvent(ev, "item")
	if !ok {
		return v
	}
	switch typ {
	case "error", "response.failed":
		return eventError
	case "response.created", "response.in_progress", "response.queued", "response.content_part.added":
		return eventNone
	case "response.output_item.added":
		if memberString(item, "type") == "message" {
			return eventNone
		}
	}
	return eventContent
}

// typedEvent reads an event whose data names its "type" (Anthropic's,
// the Responses API's): the type, and the object member named nested. ok
// is false when the event decides itself: an error event is a failure, an
// event without data carries nothing, and data that is not JSON is not
// ours to judge (the answer).
func typedEvent(ev []byte, nested string) (typ string, obj []byte, v openingVerdict, ok bool) {
	if isErrorEvent(ev) {
		return "", nil, eventError, false
	}
	data := eventData(ev)
	if data == nil {
		return "", nil, eventNone, false
	}
	var arr [8]field
	fields, err := topLevel(data, arr[:0])
	if err != nil {
		return "", nil, eventContent, false
	}
	for _, f := range fields {
		switch f.key {
		case "type":
			typ = jsonString(data[f.start:f.end])
		case nested:
			obj = data[f.start:f.end]
		}
	}
	return typ, obj, eventNone, true
}

// memberString is obj's string member key, "" when obj is not an object
// or has none.
func memberString(obj []byte, key string) string {
	v, _ := member(obj, key)
	return jsonString(v)
}

// member is obj's member key as raw JSON; ok is false when obj is not an
// object, has none, or has it as null.
func member(obj []byte, key string) ([]byte, bool) {
	var arr [16]field
	fields, err := topLevel(obj, arr[:0])
	if err != nil {
		return nil, false
	}
	for _, f := range fields {
		if f.key == key {
			v := obj[f.start:f.end]
			return v, !bytes.Equal(v, []byte("null"))
		}
	}
	return nil, false
}

// chunkHasContent reports whether the first choice carries text, a tool
// call, reasoning or a finish reason.
func chunkHasContent(choices []byte) bool {
	_, text, finish := firstChoice(choices)
	if len(text) > 2 || (len(finish) > 0 && !bytes.Equal(finish, []byte("null"))) {
		return true
	}
	for _, k := range [][]byte{[]byte(`"tool_calls"`), []byte(`"reasoning_content"`), []byte(`"reasoning"`), []byte(`"thinking_blocks"`), []byte(`"refusal":"`), []byte(`"function_call"`)} {
		if bytes.Contains(choices, k) {
			return true
		}
	}
	return false
}

// throttled reports whether an error's type or code says the upstream is
// rate limiting: OpenAI's and Anthropic's names, and Bedrock's.
func throttled(typ, code string) bool {
	switch {
	case typ == provider.TypeRateLimit, typ == "rate_limit_exceeded",
		code == "rate_limit_exceeded", code == "ThrottlingException", code == "ServiceQuotaExceededException":
		return true
	}
	return false
}

// inStreamKind is the criterion an error inside a 200 stream meets: a
// throttle is "http_429" where the criteria name it, else any such error
// is "error".
func inStreamKind(e *provider.Error, crit config.Criteria) config.Criteria {
	if e.Status == http.StatusTooManyRequests && crit.Has(config.FailHTTP429) {
		return config.FailHTTP429
	}
	return config.FailError
}

// streamErrorEvent reads an error event that came before any content as
// the OpenAI error the client sees if no other target answers: 429 when
// it says the upstream throttles, else 502. The error is the event's
// "error" object (chat chunks, Anthropic's events), or the event itself
// when its type is "error" (the Responses API's).
func streamErrorEvent(ev []byte) *provider.Error {
	e := &provider.Error{Status: http.StatusBadGateway, Type: typeServer, Code: "upstream_stream_error", Message: "the upstream stream failed before any content"}
	data := eventData(ev)
	if data == nil {
		return e
	}
	obj := data
	if nested, ok := member(data, "error"); ok {
		obj = nested
	} else if memberString(data, "type") != "error" {
		return e
	}
	if m := memberString(obj, "message"); m != "" {
		e.Message = m
	}
	if throttled(memberString(obj, "type"), memberString(obj, "code")) {
		e.Status, e.Type, e.Code = http.StatusTooManyRequests, provider.TypeRateLimit, "rate_limit_exceeded"
	}
	return e
}

// inStreamAnswer is the answer an error event before content gives the
// client if no other target answers: e in OpenAI's shape, or for a
// Messages stream in Anthropic's, keeping the event's own error type
// (overloaded_error, ...).
func inStreamAnswer(r *http.Request, e *provider.Error, ev []byte, anthropic bool) *http.Response {
	if !anthropic {
		return provider.ErrorResponse(r, e)
	}
	typ := provider.AnthropicErrorType(e.Status)
	if data := eventData(ev); data != nil {
		var probe struct {
			Error struct {
				Type string `json:"type"`
			} `json:"error"`
		}
		if jsonUnmarshal(data, &probe) == nil && probe.Error.Type != "" {
			typ = messages.ErrorTypeFor(probe.Error.Type, nil)
		}
	}
	return provider.JSONResponse(r, e.Status, provider.AnthropicErrorJSON(typ, e.Message))
}

// replay serves held bytes, then the rest of body.
func replay(held []byte, body io.ReadCloser) io.ReadCloser {
	return &replayBody{r: io.MultiReader(bytes.NewReader(held), body), c: body}
}

type replayBody struct {
	r io.Reader
	c io.Closer
}

func (b *replayBody) Read(p []byte) (int, error) { return b.r.Read(p) }
func (b *replayBody) Close() error               { return b.c.Close() }
