package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// memChunkBytes pads each chunk of the long stream; with the event's JSON
// around it, 200,000 chunks are about 240 MB (the issue asks for 100 MB or
// more; a longer stream makes the RSS trend less noisy).
const memChunkBytes = 1000

// flatSlackKB is how much RSS may grow over the stream (trend, and median of
// the second half over the first) and still count as flat: GC cycles swing RSS
// by a few MB, while a proxy that buffered the body would grow by all of it.
const flatSlackKB = 4096

// partMemory is part 4: a long stream through a fresh proxy process while
// its RSS is sampled every 50 ms. A proxy that buffered the body would grow
// with it; one that relays event by event stays flat.
func (e *benchEnv) partMemory(ctx context.Context) error {
	if err := e.startServers(ctx); err != nil {
		return err
	}
	p, err := e.startProxy(ctx, "aiproxy-mem", e.s.aiproxy)
	if err != nil {
		return err
	}
	defer p.stop()
	url := "http://" + p.addr + "/" + model + "/chat/completions"
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	body := chatBody(true)
	// One short stream first: the process's start-up allocations are not
	// what this part measures.
	if _, err := streamBytes(ctx, client, url, body, 100); err != nil {
		return fmt.Errorf("warm-up stream: %w", err)
	}
	base, err := statusKB(p.pid(), "VmRSS")
	if err != nil {
		return err
	}

	type sample struct {
		at time.Duration
		kb int64
	}
	var (
		mu      sync.Mutex
		series  []sample
		stop    = make(chan struct{})
		sampled = make(chan struct{})
	)
	t0 := time.Now()
	go func() {
		defer close(sampled)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if kb, err := statusKB(p.pid(), "VmRSS"); err == nil {
				mu.Lock()
				series = append(series, sample{time.Since(t0), kb})
				mu.Unlock()
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	n, err := streamBytes(ctx, client, url, body, e.s.memChunks)
	elapsed := time.Since(t0)
	close(stop)
	<-sampled
	if err != nil {
		return fmt.Errorf("long stream: %w", err)
	}
	hwm, err := statusKB(p.pid(), "VmHWM")
	if err != nil {
		return err
	}
	m := &MemoryPart{Bytes: n, Seconds: round2(elapsed.Seconds()), BaselineKB: base, HWMKB: hwm, Samples: len(series)}
	m.MBps = math.Round(float64(n) / 1e6 / elapsed.Seconds())
	// RSS swings by a few MB with each GC cycle, so flatness is judged on
	// the trend: the least-squares slope of RSS over time, extrapolated over
	// the whole stream, and the medians of the two halves. The first fifth
	// of the stream, while the heap grows to its steady size, is left out.
	var first, second []int64
	var sx, sy, sxx, sxy float64
	settle := elapsed / 5
	mid := settle + (elapsed-settle)/2
	for _, s := range series {
		m.PeakKB = max(m.PeakKB, s.kb)
		if s.at < settle {
			continue
		}
		if s.at < mid {
			first = append(first, s.kb)
		} else {
			second = append(second, s.kb)
		}
		x, y := s.at.Seconds(), float64(s.kb)
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	if k := float64(len(first) + len(second)); k > 2 && k*sxx-sx*sx > 0 {
		slope := (k*sxy - sx*sy) / (k*sxx - sx*sx) // kB per second
		m.TrendKB = int64(math.Round(slope * elapsed.Seconds()))
	}
	m.FirstHalfKB, m.SecondHalfKB = medianKB(first), medianKB(second)
	m.Flat = m.TrendKB <= flatSlackKB && m.SecondHalfKB <= m.FirstHalfKB+flatSlackKB
	for i, s := range series {
		if i < 400 {
			m.Series = append(m.Series, s.kb)
		}
	}
	e.res.Memory = m
	log.Printf("  %d MB in %.1fs: RSS baseline %d kB, peak %d kB, median first/second half %d/%d kB, trend %+d kB, VmHWM %d kB, flat=%v",
		n/1e6, elapsed.Seconds(), base, m.PeakKB, m.FirstHalfKB, m.SecondHalfKB, m.TrendKB, hwm, m.Flat)
	return nil
}

// streamBytes runs one stream of chunks padded chunks, as fast as the stub
// writes them, and returns how many bytes arrived.
func streamBytes(ctx context.Context, client *http.Client, url string, body []byte, chunks int) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Stub-Chunks", strconv.Itoa(chunks))
	req.Header.Set("X-Stub-Chunk-Bytes", strconv.Itoa(memChunkBytes))
	res, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("stream request: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 500))
		return 0, fmt.Errorf("stream status %d: %s", res.StatusCode, b)
	}
	tail := &tailWriter{}
	n, err := io.Copy(tail, res.Body)
	if err != nil {
		return n, fmt.Errorf("read stream: %w", err)
	}
	if !bytes.HasSuffix(tail.b, []byte("data: [DONE]\n\n")) {
		return n, fmt.Errorf("stream did not end with [DONE]")
	}
	return n, nil
}

// tailWriter discards what it is given but keeps the last bytes.
type tailWriter struct{ b []byte }

func (t *tailWriter) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 64 {
		t.b = append(t.b[:0], t.b[len(t.b)-64:]...)
	}
	return len(p), nil
}

func medianKB(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]int64(nil), v...)
	slices.Sort(s)
	return s[len(s)/2]
}
