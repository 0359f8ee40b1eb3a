package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

// The README's performance summary lives between these markers and is
// rewritten from the results by every full run (and by -render), so that
// it never drifts from docs/BENCHMARKS.md.
const (
	summaryBegin = "<!-- bench:summary (written by make bench from docs/bench/results.json) -->"
	summaryEnd   = "<!-- /bench:summary -->"
)

// writeSummary replaces the marked summary in the README at path.
func writeSummary(path string, r *Results) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	i, j := bytes.Index(b, []byte(summaryBegin)), bytes.Index(b, []byte(summaryEnd))
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %q ... %q section", path, summaryBegin, summaryEnd)
	}
	var out bytes.Buffer
	out.Write(b[:i+len(summaryBegin)])
	out.WriteString("\n" + wrap(summary(r), 80) + "\n")
	out.Write(b[j:])
	return os.WriteFile(path, out.Bytes(), 0o644)
}

// summary is the report in one paragraph: ours against the bare hop, the
// peers, streaming, cold start, memory, and how many targets were met.
func summary(r *Results) string {
	var s []string
	s = append(s, fmt.Sprintf("From the last full run (%s, commit `%s`; %s).", strings.TrimSuffix(r.Date[:min(len(r.Date), 10)], "T"), r.Machine.Commit, placement(r)))
	if l := r.Latency; l != nil && l.Phases != nil && l.Phases[0].Targets[tBare] != nil {
		var at []string
		for _, ph := range l.Phases {
			if p, b := ph.Targets[tProxy], ph.Targets[tBare]; ph.Rate > 0 && p != nil && b != nil {
				at = append(at, fmt.Sprintf("%+.0f µs p50 and %+.0f µs p99 at %d req/s", p.Latency.P50-b.Latency.P50, p.Latency.P99-b.Latency.P99, ph.Rate))
			}
		}
		bc := l.fixedRateCPU(tBare)
		line := "Against a bare `httputil.ReverseProxy` hop, lambda-ai-proxy adds " + strings.Join(at, ", ") +
			fmt.Sprintf(", although it parses, checks and rewrites the JSON body and logs a statistics line; it costs %.2f× the hop's CPU per request", l.fixedRateCPU(tProxy)/bc)
		if ph := l.phase(0); ph != nil && ph.Targets[tProxy] != nil && ph.Targets[tBare].Throughput > 0 {
			line += fmt.Sprintf(" and reaches %.2f× its peak throughput", ph.Targets[tProxy].Throughput/ph.Targets[tBare].Throughput)
		}
		s = append(s, line+".")
		var peers []string
		for _, t := range []string{tNginx, tPortkey} {
			if ph := l.phase(0); ph != nil && ph.Targets[t] != nil {
				peers = append(peers, fmt.Sprintf("%s %.2f× the CPU and %.2f× the peak throughput", targetLabels[t], l.fixedRateCPU(t)/bc, ph.Targets[t].Throughput/ph.Targets[tBare].Throughput))
			}
		}
		if len(peers) > 0 {
			s = append(s, "Beside it, "+strings.Join(peers, "; ")+".")
		}
	}
	if st := r.Streaming; st != nil {
		d, bare := pathOf(st, tDirect), pathOf(st, tBare)
		if p := pathOf(st, tProxy); p != nil && d != nil && bare != nil {
			line := fmt.Sprintf("Streamed chunks leave with %+.0f µs of added p99 relay delay and %+.0f µs of added time to first token over the bare hop", p.Chunk.P99-d.Chunk.P99, p.TTFT.P50-bare.TTFT.P50)
			if lam := pathOf(st, tLambda); lam != nil {
				line += fmt.Sprintf("; on the Lambda path %+.0f µs and %+.0f µs over a direct call", lam.Chunk.P99-d.Chunk.P99, lam.TTFT.P50-d.TTFT.P50)
			}
			if pk := pathOf(st, tPortkey); pk != nil {
				line += fmt.Sprintf(" (Portkey adds %s to the first token)", fmtUS(pk.TTFT.P50-d.TTFT.P50))
			}
			s = append(s, line+".")
		}
	}
	if ps := providerSummary(r); ps != "" {
		s = append(s, ps)
	}
	if c := r.ColdStart; c != nil {
		var rows []string
		for _, row := range c.Rows {
			if row.Target && row.Pending == "" {
				rows = append(rows, fmt.Sprintf("%.1f ms (%s)", row.Dist.P50/1e3, row.Name))
			}
		}
		if len(rows) > 0 {
			s = append(s, "Cold start to the first answer, p50: "+strings.Join(rows, ", ")+".")
		}
	}
	if m := r.Memory; m != nil {
		s = append(s, fmt.Sprintf("Peak RSS %.0f MB while relaying %.0f MB (flat: %v).", kbMB(m.HWMKB), float64(m.Bytes)/1e6, m.Flat))
	}
	met, all := 0, 0
	var missed []string
	for _, v := range verdicts(r) {
		if v.Result == pending || v.Result == reported {
			continue
		}
		all++
		if v.Result == pass {
			met++
		} else {
			missed = append(missed, v.What)
		}
	}
	line := fmt.Sprintf("%d of %d targets met", met, all)
	if len(missed) > 0 {
		line += "; missed: " + strings.Join(missed, "; ") + " (the report shows the profile and what was tried)"
	}
	return strings.Join(append(s, line+"."), " ")
}

func placement(r *Results) string {
	if strings.HasPrefix(r.Pinning, "pinned") {
		return "each proxy pinned to a core of its own"
	}
	return "no CPU pinning"
}

// wrap breaks text into lines of at most width runes, at spaces.
func wrap(text string, width int) string {
	var b strings.Builder
	n := 0
	for i, w := range strings.Fields(text) {
		l := len([]rune(w))
		if i > 0 && n+1+l > width {
			b.WriteString("\n")
			n = 0
		} else if i > 0 {
			b.WriteString(" ")
			n++
		}
		b.WriteString(w)
		n += l
	}
	return b.String()
}
