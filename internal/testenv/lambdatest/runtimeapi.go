// Package lambdatest is a test double of the Lambda Runtime API: enough of
// the documented interface (invocation/next, invocation/{id}/response and
// /error, init/error) for aws-lambda-go's runtime client, recording each
// chunk of a streamed response with its arrival time and the error trailers.
//
// It exists because the Runtime Interface Emulator buffers streamed
// responses: it can prove what a function answers, not when. Pointing a
// function (in a subprocess, via AWS_LAMBDA_RUNTIME_API) at this server shows
// whether its chunks leave one by one.
package lambdatest

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Runtime API header and trailer names.
const (
	HeaderRequestID      = "Lambda-Runtime-Aws-Request-Id"
	HeaderDeadlineMs     = "Lambda-Runtime-Deadline-Ms"
	HeaderFunctionARN    = "Lambda-Runtime-Invoked-Function-Arn"
	HeaderTraceID        = "Lambda-Runtime-Trace-Id"
	HeaderErrorType      = "Lambda-Runtime-Function-Error-Type"
	HeaderErrorBody      = "Lambda-Runtime-Function-Error-Body"
	HeaderResponseMode   = "Lambda-Runtime-Function-Response-Mode"
	StreamingContentType = "application/vnd.awslambda.http-integration-response"
)

// RuntimeAPI is a running test Runtime API server. Invocations are served one
// at a time, in the order Invoke queued them.
type RuntimeAPI struct {
	// FunctionARN is sent as Lambda-Runtime-Invoked-Function-Arn.
	FunctionARN string
	// Timeout sets each invocation's deadline (Lambda-Runtime-Deadline-Ms)
	// from the moment the runtime fetches it. Default one minute.
	Timeout time.Duration
	// OnNext, when set, is called as each invocation/next request arrives,
	// with the number of invocations handed out before it: what the
	// runtime has written by then was written before Lambda could freeze
	// it. Set it before the runtime starts.
	OnNext func(fetched int)

	ln      net.Listener
	srv     *http.Server
	queue   chan *invocation
	closed  chan struct{}
	closeMu sync.Once
	seq     atomic.Int64
	fetched atomic.Int64

	mu       sync.Mutex
	inflight map[string]*invocation
	initErr  *FunctionError
	initDone chan struct{} // closed when the runtime reports an init error
	exitErr  error
	exited   chan struct{} // closed when a runtime started by StartProcess exits
	exitOnce sync.Once
}

type invocation struct {
	id      string
	payload []byte
	onChunk func(Chunk)
	done    chan struct{}
	result  *Result
}

// Result is what the runtime posted for one invocation.
type Result struct {
	RequestID string
	// ContentType of the response post; StreamingContentType for a
	// Function URL or API Gateway stream.
	ContentType string
	// ResponseMode is the Lambda-Runtime-Function-Response-Mode header, if any.
	ResponseMode string
	// Header of the response (or error) post.
	Header http.Header
	// Chunks are the response body as it arrived: one per Read of the
	// request body, which net/http returns as each chunk of a chunked post
	// arrives (chunks that arrive together are merged).
	Chunks []Chunk
	// Trailer holds Lambda-Runtime-Function-Error-Type/-Body when the
	// function failed mid-stream.
	Trailer http.Header
	// ReadErr is set if reading the response body failed.
	ReadErr error
	// Error is set when the runtime posted to /error instead of /response.
	Error *FunctionError
	// Fetched is when the runtime took the invocation; Done when its answer
	// was complete.
	Fetched, Done time.Time
}

// Chunk is one piece of a response body and when it arrived.
type Chunk struct {
	Data []byte
	At   time.Time
}

// FunctionError is a function or init error the runtime reported.
type FunctionError struct {
	Type string
	Body []byte
}

func (e *FunctionError) Error() string { return fmt.Sprintf("%s: %s", e.Type, e.Body) }

