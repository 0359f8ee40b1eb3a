package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"maps"
	"math"
	"net/http"
	"time"
)

// partLatency is part 1: the same non-streamed load through each target,
// at fixed rates and in a closed loop, in alternating rounds.
func (e *benchEnv) partLatency(ctx context.Context) error {
	if err := e.startServers(ctx); err != nil {
		return err
	}
	body := chatBody(false)
	part := &LatencyPart{RequestBytes: len(body), PeakRSSKB: map[string]int64{}}
	e.res.Latency = part

	targets := map[string]string{}
	for _, t := range targetOrder {
		before, err := e.stubCount(ctx)
		if err != nil {
			return err
		}
		n, err := checkAnswer(ctx, e.url(t), body, e.headers(t))
		if err != nil {
			return fmt.Errorf("%s: %w", targetLabels[t], err)
		}
		after, err := e.stubCount(ctx)
		if err != nil {
			return err
		}
		if after-before != 1 {
			return fmt.Errorf("%s: one request made %d requests to the stub, want 1: the answer did not come from the stub", targetLabels[t], after-before)
		}
		if t == tDirect {
			part.ResponseBytes = n
		}
		headers := maps.Clone(answerHeaders)
		maps.Copy(headers, e.headers(t))
		if targets[t], err = writeTargets(e.work, t, e.url(t), body, headers); err != nil {
			return err
		}
	}

	// Warm-up: connection pools, page cache, the Go runtimes' heaps.
	for _, t := range targetOrder {
		var discard samples
		a := attack{target: t, rate: 200, duration: time.Second}
		if err := runAttack(ctx, e.s.vegeta, e.work, a, targets[t], e.pids(t), &discard); err != nil {
			return err
		}
	}

	phases := make([]*Phase, 0, len(e.s.rates)+1)
	for _, r := range e.s.rates {
		phases = append(phases, &Phase{Name: fmt.Sprintf("%d req/s", r), Rate: r})
	}
	phases = append(phases, &Phase{Name: fmt.Sprintf("closed loop, %d workers", e.s.workers), Workers: e.s.workers})
	for _, ph := range phases {
		ph.Rounds = e.s.rounds[ph.Rate]
		dur := e.s.roundDur[ph.Rate]
		ph.RoundSeconds = dur.Seconds()
		acc := map[string]*samples{}
		for _, t := range targetOrder {
			acc[t] = &samples{}
		}
		for round := range ph.Rounds {
			// Rotate the order each round: no target always runs right
			// after the heaviest one.
			for i := range targetOrder {
				t := targetOrder[(i+round)%len(targetOrder)]
				a := attack{target: t, rate: ph.Rate, workers: ph.Workers, duration: dur}
				before, err := e.stubCount(ctx)
				if err != nil {
					return err
				}
				if err := runAttack(ctx, e.s.vegeta, e.work, a, targets[t], e.pids(t), acc[t]); err != nil {
					return err
				}
				after, err := e.stubCount(ctx)
				if err != nil {
					return err
				}
				acc[t].stub += after - before
			}
			log.Printf("  %s: round %d/%d done", ph.Name, round+1, ph.Rounds)
		}
		ph.Targets = map[string]*TargetResult{}
		for _, t := range targetOrder {
			a := acc[t]
			tr := &TargetResult{OK: a.ok, Errors: a.errs, FirstError: a.firstErr, Latency: dist(a.lat), RoundP50: a.roundP50, RoundP99: a.roundP99, StubRequests: a.stub}
			if a.stub < int64(a.ok) {
				return fmt.Errorf("%s: %d answers but only %d requests reached the stub", targetLabels[t], a.ok, a.stub)
			}
			if a.ok > 0 {
				tr.CPUPerReq = round2(float64(a.cpu.Microseconds()) / float64(a.ok))
			}
			if a.elapsed > 0 {
				tr.Throughput = math.Round(float64(a.ok) / a.elapsed.Seconds())
			}
			ph.Targets[t] = tr
			log.Printf("  %-8s %-26s ok=%d err=%d p50=%.0fus p99=%.0fus cpu/req=%.1fus rps=%.0f", t, ph.Name, tr.OK, tr.Errors, tr.Latency.P50, tr.Latency.P99, tr.CPUPerReq, tr.Throughput)
		}
		part.Phases = append(part.Phases, ph)
	}
	for _, t := range targetOrder {
		var sum int64
		for _, pid := range e.pids(t) {
			kb, err := statusKB(pid, "VmHWM")
			if err != nil {
				return err
			}
			sum += kb
		}
		part.PeakRSSKB[t] = sum
	}
	part.Notes = append(part.Notes, pins.note())
	return nil
}

// checkAnswer sends the request once and checks that a JSON answer comes
// back, returning its size.
func checkAnswer(ctx context.Context, url string, body []byte, headers map[string]string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range answerHeaders {
		req.Header.Set(k, v)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("check request: %w", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, fmt.Errorf("check request: read answer: %w", err)
	}
	if res.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`"chat.completion"`)) {
		return 0, fmt.Errorf("check request: status %d: %.300s", res.StatusCode, b)
	}
	return len(b), nil
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
