package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strings"
)

// StreamAbortedError is what a streaming response body returns from Read when
// the handler aborted the stream after its header was sent. aws-lambda-go
// turns a body read error into the Lambda-Runtime-Function-Error-Type
// ("StreamAbortedError") and -Body trailers, so Lambda records the invoke as
// failed and the client sees a truncated stream rather than a clean end.
type StreamAbortedError struct {
	// Err is http.ErrAbortHandler for a deliberate abort, or an error
	// describing a panic.
	Err error
}

func (e *StreamAbortedError) Error() string { return "response stream aborted: " + e.Err.Error() }
func (e *StreamAbortedError) Unwrap() error { return e.Err }

// internalErrorJSON is the OpenAI-shaped body of a 500 the edge writes itself.
const internalErrorJSON = `{"error":{"message":"internal error","type":"server_error","code":"internal_error"}}`

// streamHead is the status and header the handler committed.
type streamHead struct {
	status int
	header http.Header
}

// streamWriter is the http.ResponseWriter of a streamed response. Writes go
// straight into the pipe that Lambda reads, so each Write returns once Lambda
// has taken the bytes; Flush therefore only commits the header.
type streamWriter struct {
	header    http.Header
	pw        *io.PipeWriter
	ready     chan struct{} // closed once head is set
	head      streamHead
	committed bool // touched only by the handler goroutine
}

func (w *streamWriter) Header() http.Header { return w.header }

func (w *streamWriter) WriteHeader(code int) {
	checkWriteHeaderCode(code)
	if w.committed {
		return
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		return // informational answers cannot be relayed through Lambda
	}
	w.commit(code)
}

func (w *streamWriter) Write(p []byte) (int, error) {
	if !w.committed {
		w.commit(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil // an empty pipe write would block until a Read
	}
	return w.pw.Write(p)
}

// Flush commits the header (as net/http does); the bytes are already gone.
func (w *streamWriter) Flush() {
	if !w.committed {
		w.commit(http.StatusOK)
	}
}

func (w *streamWriter) commit(code int) {
	w.committed = true
	w.head = streamHead{status: code, header: w.header.Clone()}
	close(w.ready)
}

// streamBody is the Body handed to aws-lambda-go. lambda.Start closes the
// response (and so this body) when it has finished posting it, or failed to:
// closing cancels the handler's context and fails its pending writes, so a
// handler whose reader went away stops instead of blocking forever.
type streamBody struct {
	pr     *io.PipeReader
	cancel context.CancelFunc
}

func (b *streamBody) Read(p []byte) (int, error) { return b.pr.Read(p) }

func (b *streamBody) Close() error {
	b.cancel()
	return b.pr.Close()
}

// stream runs the handler in a goroutine writing into a pipe and returns as
// soon as the handler has committed its header (first Write, WriteHeader or
// Flush, or its return). The request's context derives from ctx (the
// invoke's), so a cancelled invoke cancels the handler's upstream call, and
// it ends with proxy.ErrDeadline a margin before the invocation's deadline,
// so that the handler ends the stream itself before Lambda cuts it.
func (e *Edge) stream(ctx context.Context, r *http.Request) (streamHead, io.ReadCloser, error) {
	hctx, cancel := e.streamContext(ctx)
	r = r.WithContext(hctx)
	pr, pw := io.Pipe()
	w := &streamWriter{header: http.Header{}, pw: pw, ready: make(chan struct{})}
	go func() {
		defer cancel()
		defer func() { e.finishStream(w, r, recover()) }()
		e.h.ServeHTTP(w, r)
	}()
	select {
	case <-w.ready:
	case <-ctx.Done():
		select {
		case <-w.ready: // both happened; the answer wins
		default:
			// Fail the handler's writes so its goroutine ends.
			pr.CloseWithError(context.Cause(ctx))
			cancel()
			return streamHead{}, nil, fmt.Errorf("edge: invoke ended before the handler answered: %w", context.Cause(ctx))
		}
	}
	return w.head, &streamBody{pr: pr, cancel: cancel}, nil
}

// finishStream ends the pipe after the handler returned or panicked. It
// always closes the pipe and always commits a header, so neither Lambda's
// reader nor stream's header wait can hang.
func (e *Edge) finishStream(w *streamWriter, r *http.Request, v any) {
	// The handler's statistics are out before the body ends: Lambda may
	// freeze the environment as soon as it has the whole response.
	e.flush()
	if v == nil {
		if !w.committed {
			w.commit(http.StatusOK) // a handler that wrote nothing: 200, empty body
		}
		_ = w.pw.Close()
		return
	}
	abort := isAbort(v)
	if !abort {
		e.logPanic(r, v, debug.Stack())
	}
	if !w.committed {
		// Nothing sent yet: the client gets a well-formed OpenAI error.
		if abort {
			e.log.Warn("handler aborted before answering", "method", r.Method, "path", r.URL.Path)
		}
		w.header = http.Header{"Content-Type": {"application/json"}}
		w.commit(http.StatusInternalServerError)
		_, _ = w.pw.Write([]byte(internalErrorJSON))
		_ = w.pw.Close()
		return
	}
	var cause error = http.ErrAbortHandler
	if abort {
		e.log.Warn("response stream aborted by handler", "method", r.Method, "path", r.URL.Path)
	} else {
		cause = fmt.Errorf("handler panic: %v", v)
		// The handler did not get to say what went wrong; tell an SSE client
		// in its own framing before cutting the stream.
		if strings.HasPrefix(w.head.header.Get("Content-Type"), "text/event-stream") {
			_, _ = w.pw.Write([]byte("data: " + internalErrorJSON + "\n\n"))
		}
	}
	_ = w.pw.CloseWithError(&StreamAbortedError{Err: cause})
}

// checkWriteHeaderCode panics on a status net/http would also refuse, so a
// handler bug surfaces as a recovered panic (500), not a malformed prelude.
func checkWriteHeaderCode(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
}

// isAbort reports whether a recovered value is http.ErrAbortHandler, the
// standard way for a handler to abort a response it has started.
func isAbort(v any) bool {
	err, ok := v.(error)
	return ok && errors.Is(err, http.ErrAbortHandler)
}

// logPanic logs a handler panic with its stack; never the request body.
func (e *Edge) logPanic(r *http.Request, v any, stack []byte) {
	e.log.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(stack))
}