// Body is the whole response body.
func (r *Result) Body() []byte {
	var b bytes.Buffer
	for _, c := range r.Chunks {
		b.Write(c.Data)
	}
	return b.Bytes()
}

// ErrorType is the Lambda-Runtime-Function-Error-Type trailer ("" if the
// stream ended cleanly).
func (r *Result) ErrorType() string { return r.Trailer.Get(HeaderErrorType) }

// ErrorBody is the decoded Lambda-Runtime-Function-Error-Body trailer.
func (r *Result) ErrorBody() []byte {
	b, err := base64.StdEncoding.DecodeString(r.Trailer.Get(HeaderErrorBody))
	if err != nil {
		return []byte(r.Trailer.Get(HeaderErrorBody))
	}
	return b
}

// Stream splits a streamed HTTP response into its prelude and body.
func (r *Result) Stream() (Prelude, []byte, error) { return SplitPrelude(r.Body()) }

// NewRuntimeAPI starts a server on a free loopback port and closes it when
// the test ends.
func NewRuntimeAPI(t testing.TB) *RuntimeAPI {
	t.Helper()
	s, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatalf("lambdatest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Listen starts a server on addr; the caller must Close it.
func Listen(addr string) (*RuntimeAPI, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for the runtime API: %w", err)
	}
	s := &RuntimeAPI{
		FunctionARN: "arn:aws:lambda:us-east-1:123456789012:function:lambdatest",
		Timeout:     time.Minute,
		ln:          ln,
		queue:       make(chan *invocation, 64),
		closed:      make(chan struct{}),
		inflight:    map[string]*invocation{},
		initDone:    make(chan struct{}),
		exited:      make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", s.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", s.response)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", s.invocationError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", s.initError)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Addr is host:port, the value for AWS_LAMBDA_RUNTIME_API.
func (s *RuntimeAPI) Addr() string { return s.ln.Addr().String() }

// Close stops the server; a runtime waiting for its next invocation gets an
// error (aws-lambda-go then exits).
func (s *RuntimeAPI) Close() {
	s.closeMu.Do(func() {
		close(s.closed)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			_ = s.srv.Close()
		}
	})
}

// runtimeExited records that the runtime process ended, so that Invoke
// fails at once instead of waiting for an answer that cannot come.
func (s *RuntimeAPI) runtimeExited(err error) {
	s.exitOnce.Do(func() {
		if err == nil {
			err = errors.New("exit status 0")
		}
		s.exitErr = err
		close(s.exited)
	})
}

// InitError returns the init error the runtime reported, or nil.
func (s *RuntimeAPI) InitError() *FunctionError {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.initErr
}

// Invoke queues an event and waits until the runtime has answered it (or
// reported an error for it), ctx ends, or the runtime reports an init error.
func (s *RuntimeAPI) Invoke(ctx context.Context, payload []byte) (*Result, error) {
	return s.InvokeStream(ctx, payload, nil)
}

// InvokeStream is Invoke that also calls onChunk (when not nil) with each
// piece of the response body as it arrives, before the next is read. A test
// uses it to prove streaming by order: the function writes its next piece
// only after onChunk has seen the previous one, so a function that buffers
// waits in vain, instead of passing or failing by how fast the machine is.
// onChunk runs on the server's goroutine; while it runs, the body is not read.
func (s *RuntimeAPI) InvokeStream(ctx context.Context, payload []byte, onChunk func(Chunk)) (*Result, error) {
	inv := &invocation{
		id:      "lambdatest-" + strconv.FormatInt(s.seq.Add(1), 10),
		payload: payload,
		onChunk: onChunk,
		done:    make(chan struct{}),
	}
	s.mu.Lock()
	s.inflight[inv.id] = inv
	s.mu.Unlock()
	select {
	case s.queue <- inv:
	case <-ctx.Done():
		return nil, fmt.Errorf("queue invocation: %w", ctx.Err())
	}
	select {
	case <-inv.done:
		return inv.result, nil
	case <-s.initDone:
		return nil, fmt.Errorf("runtime reported an init error: %w", s.InitError())
	case <-s.exited:
		return nil, fmt.Errorf("runtime process exited: %w", s.exitErr)
	case <-s.closed:
		return nil, errors.New("runtime API closed")
	case <-ctx.Done():
		return nil, fmt.Errorf("invocation %s: %w", inv.id, ctx.Err())
	}
}

