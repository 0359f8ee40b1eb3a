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
)

// verdict is one target of issue 7 beside what this run measured.
type verdict struct {
	What     string
	Target   string
	Measured string
	Result   string
}

// Limits of issue 7. Sizes are SI (10^6 bytes), the stricter reading.
const (
	limP50OverBare   = 50.0  // µs
	limP99OverBare   = 500.0 // µs
	limCPURatio      = 1.5
	limPeakRatio     = 2.0 / 3
	limRewriteAllocs = 30
	limChunkP99      = 1000.0 // µs
	limTTFT          = 1000.0 // µs
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
			sfx := suffix(t)
			if ph := l.phase(200); ph != nil {
				p, b := ph.Targets[t], ph.Targets[tBare]
				d50, d99 := p.Latency.P50-b.Latency.P50, p.Latency.P99-b.Latency.P99
				v = append(v,
					verdict{"added latency over the bare hop at 200 req/s, p50" + sfx, "≤ 50 µs", fmt.Sprintf("%+.0f µs (%s vs %s)", d50, fmtUS(p.Latency.P50), fmtUS(b.Latency.P50)), judge(d50 <= limP50OverBare)},
					verdict{"added latency over the bare hop at 200 req/s, p99" + sfx, "≤ 500 µs", fmt.Sprintf("%+.0f µs (%s vs %s)", d99, fmtUS(p.Latency.P99), fmtUS(b.Latency.P99)), judge(d99 <= limP99OverBare)})
			}
			pc, bc := l.fixedRateCPU(t), l.fixedRateCPU(tBare)
			if bc > 0 {
				ratio := pc / bc
				v = append(v, verdict{"proxy CPU per non-streamed request (all fixed-rate rounds)" + sfx, "≤ 1.5× the bare hop's", fmt.Sprintf("%.2f× (%.0f µs vs %.0f µs)", ratio, pc, bc), judge(ratio <= limCPURatio)})
			}
			if ph := l.phase(0); ph != nil && ph.Targets[tBare].Throughput > 0 {
				p, b := ph.Targets[t].Throughput, ph.Targets[tBare].Throughput
				v = append(v, verdict{"peak throughput (closed loop)" + sfx, "≥ 2/3 of the bare hop's", fmt.Sprintf("%.2f (%.0f vs %.0f req/s)", p/b, p, b), judge(p/b >= limPeakRatio)})
			}
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
		d := s.Paths[tDirect]
		for _, t := range append(proxyTargets(streamOrder), tLambda) {
			p := s.Paths[t]
			name := "local server" + suffix(t)
			if t == tLambda {
				name = "Lambda path"
			}
			if p == nil || p.Pending != "" || p.Chunks == 0 {
				v = append(v, verdict{"per-chunk relay delay p99, " + name, "≤ 1 ms", "not measured", pending},
					verdict{"added time to first token, " + name, "≤ 1 ms", "not measured", pending})
				continue
			}
			res := judge
			dc := p.Chunk.P99 - d.Chunk.P99
			dt := p.TTFT.P50 - d.TTFT.P50
			v = append(v,
				verdict{"per-chunk relay delay p99, " + name, "≤ 1 ms", fmt.Sprintf("%+.0f µs (%s vs direct %s)", dc, fmtUS(p.Chunk.P99), fmtUS(d.Chunk.P99)), res(dc <= limChunkP99)},
				verdict{"added time to first token (p50), " + name, "≤ 1 ms", fmt.Sprintf("%+.0f µs (%s vs direct %s)", dt, fmtUS(p.TTFT.P50), fmtUS(d.TTFT.P50)), res(dt <= limTTFT)})
		}
	}
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
