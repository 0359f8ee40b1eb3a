package edge

import (
	"bytes"
	"net/http"
	"runtime/debug"
)

// bufferGuard sits between aws-lambda-go-api-proxy's buffering adapters and
// the handler. The adapters' response writers can neither be reset after a
// panic nor answer a handler that wrote nothing (they fail with "Status code
// not set on response"), so the handler writes into a recorder here and the
// finished answer is copied to the adapter's writer:
//
//   - return without writing: 200, empty body;
//   - panic(http.ErrAbortHandler) after writing: the partial answer as
//     written (for a stream, the core handler has already written an SSE error
//     event, which is what a streaming client would also have seen last);
//   - any other panic, or an abort before writing: 500 with an OpenAI-shaped
//     error, the partial answer discarded.
type bufferGuard struct {
	h    http.Handler
	edge *Edge
}

func (g *bufferGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{header: http.Header{}}
	if v, stack, panicked := serveRecover(g.h, rec, r); panicked {
		switch {
		case isAbort(v) && rec.status != 0:
			g.edge.log.Warn("buffered response aborted by handler; returning what it wrote", "method", r.Method, "path", r.URL.Path)
		default:
			if !isAbort(v) {
				g.edge.logPanic(r, v, stack)
			}
			rec.status = http.StatusInternalServerError
			rec.sent = http.Header{"Content-Type": {"application/json"}}
			rec.body.Reset()
			rec.body.WriteString(internalErrorJSON)
		}
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
		rec.sent = rec.header
	}
	for k, vs := range rec.sent {
		w.Header()[k] = vs
	}
	w.WriteHeader(rec.status)
	if rec.body.Len() > 0 {
		_, _ = w.Write(rec.body.Bytes())
	}
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
	return r.body.Write(p)
}

// Flush lets http.NewResponseController(w).Flush succeed; nothing can leave
// before the handler returns on a buffered path.
func (r *recorder) Flush() {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
}
