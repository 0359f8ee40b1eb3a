package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Stream shape of part 2: the stub writes streamChunks chunks streamInterval
// apart, each carrying its write time (created_ns).
const (
	streamChunks   = 200
	streamInterval = "5ms"
	tLambda        = "lambda"
)

var streamOrder = []string{tDirect, tBare, tNginx, tPortkey, tProxy, tLambda}

// streamSample is one stream as the client saw it.
type streamSample struct {
	delays []int64 // per chunk: arrival minus the stub's write time, ns
	ttft   int64   // request sent to first chunk, ns
	// Lambda path only, ns after the invoke was queued: when the runtime
	// took the event, and when the response's prelude (status, headers)
	// arrived.
	fetched, prelude int64
}

// partStreaming is part 2: streams through each path in alternating order.
func (e *benchEnv) partStreaming(ctx context.Context) error {
	if err := e.startServers(ctx); err != nil {
		return err
	}
	part := &StreamingPart{Chunks: streamChunks, Interval: streamInterval, Streams: e.s.streams, TTFTStreams: e.s.ttftStreams, Paths: map[string]*StreamResult{}}
	e.res.Streaming = part
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}}
	body := chatBody(true)

	lam, pending := e.startLambda(ctx)
	if lam != nil {
		defer lam.close()
	}
	// Streams run unpinned unless -pin-streams: pinned to an otherwise idle
	// core, every hop (nginx and the bare Go hop too) added about 2.4 ms to
	// the p99 chunk delay, the wake-up of that idle core on this VM rather
	// than relay work; part 1 keeps the pinning that makes CPU per request
	// comparable.
	if pins.on && !e.s.pinStreams {
		procs := slices.Clone(e.procs)
		if lam != nil {
			procs = append(procs, lam.p)
		}
		for _, p := range procs {
			if err := setAffinity(p.cmd.Process.Pid); err != nil {
				return fmt.Errorf("unpin %s for the streams: %w", p.name, err)
			}
		}
		defer func() {
			for _, p := range procs {
				if p.cpu >= 0 {
					_ = setAffinity(p.cmd.Process.Pid, p.cpu)
				}
			}
		}()
	}
	acc := map[string][]streamSample{}
	errs := map[string]int{}
	// One short stream per path first: connections, and the proxy's first
	// stream, which is not what a user waits for twice.
	for _, t := range streamOrder {
		if t == tLambda && lam == nil {
			continue
		}
		if _, err := e.streamOnce(ctx, client, lam, t, body, 5, "1ms"); err != nil {
			return fmt.Errorf("warm-up stream via %s: %w", t, err)
		}
	}
	// Unpinned (the default), the long streams of all paths run at the same time, their
	// starts staggered by a fifth of the interval so that their chunks do
	// not contend: a burst of other work on this shared machine then hits
	// every path alike instead of whichever stream happened to be running.
	// Pinned, every proxy shares the one proxy core, so streaming them at
	// once would count a peer's work (Portkey's above all) as each one's
	// relay delay: there each round streams the paths one after another,
	// in a rotating order, so that each has the core to itself.
	concurrent := !pins.on || !e.s.pinStreams
	part.Concurrent = concurrent
	stagger := time.Millisecond
	for i := range e.s.streams {
		var (
			wg sync.WaitGroup
			mu sync.Mutex
		)
		for k := range streamOrder {
			t := streamOrder[(i+k)%len(streamOrder)]
			if t == tLambda && lam == nil {
				continue
			}
			one := func() {
				s, err := e.streamOnce(ctx, client, lam, t, body, streamChunks, streamInterval)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs[t]++
					log.Printf("  stream %d via %s: %v", i, t, err)
					return
				}
				acc[t] = append(acc[t], s)
			}
			if !concurrent {
				one()
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(time.Duration(k) * stagger)
				one()
			}()
		}
		wg.Wait()
	}
	// Time to first token from many short streams (one chunk each): eight
	// long streams are too few for a median of a sub-millisecond delta.
	ttft := map[string][]int64{}
	var fetched, prelude []int64
	for i := range e.s.ttftStreams {
		for k := range streamOrder {
			t := streamOrder[(i+k)%len(streamOrder)]
			if t == tLambda && lam == nil {
				continue
			}
			s, err := e.streamOnce(ctx, client, lam, t, body, 1, "0s")
			if err != nil {
				errs[t]++
				log.Printf("  short stream %d via %s: %v", i, t, err)
				continue
			}
			ttft[t] = append(ttft[t], s.ttft)
			if t == tLambda {
				fetched = append(fetched, s.fetched)
				prelude = append(prelude, s.prelude)
			}
		}
	}
	for _, t := range streamOrder {
		r := &StreamResult{Label: targetLabels[t], Errors: errs[t]}
		if t == tLambda {
			r.Label = "Lambda streaming path (test Runtime API)"
			if lam != nil {
				r.Label += ", " + lam.label
				fd, pd := dist(fetched), dist(prelude)
				r.Fetched, r.Prelude = &fd, &pd
			} else {
				r.Pending = pending
			}
		}
		var delays []int64
		for _, s := range acc[t] {
			delays = append(delays, s.delays...)
		}
		r.Chunks = len(delays)
		r.Chunk = dist(delays)
		r.TTFT = dist(ttft[t])
		part.Paths[t] = r
		log.Printf("  %-8s chunk delay p50=%.0fus p99=%.0fus max=%.0fus ttft p50=%.0fus (%d chunks, %d errors)", t, r.Chunk.P50, r.Chunk.P99, r.Chunk.Max, r.TTFT.P50, r.Chunks, r.Errors)
	}
	return nil
}

