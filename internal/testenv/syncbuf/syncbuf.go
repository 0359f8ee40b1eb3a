// Package syncbuf holds the two small pieces that let many goroutines share
// one output: a Buffer that collects it while another reads it (tests and
// tools gathering a logger's or a child process's output), and a Writer that
// keeps concurrent writes to one io.Writer whole.
package syncbuf

import (
	"bytes"
	"io"
	"sync"
)

// Buffer is safe for concurrent use. The zero value is empty and ready.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns a copy of everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Writer serializes writes to W, so that writers sharing one output (two
// pipes of a process, log lines and metric records on stdout) never
// interleave inside a line.
type Writer struct {
	mu sync.Mutex
	W  io.Writer
}

func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.W.Write(p)
}
