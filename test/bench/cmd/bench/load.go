package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// attack is one vegeta run against one target.
type attack struct {
	target   string
	rate     int // requests per second; 0 is a closed loop of workers
	workers  int
	duration time.Duration
}

// samples accumulates one target's results over the rounds of a phase.
type samples struct {
	lat      []int64 // latency of each successful request, ns
	ok, errs int
	firstErr string
	cpu      time.Duration // the target's processes, summed over rounds
	stub     int64         // requests that reached the stub during the rounds
	elapsed  time.Duration // time covered by the rounds' requests
	roundP50 []float64
	roundP99 []float64
}

// writeTargets writes a vegeta HTTP-format targets file: one request with
// the chat body, the stub's steering headers and a client key (which the
// proxy replaces; the others forward it).
func writeTargets(dir, name, url string, body []byte, headers map[string]string) (string, error) {
	bodyPath := filepath.Join(dir, name+".body.json")
	if err := os.WriteFile(bodyPath, body, 0o644); err != nil {
		return "", fmt.Errorf("write request body: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s\n", url)
	b.WriteString("Content-Type: application/json\n")
	b.WriteString("Authorization: Bearer client-key-not-for-upstream\n")
	keys := make([]string, 0, len(headers))
	for k := range headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, headers[k])
	}
	fmt.Fprintf(&b, "@%s\n", bodyPath)
	path := filepath.Join(dir, name+".targets")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return "", fmt.Errorf("write targets: %w", err)
	}
	return path, nil
}

// runAttack runs vegeta for one round and adds its results to acc. The CPU
// time of pids is read just before and just after the round.
func runAttack(ctx context.Context, vegeta, work string, a attack, targets string, pids []int, acc *samples) error {
	out := filepath.Join(work, "round.bin")
	args := []string{"attack", "-targets", targets, "-format", "http", "-duration", a.duration.String(),
		"-max-body", "0", "-timeout", "30s", "-output", out}
	if a.rate > 0 {
		args = append(args, "-rate", strconv.Itoa(a.rate)+"/1s")
	} else {
		args = append(args, "-rate", "0", "-workers", strconv.Itoa(a.workers), "-max-workers", strconv.Itoa(a.workers))
	}
	before, err := sumCPU(pids)
	if err != nil {
		return err
	}
	path, argv := pins.command(pins.loadCPU, vegeta, args)
	cmd := exec.CommandContext(ctx, path, argv...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("vegeta attack on %s: %w\n%s", a.target, err, b)
	}
	after, err := sumCPU(pids)
	if err != nil {
		return err
	}
	acc.cpu += after - before
	return decodeResults(ctx, vegeta, out, acc)
}

// sumCPU adds up the CPU time of processes.
func sumCPU(pids []int) (time.Duration, error) {
	var sum time.Duration
	for _, pid := range pids {
		d, err := cpuTime(pid)
		if err != nil {
			return 0, err
		}
		sum += d
	}
	return sum, nil
}

// decodeResults reads a vegeta results file through `vegeta encode -to csv`
// (timestamp, code, latency, bytes out, bytes in, error, ...), keeping only
// what the report needs.
func decodeResults(ctx context.Context, vegeta, file string, acc *samples) error {
	cmd := exec.CommandContext(ctx, vegeta, "encode", "-to", "csv", file)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("vegeta encode: %w", err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("vegeta encode: %w", err)
	}
	r := csv.NewReader(bufio.NewReaderSize(stdout, 1<<20))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	var first, last int64
	start := len(acc.lat)
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return fmt.Errorf("decode vegeta results: %w", err)
		}
		if len(rec) < 6 {
			continue
		}
		ts, _ := strconv.ParseInt(rec[0], 10, 64)
		code, _ := strconv.Atoi(rec[1])
		lat, _ := strconv.ParseInt(rec[2], 10, 64)
		if first == 0 || ts < first {
			first = ts
		}
		if ts+lat > last {
			last = ts + lat
		}
		if code == 200 && rec[5] == "" {
			acc.ok++
			acc.lat = append(acc.lat, lat)
			continue
		}
		acc.errs++
		if acc.firstErr == "" {
			acc.firstErr = fmt.Sprintf("code %d: %s", code, rec[5])
		}
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("vegeta encode: %w: %s", err, stderr.String())
	}
	if last > first {
		acc.elapsed += time.Duration(last - first)
	}
	round := slices.Clone(acc.lat[start:])
	d := dist(round)
	acc.roundP50 = append(acc.roundP50, math.Round(d.P50))
	acc.roundP99 = append(acc.roundP99, math.Round(d.P99))
	return nil
}
