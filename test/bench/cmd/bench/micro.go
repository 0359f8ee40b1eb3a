package main

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// microPackages hold the hot path's micro-benchmarks (bench_test.go).
// pkg/limits/dynamo measures a rate-limit reservation against moto, beside
// one bare round trip to it; pkg/edge the Lambda edge's work on a streamed
// invoke before its first chunk leaves; pkg/clientapi/messages the Messages
// translators (pkg/proxy holds the Messages handler benchmarks);
// pkg/clientapi/responses and pkg/provider/* the translating drivers' cost per
// request and per chunk (part 6 measures the same paths under load).
var microPackages = []string{"./pkg/route", "./pkg/config", "./pkg/proxy", "./pkg/balancer", "./pkg/health", "./pkg/stats", "./pkg/edge", "./pkg/limits/dynamo", "./pkg/clientapi/messages",
	"./pkg/clientapi/responses", "./pkg/provider/azure", "./pkg/provider/bedrock", "./pkg/provider/anthropic", "./pkg/provider/gemini", "./pkg/provider/cohere", "./pkg/provider/ollama"}

// partMicro is part 5: go test -bench on the hot path's packages, one
// package at a time so that one that does not build (another developer
// mid-edit) does not hide the others. Then a CPU profile of
// BenchmarkHandler, summarized as text.
func (e *benchEnv) partMicro(ctx context.Context) error {
	args := []string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-count", strconv.Itoa(e.s.count), "-benchtime", e.s.benchTime}
	part := &MicroPart{Command: "go " + strings.Join(args, " ") + " " + strings.Join(microPackages, " ")}
	e.res.Micro = part
	var raw strings.Builder
	for _, pkg := range microPackages {
		cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
		cmd.Dir = e.s.root
		out, err := cmd.CombinedOutput()
		raw.Write(out)
		if err != nil {
			part.Failed = append(part.Failed, fmt.Sprintf("%s: %v: %s", pkg, err, lastLines(string(out), 8)))
			log.Printf("  %s failed: %v", pkg, err)
			continue
		}
		part.Rows = append(part.Rows, parseBench(pkg, string(out))...)
	}
	if err := os.WriteFile(filepath.Join(e.s.outDir, "microbench.txt"), []byte(raw.String()), 0o644); err != nil {
		return fmt.Errorf("write microbench.txt: %w", err)
	}
	for _, r := range part.Rows {
		log.Printf("  %-45s %10.0f ns/op %8.0f B/op %5.0f allocs/op", r.Name, r.NsOp, r.BytesOp, r.AllocsOp)
	}
	if p, err := e.profileHandler(ctx); err != nil {
		part.Failed = append(part.Failed, "profile: "+err.Error())
	} else {
		part.Profile = p
	}
	return nil
}

// parseBench reads `go test -bench` output, keeping the median of each
// benchmark's runs.
func parseBench(pkg, out string) []*MicroRow {
	type acc struct{ ns, b, allocs []float64 }
	byName := map[string]*acc{}
	var order []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		a := byName[name]
		if a == nil {
			a = &acc{}
			byName[name] = a
			order = append(order, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				a.ns = append(a.ns, v)
			case "B/op":
				a.b = append(a.b, v)
			case "allocs/op":
				a.allocs = append(a.allocs, v)
			}
		}
	}
	rows := make([]*MicroRow, 0, len(order))
	for _, n := range order {
		a := byName[n]
		rows = append(rows, &MicroRow{Package: strings.TrimPrefix(pkg, "./"), Name: n, NsOp: median(a.ns), BytesOp: median(a.b), AllocsOp: median(a.allocs), Runs: len(a.ns)})
	}
	return rows
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// profileHandler takes a CPU profile of BenchmarkHandler and keeps pprof's
// top functions as text (the binary profile is not kept: it is large and
// tied to one build).
func (e *benchEnv) profileHandler(ctx context.Context) (*ProfileInfo, error) {
	prof := filepath.Join(e.work, "handler.cpu")
	bin := filepath.Join(e.work, "proxy.test")
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "^BenchmarkHandler$", "-benchtime", "2s",
		"-cpuprofile", prof, "-o", bin, "./pkg/proxy")
	cmd.Dir = e.s.root
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go test -cpuprofile: %w: %s", err, lastLines(string(out), 8))
	}
	var text strings.Builder
	for _, mode := range [][]string{{"-top", "-nodecount=30"}, {"-top", "-cum", "-nodecount=40"}} {
		out, err := exec.CommandContext(ctx, "go", append(append([]string{"tool", "pprof"}, mode...), bin, prof)...).CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("go tool pprof: %w: %s", err, lastLines(string(out), 8))
		}
		fmt.Fprintf(&text, "$ go tool pprof %s proxy.test handler.cpu\n%s\n", strings.Join(mode, " "), out)
	}
	name := "handler-cpu.txt"
	if err := os.WriteFile(filepath.Join(e.s.outDir, name), []byte(text.String()), 0o644); err != nil {
		return nil, fmt.Errorf("write %s: %w", name, err)
	}
	return &ProfileInfo{File: name}, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
