package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/aws/aws-lambda-go/events"
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

// stream runs the handler in a goroutine writing into a pipe and returns at
// once: aws-lambda-go then opens the response to the Runtime API while the
// handler is still waiting for its upstream, and the first Read of the
// answer waits for the handler to commit its header (first Write,
// WriteHeader or Flush, or its return). That header then leaves as soon as
// it exists, instead of after a new request to the Runtime API is set up.
// The request's context derives from ctx (the invoke's), so a cancelled
// invoke cancels the handler's upstream call, and it ends with
// proxy.ErrDeadline a margin before the invocation's deadline, so that the
// handler ends the stream itself before Lambda cuts it.
func (e *Edge) stream(ctx context.Context, r *http.Request, prelude func(streamHead, io.Reader) io.Reader) *streamResponse {
	hctx, cancel := e.streamContext(ctx)
	r = r.WithContext(hctx)
	pr, pw := io.Pipe()
	w := &streamWriter{header: http.Header{}, pw: pw, ready: make(chan struct{})}
	go func() {
		defer cancel()
		defer func() { e.finishStream(w, r, recover()) }()
		e.h.ServeHTTP(w, r)
	}()
	// Let the handler send its upstream request before this goroutine
	// opens the response: with one P (a small Lambda), the new goroutine
	// would otherwise wait for that, and the upstream's wait is what the
	// response's setup can hide behind.
	runtime.Gosched()
	return &streamResponse{invoke: ctx, w: w, body: &streamBody{pr: pr, cancel: cancel}, prelude: prelude}
}

// streamResponse is the answer Invoke returns for a stream. aws-lambda-go
// streams it because it is an io.Reader that is not JSON; the answer proper
// (the prelude with status and headers, then the body) comes from the event
// source's aws-lambda-go type, built once the handler has committed its
// header.
type streamResponse struct {
	invoke  context.Context // the invocation's
	w       *streamWriter
	body    *streamBody
	prelude func(streamHead, io.Reader) io.Reader
	resp    io.Reader // nil until the header is committed
}

// Read waits for the handler's header on the first call, then reads the
// answer. An invocation that ends before the handler answered fails the
// stream (aws-lambda-go reports a read error to Lambda as the invoke's
// error) and the handler's writes.
func (s *streamResponse) Read(p []byte) (int, error) {
	if s.resp == nil {
		select {
		case <-s.w.ready:
		case <-s.invoke.Done():
			select {
			case <-s.w.ready: // both happened; the answer wins
			default:
				err := fmt.Errorf("edge: invoke ended before the handler answered: %w", context.Cause(s.invoke))
				_ = s.body.pr.CloseWithError(err)
				s.body.cancel()
				return 0, err
			}
		}
		s.resp = s.prelude(s.w.head, s.body)
	}
	return s.resp.Read(p)
}

// Close ends the handler's context and fails its pending writes.
func (s *streamResponse) Close() error { return s.body.Close() }

// ContentType is the Runtime API's content type of a streamed HTTP answer
// (aws-lambda-go's streaming response types use the same).
func (s *streamResponse) ContentType() string {
	return (&events.LambdaFunctionURLStreamingResponse{}).ContentType()
}

// MarshalJSON refuses, as aws-lambda-go's streaming types do, so that
// lambda.Start streams the answer instead of encoding it.
func (s *streamResponse) MarshalJSON() ([]byte, error) {
	return nil, errors.New("edge: a streamed answer is not JSON")
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
