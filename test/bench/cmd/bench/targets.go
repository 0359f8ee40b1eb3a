package main

import (
	"fmt"
	"strings"
)

// Verdicts of a target.
const (
	pass    = "pass"
	miss    = "**miss**"
	pending = "pending"
	// reported: a figure the report gives beside the targets, with no
	// bound of its own.
	reported = "reported"
)

// verdict is one target of issue 14 beside what this run measured.
type verdict struct {
	What     string
	Target   string
	Measured string
	Result   string
}

// Limits of issue 14 (and issue 7's allocation bound). Sizes are SI (10^6
// bytes), the stricter reading.
const (
	limP50OverBare   = 25.0  // µs, at every fixed rate
	limP99OverBare   = 300.0 // µs, at every fixed rate
	limCPURatio      = 1.0
	limPeakRatio     = 0.95
	limRewriteAllocs = 30
	limChunkP99      = 1000.0 // µs over direct
	limTTFTOverBare  = 50.0   // µs, local server
	limTTFTLambda    = 500.0  // µs over direct, Lambda path
	limColdStart     = 50.0   // ms
	limBinaryBytes   = 15e6
	limPeakRSSKB     = 40e6 / 1024
)

func judge(ok bool) string {
	if ok {
		return pass
	}
	return miss
}

// verdicts evaluates every target against the results.
func verdicts(r *Results) []verdict {
	var v []verdict
	if l := r.Latency; l != nil {
		for _, t := range proxyTargets(targetOrder) {
			v = append(v, latencyVerdicts(l, t)...)
		}
	}
	if m := r.Micro; m != nil {
		worst, name := -1.0, ""
		for _, row := range m.Rows {
			if strings.HasPrefix(row.Name, "BenchmarkRewriteBody") && row.AllocsOp > worst {
				worst, name = row.AllocsOp, row.Name
			}
		}
		if worst >= 0 {
			v = append(v, verdict{"allocations in the rewrite path (" + name + ")", "≤ 30", fmt.Sprintf("%.0f allocs/op", worst), judge(worst <= limRewriteAllocs)})
		} else {
			v = append(v, verdict{"allocations in the rewrite path", "≤ 30", "not measured (see part 5)", pending})
		}
	}
	if s := r.Streaming; s != nil {
		v = append(v, streamingVerdicts(s)...)
	}
	v = append(v, providerVerdicts(r)...)
	v = append(v, balancerVerdicts(r.Micro)...)
	if c := r.ColdStart; c != nil {
		for _, row := range c.Rows {
			if !row.Target {
				continue
			}
			what := "cold start to first answer (p50), " + row.Name
			if row.Pending != "" {
				v = append(v, verdict{what, "≤ 50 ms", "not measured", pending})
				continue
			}
			v = append(v, verdict{what, "≤ 50 ms", fmt.Sprintf("%.1f ms (max %.1f ms)", row.Dist.P50/1e3, row.Dist.Max/1e3), judge(row.Dist.P50/1e3 <= limColdStart)})
		}
		if len(c.Sizes) > 0 {
			sz := c.Sizes[0]
			v = append(v, verdict{"binary size as SAM builds it (linux/arm64)", "≤ 15 MB", fmt.Sprintf("%.2f MB", float64(sz.Bytes)/1e6), judge(sz.Bytes <= limBinaryBytes)})
		}
	}
	if m := r.Memory; m != nil {
		v = append(v, verdict{"peak RSS while relaying " + fmt.Sprintf("%.0f MB", float64(m.Bytes)/1e6), "≤ 40 MB, flat",
			fmt.Sprintf("%.1f MB VmHWM, flat: %v", float64(m.HWMKB)*1024/1e6, m.Flat), judge(float64(m.HWMKB) <= limPeakRSSKB && m.Flat)})
	}
	return v
}

