package stats

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingSink records each write it receives.
type countingSink struct {
	mu      sync.Mutex
	writes  []string
	block   chan struct{} // when set, each Write waits for it
	entered chan struct{} // when set, told that a Write is waiting
}

func (s *countingSink) Write(p []byte) (int, error) {
	if s.block != nil {
		if s.entered != nil {
			select {
			case s.entered <- struct{}{}:
			default:
			}
		}
		<-s.block
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes = append(s.writes, string(p))
	return len(p), nil
}

func (s *countingSink) all() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.writes, ""), len(s.writes)
}

// Lines stay buffered (the caller never waits on the sink) until Flush,
// which writes them all in one write, in order.
func TestWriterBatchesUntilFlush(t *testing.T) {
	sink := &countingSink{}
	w := NewWriter(sink, 1<<20, time.Hour)
	defer w.Close()
	var want bytes.Buffer
	for i := range 50 {
		line := fmt.Sprintf("{\"n\":%d}\n", i)
		want.WriteString(line)
		if _, err := w.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if got, n := sink.all(); n != 0 || got != "" {
		t.Fatalf("%d writes before Flush", n)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, n := sink.all(); n != 1 || got != want.String() {
		t.Errorf("%d writes, got %q", n, got)
	}
}

// Without a Flush, the background goroutine writes a batch once linger has
// passed since its first line.
func TestWriterFlushesAfterLinger(t *testing.T) {
	sink := &countingSink{}
	w := NewWriter(sink, 1<<20, 10*time.Millisecond)
	defer w.Close()
	_, _ = w.Write([]byte("a\n"))
	_, _ = w.Write([]byte("b\n"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got, _ := sink.all(); got == "a\nb\n" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("lines never written without Flush")
		}
		time.Sleep(time.Millisecond)
	}
}

// The buffer never holds more than its bound: a line that would overflow
// it first writes out what is buffered; a line larger than the bound goes
// straight through. Nothing is dropped and the order holds.
func TestWriterIsBounded(t *testing.T) {
	sink := &countingSink{}
	w := NewWriter(sink, 100, time.Hour)
	defer w.Close()
	var want bytes.Buffer
	lines := []string{strings.Repeat("a", 59) + "\n", strings.Repeat("b", 39) + "\n", strings.Repeat("c", 9) + "\n", strings.Repeat("d", 300) + "\n", "e\n"}
	for _, l := range lines {
		want.WriteString(l)
		_, _ = w.Write([]byte(l))
		w.mu.Lock()
		held := len(w.buf)
		w.mu.Unlock()
		if held > 100 {
			t.Fatalf("buffer holds %d bytes, bound 100", held)
		}
	}
	_ = w.Flush()
	got, n := sink.all()
	if got != want.String() {
		t.Errorf("lines lost or reordered: %q", got)
	}
	// a+b (100), then c alone (flushed before d), d directly, e on Flush.
	if n != 4 {
		t.Errorf("%d writes, want 4: %q", n, sink.writes)
	}
}

// Writers never wait on a slow sink while the buffer has room: with the
// sink blocked in the middle of a background write, Write still returns.
func TestWriteDoesNotWaitForTheSink(t *testing.T) {
	sink := &countingSink{block: make(chan struct{}), entered: make(chan struct{}, 1)}
	w := NewWriter(sink, 1<<20, time.Millisecond)
	_, _ = w.Write([]byte("first\n"))
	<-sink.entered // the background goroutine is inside the blocked Write
	done := make(chan struct{})
	go func() {
		for range 100 {
			_, _ = w.Write([]byte("more\n"))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Write blocked behind a slow sink")
	}
	close(sink.block)
	_ = w.Close()
	if got, _ := sink.all(); strings.Count(got, "more\n") != 100 || !strings.HasPrefix(got, "first\n") {
		t.Errorf("got %q", got)
	}
}

func TestWriterConcurrentLinesStayWhole(t *testing.T) {
	sink := &countingSink{}
	w := NewWriter(sink, 512, time.Millisecond)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				_, _ = fmt.Fprintf(w, "{\"g\":%d,\"i\":%d,\"pad\":%q}\n", g, i, strings.Repeat("x", i%50))
			}
		})
	}
	wg.Wait()
	_ = w.Close()
	got, _ := sink.all()
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 1600 {
		t.Fatalf("%d lines, want 1600", len(lines))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "{\"g\":") || !strings.HasSuffix(l, "\"}") {
			t.Fatalf("broken line %q", l)
		}
	}
}
