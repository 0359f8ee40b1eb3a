package edge

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/proxy"
)

// bufferGuard sits between aws-lambda-go-api-proxy's buffering adapters and
// the handler. The adapters' response writers can neither be reset after a
// panic nor answer a handler that wrote nothing (they fail with "Status code
// not set on response"), so the handler writes into a recorder here and the
// finished answer is copied to the adapter's writer:
//
//   - return without writing: 200, empty body;
//   - panic(http.ErrAbortHandler) after writing an event stream: the partial
//     answer as written (the core handler has already written an SSE error
//     event, which is what a streaming client would also have seen last);
//   - the same after writing anything else: a truncated JSON document is no
//     answer, so a 502 (or a 504 when the edge's deadline cut it);
//   - an answer larger than Lambda can return buffered (6 MB): a 502 that
//     says so, having held no more than that;
//   - any other panic, or an abort before writing: 500 with an OpenAI-shaped
//     error, the partial answer discarded.
type bufferGuard struct {
	h    http.Handler
	edge *Edge
}

func (g *bufferGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{header: http.Header{}, limit: MaxBufferedPayload - bufferedHeadroom}
	if v, stack, panicked := serveRecover(g.h, rec, r); panicked {
		switch {
		case isAbort(v) && rec.status != 0 && isEventStream(rec.sent):
			g.edge.log.Warn("buffered stream aborted by handler; returning what it wrote", "method", r.Method, "path", r.URL.Path)
		case isAbort(v) && rec.status != 0:
			// A JSON answer cut short is no answer: a client would parse
			// a truncated document or none.
			status, body := http.StatusBadGateway, cutShortJSON
			if errors.Is(context.Cause(r.Context()), proxy.ErrDeadline) {
				status, body = http.StatusGatewayTimeout, deadlineJSON
			}
			g.edge.log.Warn("buffered answer cut short", "method", r.Method, "path", r.URL.Path, "status", status)
			rec.replace(status, body)
		default:
			if !isAbort(v) {
				g.edge.logPanic(r, v, stack)
			}
			rec.replace(http.StatusInternalServerError, internalErrorJSON)
		}
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
		rec.sent = rec.header
	}
	if rec.over || encodedLen(rec.body.Bytes()) > rec.limit {
		g.edge.log.Error("answer too large for a buffered Lambda response; answering 502", "method", r.Method, "path", r.URL.Path, "limit_bytes", MaxBufferedPayload)
		rec.replace(http.StatusBadGateway, tooLargeJSON)
	}
	for k, vs := range rec.sent {
		w.Header()[k] = vs
	}
	w.WriteHeader(rec.status)
	if rec.body.Len() > 0 {
		_, _ = w.Write(rec.body.Bytes())
	}
}

func isEventStream(h http.Header) bool {
	return strings.HasPrefix(strings.ToLower(h.Get("Content-Type")), "text/event-stream")
}

// serveRecover runs h and returns what it panicked with, and where, if it
// did. The stack is taken in the deferred call, while the panicking frames
// are still on it.
func serveRecover(h http.Handler, w http.ResponseWriter, r *http.Request) (v any, stack []byte, panicked bool) {
	defer func() {
		if v = recover(); v != nil {
			panicked = true
			if !isAbort(v) {
				stack = debug.Stack()
			}
		}
	}()
	h.ServeHTTP(w, r)
	return nil, nil, false
}

// recorder is a buffering http.ResponseWriter with net/http's header
// semantics: the header is fixed by the first WriteHeader or Write.
type recorder struct {
	header http.Header
	sent   http.Header
	status int
	body   bytes.Buffer
	limit  int  // most body bytes held, and most encoded bytes
	over   bool // a write went past limit and was refused
	size   encodedSize
}

// replace discards what the handler wrote for an error of the edge's own.
func (r *recorder) replace(status int, body string) {
	r.status = status
	r.sent = http.Header{"Content-Type": {"application/json"}}
	r.body.Reset()
	r.body.WriteString(body)
	r.over = false
	r.size = encodedSize{}
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	checkWriteHeaderCode(code)
	if r.status != 0 || (code >= 100 && code <= 199) {
		return
	}
	r.status = code
	r.sent = r.header.Clone()
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	if !r.over {
		r.size.add(p)
	}
	if r.over || r.body.Len()+len(p) > r.limit || r.size.least() > r.limit {
		// Hold no more than Lambda could return: the handler's copy
		// fails here, and its upstream body is closed.
		r.over = true
		r.body = bytes.Buffer{}
		return 0, errTooLarge
	}
	if r.body.Available() < len(p) {
		// Grow as bytes.Buffer would, but never past the limit.
		c := min(max(2*r.body.Cap(), r.body.Len()+len(p)), r.limit)
		b := make([]byte, r.body.Len(), c)
		copy(b, r.body.Bytes())
		r.body = *bytes.NewBuffer(b)
	}
	return r.body.Write(p)
}

// Flush lets http.NewResponseController(w).Flush succeed; nothing can leave
// before the handler returns on a buffered path.
func (r *recorder) Flush() {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
}