// latencyVerdicts are part 1's targets for one build of the proxy.
func latencyVerdicts(l *LatencyPart, t string) []verdict {
	var v []verdict
	sfx := suffix(t)
	for _, ph := range l.Phases {
		if ph.Rate == 0 || ph.Targets[t] == nil || ph.Targets[tBare] == nil {
			continue
		}
		p, b := ph.Targets[t], ph.Targets[tBare]
		d50, d99 := p.Latency.P50-b.Latency.P50, p.Latency.P99-b.Latency.P99
		v = append(v,
			verdict{fmt.Sprintf("added latency over the bare hop at %d req/s, p50%s", ph.Rate, sfx), "≤ 25 µs", fmt.Sprintf("%+.0f µs (%s vs %s)", d50, fmtUS(p.Latency.P50), fmtUS(b.Latency.P50)), judge(d50 <= limP50OverBare)},
			verdict{fmt.Sprintf("added latency over the bare hop at %d req/s, p99%s", ph.Rate, sfx), "≤ 300 µs", fmt.Sprintf("%+.0f µs (%s vs %s)", d99, fmtUS(p.Latency.P99), fmtUS(b.Latency.P99)), judge(d99 <= limP99OverBare)})
	}
	if pc, bc := l.fixedRateCPU(t), l.fixedRateCPU(tBare); bc > 0 {
		ratio := pc / bc
		v = append(v, verdict{"CPU per non-streamed request, statistics on (all fixed-rate rounds)" + sfx, "≤ 1.0× the bare hop's", fmt.Sprintf("%.2f× (%.0f µs vs %.0f µs)", ratio, pc, bc), judge(ratio <= limCPURatio)})
	}
	if ph := l.phase(0); ph != nil && ph.Targets[tBare] != nil && ph.Targets[tBare].Throughput > 0 && ph.Targets[t] != nil {
		p, b := ph.Targets[t].Throughput, ph.Targets[tBare].Throughput
		v = append(v, verdict{"peak throughput (closed loop)" + sfx, "≥ 0.95× the bare hop's", fmt.Sprintf("%.2f× (%.0f vs %.0f req/s)", p/b, p, b), judge(p/b >= limPeakRatio)})
	}
	return v
}

// streamingVerdicts are part 2's targets: relay delay over direct, added
// time to first token over the bare hop (local) or direct (Lambda).
func streamingVerdicts(s *StreamingPart) []verdict {
	var v []verdict
	d, bare := s.Paths[tDirect], s.Paths[tBare]
	for _, t := range append(proxyTargets(streamOrder), tLambda) {
		p := s.Paths[t]
		name := "local server" + suffix(t)
		ttftWhat, ttftTarget := "added time to first token over the bare hop's (p50), "+name, "≤ 50 µs"
		if t == tLambda {
			name = "Lambda path"
			ttftWhat, ttftTarget = "added time to first token (p50), Lambda path", "≤ 0.5 ms"
		}
		if p == nil || p.Pending != "" || p.Chunks == 0 {
			v = append(v, verdict{"per-chunk relay delay p99, " + name, "≤ 1 ms", "not measured", pending},
				verdict{ttftWhat, ttftTarget, "not measured", pending})
			continue
		}
		dc := p.Chunk.P99 - d.Chunk.P99
		v = append(v, verdict{"per-chunk relay delay p99, " + name, "≤ 1 ms", fmt.Sprintf("%+.0f µs (%s vs direct %s)", dc, fmtUS(p.Chunk.P99), fmtUS(d.Chunk.P99)), judge(dc <= limChunkP99)})
		if t == tLambda {
			dt := p.TTFT.P50 - d.TTFT.P50
			v = append(v, verdict{ttftWhat, ttftTarget, fmt.Sprintf("%+.0f µs (%s vs direct %s)", dt, fmtUS(p.TTFT.P50), fmtUS(d.TTFT.P50)), judge(dt <= limTTFTLambda)})
			continue
		}
		dt := p.TTFT.P50 - bare.TTFT.P50
		v = append(v, verdict{ttftWhat, ttftTarget, fmt.Sprintf("%+.0f µs (%s vs bare %s)", dt, fmtUS(p.TTFT.P50), fmtUS(bare.TTFT.P50)), judge(dt <= limTTFTOverBare)})
	}
	return v
}

// phase returns the phase at rate (0: closed loop), or nil.
func (l *LatencyPart) phase(rate int) *Phase {
	for _, ph := range l.Phases {
		if ph.Rate == rate {
			return ph
		}
	}
	return nil
}

// fixedRateCPU is a target's CPU time per request over all fixed-rate
// phases together, in µs.
func (l *LatencyPart) fixedRateCPU(t string) float64 {
	var cpu float64
	var n int
	for _, ph := range l.Phases {
		if ph.Rate == 0 {
			continue
		}
		tr := ph.Targets[t]
		if tr == nil {
			continue
		}
		cpu += tr.CPUPerReq * float64(tr.OK)
		n += tr.OK
	}
	if n == 0 {
		return 0
	}
	return cpu / float64(n)
}

// fmtUS prints microseconds, switching to milliseconds past 10 ms.
func fmtUS(v float64) string {
	if v >= 10000 || v <= -10000 {
		return fmt.Sprintf("%.1f ms", v/1e3)
	}
	return fmt.Sprintf("%.0f µs", v)
}

// proxyTargets are the builds of the proxy among targets: the binary and,
// with -candidate, the candidate.
func proxyTargets(targets []string) []string {
	var out []string
	for _, t := range targets {
		if t == tProxy || t == tCand {
			out = append(out, t)
		}
	}
	return out
}

func suffix(t string) string {
	if t == tCand {
		return " — " + candLabel
	}
	return ""
}