// streamOnce runs one stream via path t.
func (e *benchEnv) streamOnce(ctx context.Context, client *http.Client, lam *lambdaPath, t string, body []byte, chunks int, interval string) (streamSample, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if t == tLambda {
		return lam.stream(ctx, body, chunks, interval)
	}
	url := e.url(t)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return streamSample{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer client-key-not-for-upstream")
	req.Header.Set("X-Stub-Chunks", strconv.Itoa(chunks))
	req.Header.Set("X-Stub-Interval", interval)
	for k, v := range e.headers(t) {
		req.Header.Set(k, v)
	}
	s := streamSample{ttft: -1}
	err = readTimed(client, req, func(line []byte, at time.Time, since time.Duration) {
		if ns, ok := createdNS(line); ok {
			s.delays = append(s.delays, at.UnixNano()-ns)
			if s.ttft < 0 {
				s.ttft = since.Nanoseconds()
			}
		}
	})
	if err != nil {
		return streamSample{}, err
	}
	if len(s.delays) != chunks {
		return streamSample{}, fmt.Errorf("stream had %d chunks, want %d", len(s.delays), chunks)
	}
	return s, nil
}

// readTimed sends req with client and reads the answer line by line,
// handing each line to each with when the read that completed it returned
// (at) and how long that was after the request went out (since). A line
// longer than the reader's 64 KiB comes in pieces.
func readTimed(client *http.Client, req *http.Request, each func(line []byte, at time.Time, since time.Duration)) error {
	t0 := time.Now()
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("stream request: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 500))
		return fmt.Errorf("stream status %d: %s", res.StatusCode, b)
	}
	tr := &timedReader{r: res.Body}
	br := bufio.NewReaderSize(tr, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		each(line, tr.last, tr.last.Sub(t0))
		if err == io.EOF {
			return nil
		}
		if err != nil && err != bufio.ErrBufferFull {
			return fmt.Errorf("read stream: %w", err)
		}
	}
}

// timedReader remembers when its last Read returned: the arrival time of
// every line that read completed.
type timedReader struct {
	r    io.Reader
	last time.Time
}

func (t *timedReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.last = time.Now()
	return n, err
}

var createdKey = []byte(`"created_ns":`)

// createdNS finds the stub's write time in an event line.
func createdNS(line []byte) (int64, bool) {
	i := bytes.Index(line, createdKey)
	if i < 0 {
		return 0, false
	}
	rest := line[i+len(createdKey):]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	v, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	return v, err == nil
}
