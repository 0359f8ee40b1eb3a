package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

// maxPendingEvent bounds how much of one unfinished SSE event the relay holds.
// An upstream that labels a non-SSE body as text/event-stream must not make
// us buffer it whole: past this size the bytes pass through unparsed.
const maxPendingEvent = 256 << 10

var nullUsage = []byte(`,"usage":null}`)

// sseRelay sits between the upstream's event stream and ReverseProxy's copy
// loop. It hands each complete event on as soon as its blank line arrives
// (a partial event is useless to a client, so holding it delays nothing),
// reads usage from the events it passes, drops the usage-only chunk when
// the client did not ask for it, and ends a failed stream with an error
// event instead of a silent truncation.
type sseRelay struct {
	ctx       context.Context
	upstream  io.ReadCloser
	outcome   *outcome
	hideUsage bool

	in      []byte // bytes read, not yet split into events
	out     []byte // complete events ready for the client
	buf     []byte
	passRaw bool // stopped parsing: the body is not SSE
	done    bool
	// anthropic: the events are Anthropic's (a native Messages route).
	anthropic bool
	// collect, when statistics, a rate limit or a deadline need it,
	// gathers the answer's text; sent is the body sent upstream. They
	// make Kong's estimate of the usage so far.
	collect *streamCollect
	sent    []byte
	// api: the stream is the Responses API's (apis.go); terminal: its
	// final event has passed; seq: the next sequence_number.
	api      bool
	terminal bool
	seq      int
}

// usageSoFar is the estimate of what the stream has used up to now, nil
// when nothing was collected.
func (s *sseRelay) usageSoFar() *stats.Usage {
	if s.collect == nil {
		return nil
	}
	return estimateUsage(s.sent, s.collect)
}

func newSSERelay(ctx context.Context, body io.ReadCloser, out *outcome, hideUsage bool) *sseRelay {
	return &sseRelay{ctx: ctx, upstream: body, outcome: out, hideUsage: hideUsage, buf: make([]byte, 32<<10)}
}

func (s *sseRelay) Read(p []byte) (int, error) {
	for len(s.out) == 0 {
		if s.done {
			return 0, io.EOF
		}
		n, err := s.upstream.Read(s.buf)
		if n > 0 {
			s.feed(s.buf[:n])
		}
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) {
			// A clean end: whatever partial event remains goes out as is.
			s.out = append(s.out, s.in...)
			s.in = s.in[:0]
			s.done = true
			s.outcome.streamDone = true
			continue
		}
		if s.ctx.Err() != nil && !deadlineHit(s.ctx) {
			// The client went away; nobody is left to tell.
			return 0, err
		}
		failure := streamFailure(s.ctx, s.outcome, err, s.usageSoFar)
		s.out = append(s.out, s.in...)
		s.in = s.in[:0]
		if len(s.out) > 0 && !bytes.HasSuffix(s.out, []byte("\n\n")) {
			s.out = append(s.out, "\n\n"...)
		}
		s.out = s.appendFailure(s.out, failure)
		s.done = true
	}
	n := copy(p, s.out)
	s.out = s.out[n:]
	if len(s.out) == 0 {
		s.out = s.out[:0:0]
	}
	return n, nil
}

func (s *sseRelay) Close() error { return s.upstream.Close() }

// feed splits newly read bytes into events.
func (s *sseRelay) feed(b []byte) {
	if s.passRaw {
		s.out = append(s.out, b...)
		return
	}
	s.in = append(s.in, b...)
	for {
		end, next := eventEnd(s.in)
		if end < 0 {
			break
		}
		ev := s.in[:next]
		if s.keep(ev[:end]) {
			if s.hideUsage && bytes.Contains(ev, nullUsage) {
				// With include_usage every chunk carries "usage":null; a
				// client that did not ask for usage never saw that member.
				ev = bytes.ReplaceAll(ev, nullUsage, []byte("}"))
			}
			s.out = append(s.out, ev...)
		}
		s.in = s.in[next:]
	}
	if len(s.in) > maxPendingEvent {
		s.passRaw = true
		s.out = append(s.out, s.in...)
		s.in = nil
	}
	if len(s.in) == 0 {
		s.in = s.in[:0:0]
	}
}

