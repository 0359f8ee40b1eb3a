// Package stubcore is what the test servers under internal/testenv (stub,
// anthropicstub, bedrockstub, geministub, coherestub, ollamastub) share, so
// that each keeps only what its provider's API makes different:
//
//   - Lockstep: a stream writes its next event only after the test called
//     Step, so that streaming is proven by order, not by timing;
//   - Log: the requests a server received, for the test to read back;
//   - Queue: scenarios a test queued for the next requests;
//   - Listen, ListenT: serving on a free local port;
//   - Words: the scenario a model name picks, for the stubs a binary out
//     of process steers by model name alone;
//   - Word, Text: the default answer's deltas, the same in every stub that
//     streams them, so that a test predicts them;
//   - Vector: the deterministic embeddings of the embeddings stubs.
//
// Each is ready as its zero value, so a stub embeds them and a stub built
// as a composite literal (&stub.Server{Record: false}) works too.
package stubcore

import (
	"context"
	"errors"
	"hash/fnv"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Lockstep releases a stream's events one Step at a time, and counts the
// streams that ended early: a test reads those counts to tell a proxy that
// buffered (Stalled) from one that hung up (Cancelled).
type Lockstep struct {
	once  sync.Once
	steps chan struct{}
	// stalled counts waits that ran out: the event before never reached
	// the client (something buffered), so the test never stepped.
	stalled atomic.Int64
	// cancelled counts streams whose client went away.
	cancelled atomic.Int64
}

// stepper makes the channel on first use, so that the zero value works.
// Its room lets a test step ahead of the stream without blocking.
func (l *Lockstep) stepper() chan struct{} {
	l.once.Do(func() { l.steps = make(chan struct{}, 1024) })
	return l.steps
}

// Step lets a lockstep stream write its next event. A test calls it once
// its client has seen the previous one.
func (l *Lockstep) Step() { l.stepper() <- struct{}{} }

// DrainSteps drops Steps no stream took (a test stepped for an event that
// arrived only after its stream stalled), so that they cannot release a
// later stream's events early. Call it while no lockstep stream runs.
func (l *Lockstep) DrainSteps() {
	for {
		select {
		case <-l.stepper():
		default:
			return
		}
	}
}

// Stalled returns how many lockstep streams gave up waiting for a Step.
func (l *Lockstep) Stalled() int64 { return l.stalled.Load() }

// Cancelled returns how many streams ended because the client went away:
// those Await saw, and those the stub counted with CountCancel.
func (l *Lockstep) Cancelled() int64 { return l.cancelled.Load() }

// CountCancel counts a stream the stub ended because its client went away
// while it waited for something other than a Step (a delay between
// events).
func (l *Lockstep) CountCancel() { l.cancelled.Add(1) }

// ResetLockstep drops pending Steps and zeroes Stalled and Cancelled.
func (l *Lockstep) ResetLockstep() {
	l.DrainSteps()
	l.stalled.Store(0)
	l.cancelled.Store(0)
}

// Await waits for the test's next Step, at most wait (no bound if wait is
// 0), so that a test that forgot a Step fails instead of hanging. It
// reports whether the stream goes on: false when the client went away
// (counted in Cancelled) or the wait ran out (counted in Stalled).
func (l *Lockstep) Await(ctx context.Context, wait time.Duration) bool {
	var timeout <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-l.stepper():
		return true
	case <-ctx.Done():
		l.cancelled.Add(1)
		return false
	case <-timeout:
		l.stalled.Add(1)
		return false
	}
}

// Log is the requests a server received, R being its own Request type.
type Log[R any] struct {
	mu       sync.Mutex
	requests []R
}

// Add records a request.
func (l *Log[R]) Add(r R) {
	l.mu.Lock()
	l.requests = append(l.requests, r)
	l.mu.Unlock()
}

// Requests returns what the server has received so far.
func (l *Log[R]) Requests() []R {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]R(nil), l.requests...)
}

// Last returns the last request received, or a zero one.
func (l *Log[R]) Last() R {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.requests) == 0 {
		var zero R
		return zero
	}
	return l.requests[len(l.requests)-1]
}

// ForgetRequests empties the log.
func (l *Log[R]) ForgetRequests() {
	l.mu.Lock()
	l.requests = nil
	l.mu.Unlock()
}

// Queue holds the scenarios a test queued, S being the server's own
// Scenario type: each request takes the next, before the server's other
// ways of choosing one.
type Queue[S any] struct {
	mu    sync.Mutex
	queue []S
}

// Next queues scenarios for the next requests.
func (q *Queue[S]) Next(sc ...S) {
	q.mu.Lock()
	q.queue = append(q.queue, sc...)
	q.mu.Unlock()
}

// Take removes and returns the next queued scenario; false when none is.
func (q *Queue[S]) Take() (S, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.queue) == 0 {
		var zero S
		return zero, false
	}
	sc := q.queue[0]
	q.queue = q.queue[1:]
	return sc, true
}

// ForgetQueued drops the scenarios no request took.
func (q *Queue[S]) ForgetQueued() {
	q.mu.Lock()
	q.queue = nil
	q.mu.Unlock()
}

// server is how a stub is served: a header timeout so that a stuck
// client cannot hold a connection for ever.
func server(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
}

// Serve answers on l with h until l is closed, which is not an error.
func Serve(l net.Listener, h http.Handler) error {
	err := server(h).Serve(l)
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Listen serves h on a free local port and returns its base URL
// (http://127.0.0.1:port) and a function that shuts it down, waiting up to
// 2 s for requests in flight.
func Listen(h http.Handler) (endpoint string, stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	hs := server(h)
	go func() { _ = hs.Serve(l) }()
	return "http://" + l.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
	}, nil
}

// ListenT is Listen for a test: it fails t if no port can be had, and
// shuts the server down when t ends.
func ListenT(t testing.TB, h http.Handler) string {
	t.Helper()
	endpoint, stop, err := Listen(h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return endpoint
}

// Words is the set of a model name's "+"-separated words (text+lockstep):
// the scenario a stub steered by model name alone plays.
func Words(model string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Split(model, "+") {
		m[w] = true
	}
	return m
}

// Vector is a stub's embedding of text: dims values in [-1, 1) drawn by
// xorshift from text's FNV-1a hash (ored with salt: a stub's own variant),
// each exactly representable as float32, so that a test compares what came
// through a driver with the stub's own call.
func Vector(text string, salt uint64, dims int) []float32 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(text))
	x := h.Sum64() | salt
	out := make([]float32, dims)
	for i := range out {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		out[i] = float32(int32(x>>40)&0xffff-0x8000) / 0x8000
	}
	return out
}

// Word is the text of delta i of a default answer.
func Word(i int) string { return "tok" + strconv.Itoa(i) + " " }

// Text is a default answer of n deltas: the first n Words together.
func Text(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(Word(i))
	}
	return b.String()
}
