package edge

import (
	"context"
	"encoding/base64"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/proxy"
)

// Limits the platform enforces whether or not the function knows them. The
// edge ends the answer itself shortly before each, so that the client gets
// an OpenAI-shaped error instead of a truncated 200 or a gateway's bare
// 504, and the upstream call is cancelled instead of running on, billed.
const (
	// DefaultDeadlineMargin is how long before the invocation's deadline
	// (Lambda cuts a stream there) the request context ends with
	// proxy.ErrDeadline: time to write the error event and the statistics.
	// When less than four margins remain at the start of an invocation, a
	// quarter of the time left is used instead.
	DefaultDeadlineMargin = 2 * time.Second
	// RESTGatewayTimeout and HTTPAPIGatewayTimeout are how long API
	// Gateway waits for a buffered integration before it answers 504 on
	// its own (while the function keeps running): 29 s for REST, 30 s for
	// HTTP APIs. The upstream call is given that minus the margin.
	RESTGatewayTimeout    = 29 * time.Second
	HTTPAPIGatewayTimeout = 30 * time.Second
	// MaxBufferedPayload is Lambda's limit on a buffered (synchronous)
	// invocation's response: 6 MB, counted on the JSON that carries the
	// answer. bufferedHeadroom is left for the rest of that JSON.
	MaxBufferedPayload = 6 << 20
	bufferedHeadroom   = 16 << 10
)

// GatewayTimeoutEnv names the variable OptionsFromEnv reads to override
// both gateway timeouts (a REST API may have a raised integration timeout,
// an HTTP API a lowered one).
const GatewayTimeoutEnv = "AIPROXY_GATEWAY_TIMEOUT"

// errTooLarge fails writes past the buffered limit. As a
// proxy.RefusedWrite it tells the handler that the client gets a 502
// response_too_large, which its statistics then count.
var errTooLarge = &proxy.RefusedWrite{Status: http.StatusBadGateway, Code: "response_too_large", Reason: "edge: the answer exceeds Lambda's buffered response limit"}

// margin is the margin to keep before a deadline that is left away.
func (e *Edge) margin(left time.Duration) time.Duration {
	m := e.opts.DeadlineMargin
	if m <= 0 {
		m = DefaultDeadlineMargin
	}
	return min(m, left/4)
}

// streamContext is the request context of a streamed answer: it ends with
// proxy.ErrDeadline a margin before the invocation's deadline.
func (e *Edge) streamContext(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithDeadlineCause(ctx, dl.Add(-e.margin(time.Until(dl))), proxy.ErrDeadline)
}

// bufferedContext is the request context of a buffered answer: it ends
// with proxy.ErrDeadline a margin before the gateway gives up, or before
// the invocation's deadline if that comes first.
func (e *Edge) bufferedContext(ctx context.Context, gateway time.Duration) (context.Context, context.CancelFunc) {
	if e.opts.GatewayTimeout > 0 {
		gateway = e.opts.GatewayTimeout
	}
	cut := time.Now().Add(gateway - e.margin(gateway))
	if dl, ok := ctx.Deadline(); ok {
		if c := dl.Add(-e.margin(time.Until(dl))); c.Before(cut) {
			cut = c
		}
	}
	return context.WithDeadlineCause(ctx, cut, proxy.ErrDeadline)
}

// encodedLen is the size of body once aws-lambda-go-api-proxy has put it
// in the response JSON: base64 when it is not UTF-8, else a JSON string
// (aws-lambda-go does not escape HTML; Go always escapes U+2028/9).
func encodedLen(body []byte) int {
	if !utf8.Valid(body) {
		return base64.StdEncoding.EncodedLen(len(body)) + 2
	}
	return escapedLen(body) + 2
}

// escapedLen is the length of body escaped in a JSON string, quotes aside.
func escapedLen(body []byte) int {
	n := 0
	for i := 0; i < len(body); i++ {
		switch c := body[i]; {
		case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f':
			n += 2
		case c < 0x20:
			n += 6
		case c == 0xE2 && i+2 < len(body) && body[i+1] == 0x80 && (body[i+2] == 0xA8 || body[i+2] == 0xA9):
			n += 6
			i += 2
		default:
			n++
		}
	}
	return n
}

// encodedSize follows, write by write, the least size a body can have once
// encoded in the response JSON (encodedLen), so that a body too large for
// it is refused while it is written, when the handler still hears of it,
// rather than after the handler has returned and counted it. Until a byte
// proves the body is not UTF-8 (then base64) it may still become either.
type encodedSize struct {
	raw, escaped int
	invalid      bool
	tail         []byte // the start of a rune cut by the last write
}

func (s *encodedSize) add(p []byte) {
	s.raw += len(p)
	// A U+2028 cut by a write counts short: a lower bound still.
	s.escaped += escapedLen(p)
	if !s.invalid {
		s.checkUTF8(p)
	}
}

// least is a lower bound of encodedLen of the whole body, whatever comes
// next: both lengths only grow.
func (s *encodedSize) least() int {
	b64 := base64.StdEncoding.EncodedLen(s.raw) + 2
	if s.invalid {
		return b64
	}
	return min(b64, s.escaped+2)
}

// checkUTF8 validates p as the continuation of what came before: a rune
// cut by the previous write is completed first, one cut at p's end kept.
func (s *encodedSize) checkUTF8(p []byte) {
	if len(s.tail) > 0 {
		buf := append(s.tail, p[:min(len(p), utf8.UTFMax-len(s.tail))]...)
		if !utf8.FullRune(buf) {
			s.tail = buf
			return
		}
		r, size := utf8.DecodeRune(buf)
		if r == utf8.RuneError && size == 1 {
			s.invalid = true
			return
		}
		p = p[size-len(s.tail):]
		s.tail = s.tail[:0]
	}
	cut := len(p)
	for j := len(p) - 1; j >= 0 && j >= len(p)-utf8.UTFMax+1; j-- {
		if utf8.RuneStart(p[j]) {
			if !utf8.FullRune(p[j:]) {
				cut = j
			}
			break
		}
	}
	if !utf8.Valid(p[:cut]) {
		s.invalid = true
		return
	}
	s.tail = append(s.tail[:0], p[cut:]...)
}

// OpenAI-shaped bodies of the errors the buffered paths answer themselves.
const (
	tooLargeJSON = `{"error":{"message":"the answer is larger than the 6 MB Lambda allows for a buffered response; use streaming (a Function URL or a REST API in STREAM mode) or ask for less","type":"server_error","param":null,"code":"response_too_large"}}`
	cutShortJSON = `{"error":{"message":"the upstream answer was cut short","type":"server_error","param":null,"code":"upstream_body_error"}}`
	deadlineJSON = `{"error":{"message":"the answer did not complete within the time limit","type":"server_error","param":null,"code":"deadline_exceeded"}}`
)