// eventEnd finds the blank line that ends the first event: the index where
// the event's text ends and the index after its terminator, or -1. Lines end
// with CRLF, LF or CR, as the SSE specification allows, in any mix. A CR
// that ends the buffer ends a blank line at once even if an LF follows in
// the next read: that LF then starts the next event as an empty line, which
// changes nothing, whereas waiting for it would hold a CR-only stream's
// event until the next one arrives.
func eventEnd(b []byte) (end, next int) {
	for i := 0; i < len(b); i++ {
		if b[i] != '\n' && b[i] != '\r' {
			continue
		}
		j, ok := afterLineEnd(b, i)
		if !ok {
			return -1, -1
		}
		if j < len(b) && (b[j] == '\n' || b[j] == '\r') {
			k, ok := afterLineEnd(b, j)
			if !ok {
				k = len(b) // a lone CR ending the buffer
			}
			return i, k
		}
		i = j - 1
	}
	return -1, -1
}

// afterLineEnd returns the index after the line terminator at b[i]. A CR
// that ends the buffer may be the start of a CRLF: ok is false.
func afterLineEnd(b []byte, i int) (int, bool) {
	if b[i] == '\n' {
		return i + 1, true
	}
	if i+1 == len(b) {
		return i + 1, false
	}
	if b[i+1] == '\n' {
		return i + 2, true
	}
	return i + 1, true
}

// keep inspects one event and reports whether the client should see it.
func (s *sseRelay) keep(ev []byte) bool {
	data := eventData(ev)
	if data == nil {
		return true
	}
	if s.api {
		return s.keepResponses(data)
	}
	if s.outcome.firstToken.IsZero() {
		s.outcome.firstToken = time.Now()
	}
	if s.anthropic {
		s.keepAnthropic(data)
		return true
	}
	if bytes.Equal(data, []byte("[DONE]")) {
		return true
	}
	if s.collect == nil && s.outcome.responseModel != "" && !hasUsageObject(data) {
		return true // nothing more to learn from this chunk
	}
	chunk, ok := readChunk(data)
	if !ok {
		return true
	}
	if chunk.model != "" {
		s.outcome.responseModel = chunk.model
	}
	if c := s.collect; c != nil {
		if chunk.text != nil {
			c.add(jsonString(chunk.text))
		}
		if f := jsonString(chunk.finish); f != "" {
			c.finish = f
		}
	}
	if u := decodeUsage(chunk.usage); u != nil {
		s.outcome.usage = u
		// The usage-only chunk the client did not ask for: hide it so
		// the client sees exactly the stream it would have seen.
		if s.hideUsage && !chunk.choices {
			return false
		}
	}
	return true
}

// eventData returns the data of an event (its data: lines joined), or nil.
func eventData(ev []byte) []byte {
	var data []byte
	for len(ev) > 0 {
		line := ev
		if i := bytes.IndexAny(ev, "\r\n"); i >= 0 {
			line, ev = ev[:i], ev[i+1:]
		} else {
			ev = nil
		}
		v, ok := bytes.CutPrefix(line, []byte("data:"))
		if !ok {
			continue
		}
		v = bytes.TrimPrefix(v, []byte(" "))
		if data == nil {
			data = v
		} else {
			data = append(append(append([]byte(nil), data...), '\n'), v...)
		}
	}
	return data
}

// hasUsageObject reports whether a chunk carries "usage": {...} rather than
// "usage": null, without decoding it.
func hasUsageObject(data []byte) bool {
	i := bytes.LastIndex(data, []byte(`"usage"`))
	if i < 0 {
		return false
	}
	j := skipSpace(data, i+len(`"usage"`))
	if j >= len(data) || data[j] != ':' {
		return false
	}
	j = skipSpace(data, j+1)
	return j < len(data) && data[j] == '{'
}