func (s *RuntimeAPI) next(w http.ResponseWriter, r *http.Request) {
	if s.OnNext != nil {
		s.OnNext(int(s.fetched.Load()))
	}
	var inv *invocation
	select {
	case inv = <-s.queue:
	case <-r.Context().Done():
		return
	case <-s.closed:
		http.Error(w, "runtime API closed", http.StatusGone)
		return
	}
	s.fetched.Add(1)
	now := time.Now()
	s.mu.Lock() // orders this write before take's read for the race detector
	inv.result = &Result{RequestID: inv.id, Fetched: now}
	s.mu.Unlock()
	h := w.Header()
	h.Set(HeaderRequestID, inv.id)
	h.Set(HeaderDeadlineMs, strconv.FormatInt(now.Add(s.Timeout).UnixMilli(), 10))
	h.Set(HeaderFunctionARN, s.FunctionARN)
	h.Set(HeaderTraceID, "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0")
	h.Set("Content-Type", "application/json")
	_, _ = w.Write(inv.payload)
}

// take removes an in-flight invocation that the runtime is answering.
func (s *RuntimeAPI) take(w http.ResponseWriter, r *http.Request) *invocation {
	id := r.PathValue("id")
	s.mu.Lock()
	inv := s.inflight[id]
	delete(s.inflight, id)
	s.mu.Unlock()
	if inv == nil || inv.result == nil {
		http.Error(w, `{"errorMessage":"unknown or unfetched request id","errorType":"InvalidRequestID"}`, http.StatusBadRequest)
		return nil
	}
	return inv
}

func (s *RuntimeAPI) response(w http.ResponseWriter, r *http.Request) {
	inv := s.take(w, r)
	if inv == nil {
		return
	}
	res := inv.result
	res.ContentType = r.Header.Get("Content-Type")
	res.ResponseMode = r.Header.Get(HeaderResponseMode)
	res.Header = r.Header.Clone()
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Body.Read(buf)
		at := time.Now()
		if n > 0 {
			c := Chunk{Data: bytes.Clone(buf[:n]), At: at}
			res.Chunks = append(res.Chunks, c)
			if inv.onChunk != nil {
				inv.onChunk(c)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			res.ReadErr = err
			break
		}
	}
	res.Trailer = r.Trailer.Clone()
	if res.Trailer == nil {
		res.Trailer = http.Header{}
	}
	res.Done = time.Now()
	accepted(w)
	close(inv.done)
}

func (s *RuntimeAPI) invocationError(w http.ResponseWriter, r *http.Request) {
	inv := s.take(w, r)
	if inv == nil {
		return
	}
	body, err := io.ReadAll(r.Body)
	res := inv.result
	res.ContentType = r.Header.Get("Content-Type")
	res.Header = r.Header.Clone()
	res.Trailer = http.Header{}
	res.ReadErr = err
	res.Error = &FunctionError{Type: r.Header.Get(HeaderErrorType), Body: body}
	res.Done = time.Now()
	accepted(w)
	close(inv.done)
}

func (s *RuntimeAPI) initError(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	first := s.initErr == nil
	if first {
		s.initErr = &FunctionError{Type: r.Header.Get(HeaderErrorType), Body: body}
	}
	s.mu.Unlock()
	if first {
		close(s.initDone)
	}
	accepted(w)
}

func accepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte(`{"status":"OK"}`))
}
