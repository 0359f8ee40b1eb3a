package stats

import (
	"io"
	"sync"
	"time"
)

// Defaults of the statistics Writer: a crash (a panic that kills the
// process, a SIGKILL, an out-of-memory kill) loses at most the lines of the
// last DefaultLinger, and never more than DefaultBatchBytes of them (about
// a hundred statistics lines with their EMF records, fewer with payloads).
// On Lambda the edge flushes at the end of every invocation, so a frozen or
// recycled environment loses nothing.
const (
	DefaultBatchBytes = 64 << 10
	DefaultLinger     = 100 * time.Millisecond
)

// Writer takes whole log lines off the request path: Write only copies the
// line into a bounded buffer, and a background goroutine writes the buffer
// to the underlying writer at most linger later, one write for many lines.
// Each Write must be one or more whole lines, so batches never split one.
//
// The buffer never grows beyond its bound: a Write that would overflow it
// first writes out what is buffered itself (the request that fills the
// buffer pays for the write; no line is dropped).
type Writer struct {
	out    io.Writer
	max    int
	linger time.Duration
	kick   chan struct{}
	done   chan struct{}

	mu     sync.Mutex // guards buf, armed, closed
	buf    []byte
	armed  bool // the background goroutine has been told to flush
	closed bool

	wmu   sync.Mutex // one write to out at a time; guards spare
	spare []byte
}

// NewWriter returns a Writer in front of out holding at most maxBytes
// (DefaultBatchBytes if <= 0) for at most linger (DefaultLinger if <= 0).
func NewWriter(out io.Writer, maxBytes int, linger time.Duration) *Writer {
	if maxBytes <= 0 {
		maxBytes = DefaultBatchBytes
	}
	if linger <= 0 {
		linger = DefaultLinger
	}
	w := &Writer{out: out, max: maxBytes, linger: linger, kick: make(chan struct{}, 1), done: make(chan struct{})}
	go w.run()
	return w
}

// Write buffers p, which must end a line. It only blocks on the
// underlying writer when the buffer is full or the Writer is closed.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	for !w.closed && len(w.buf) > 0 && len(w.buf)+len(p) > w.max {
		w.mu.Unlock()
		if err := w.Flush(); err != nil {
			return 0, err
		}
		w.mu.Lock()
	}
	if w.closed || len(p) > w.max {
		w.mu.Unlock()
		w.wmu.Lock()
		defer w.wmu.Unlock()
		return w.out.Write(p)
	}
	w.buf = append(w.buf, p...)
	kick := !w.armed
	w.armed = true
	w.mu.Unlock()
	if kick {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// Flush writes out everything buffered so far and returns once it has been
// written. The Lambda edge calls it before an invocation ends.
func (w *Writer) Flush() error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	w.mu.Lock()
	batch := w.buf
	w.buf, w.spare = w.spare[:0], nil
	w.armed = false
	w.mu.Unlock()
	var err error
	if len(batch) > 0 {
		_, err = w.out.Write(batch)
	}
	w.spare = batch[:0]
	return err
}

// Close flushes and stops the background goroutine; later Writes go
// straight to the underlying writer.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	close(w.done)
	return w.Flush()
}

// run flushes linger after the first line of each batch.
func (w *Writer) run() {
	t := time.NewTimer(0)
	<-t.C
	for {
		select {
		case <-w.kick:
		case <-w.done:
			return
		}
		t.Reset(w.linger)
		select {
		case <-t.C:
		case <-w.done:
			t.Stop()
			return
		}
		_ = w.Flush()
	}
}
