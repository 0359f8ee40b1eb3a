package provider

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
)

// DiscardBody reads off (up to 1 MiB) and closes the body of the request
// the proxy hands a translating driver's RoundTrip: the driver sends a
// body of its own, and a RoundTripper must close the one it was given.
func DiscardBody(req *http.Request) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(req.Body, 1<<20))
		_ = req.Body.Close()
	}
}

// JSONResponse is a translating driver's non-streamed answer: an OpenAI
// chat completion (or error) of the given status.
func JSONResponse(req *http.Request, status int, body []byte) *http.Response {
	h := http.Header{"Content-Type": {"application/json"}, "Content-Length": {strconv.Itoa(len(body))}}
	return &http.Response{
		Status: strconv.Itoa(status) + " " + http.StatusText(status), StatusCode: status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: req,
	}
}

// ErrorResponse is e as the answer, in OpenAI's shape.
func ErrorResponse(req *http.Request, e *Error) *http.Response {
	res := JSONResponse(req, e.Status, ErrorJSON(e.Message, e.Type, e.Param, e.Code))
	for k, v := range e.Header {
		res.Header[k] = v
	}
	return res
}

// Events is a translated stream: each Next returns whole OpenAI SSE events
// ("data: {...}\n\n"), as soon as the provider's events that make them have
// arrived, io.EOF after the last ("data: [DONE]\n\n" included), or a
// *StreamError when the provider failed mid-stream.
type Events interface {
	Next() ([]byte, error)
	Close() error
}

// StreamResponse is a translating driver's streamed answer: a 200 event
// stream read from ev as the client reads it, never buffered. A
// *StreamError that ends it has the request's credentials (its Report)
// blanked from its message: every client API turns that message into the
// event that ends the client's stream.
func StreamResponse(req *http.Request, ev Events) *http.Response {
	h := http.Header{"Content-Type": {"text/event-stream"}, "Cache-Control": {"no-cache"}}
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: &eventReader{ev: ev, ctx: req.Context()}, ContentLength: -1, Request: req,
	}
}

// eventReader serves Events as an io.ReadCloser.
type eventReader struct {
	ev  Events
	ctx context.Context // for the Report, read only when the stream fails
	buf []byte
	err error
}

func (r *eventReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.buf, r.err = r.ev.Next()
		if r.err != nil && !errors.Is(r.err, io.EOF) {
			r.err = reportFrom(r.ctx).redactStreamError(r.err)
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func (r *eventReader) Close() error { return r.ev.Close() }

// ErrorJSON renders {"error":{"message","type","param","code"}}, OpenAI's
// error object; it is also the payload of the event that ends a failed
// stream.
func ErrorJSON(message, typ, param, code string) []byte {
	b := make([]byte, 0, 96+len(message))
	b = append(b, `{"error":{"message":`...)
	b = AppendString(b, message)
	b = append(b, `,"type":`...)
	b = AppendString(b, typ)
	b = append(b, `,"param":`...)
	if param == "" {
		b = append(b, "null"...)
	} else {
		b = AppendString(b, param)
	}
	b = append(b, `,"code":`...)
	if code == "" {
		b = append(b, "null"...)
	} else {
		b = AppendString(b, code)
	}
	return append(b, "}}"...)
}

// AppendString appends s as a JSON string literal. Bytes that are not
// valid UTF-8 pass as they are, as in the upstream's own text.
func AppendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
