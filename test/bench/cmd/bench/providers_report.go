package main

import (
	"fmt"
	"strings"
)

// microPerPath names each path's translation micro-benchmarks (part 5):
// per request and per chunk, package and benchmark name prefix.
var microPerPath = map[string][2][2]string{
	pAzure:     {{"pkg/provider/azure", "BenchmarkRequest"}, {}},
	pBedrock:   {{"pkg/provider/bedrock", "BenchmarkRequest"}, {"pkg/provider/bedrock", "BenchmarkStreamChunk"}},
	pAnthropic: {{"pkg/provider/anthropic", "BenchmarkRequest"}, {"pkg/provider/anthropic", "BenchmarkStreamChunk"}},
	pGemini:    {{"pkg/provider/gemini", "BenchmarkRequest"}, {"pkg/provider/gemini", "BenchmarkStreamChunk"}},
	pMsgsBR:    {{"pkg/provider/bedrock", "BenchmarkMessagesRequest"}, {"pkg/provider/bedrock", "BenchmarkMessagesChunk"}},
	pRespBR:    {{"pkg/clientapi/responses", "BenchmarkRequest"}, {"pkg/clientapi/responses", "BenchmarkStreamChunk"}},
}

// microRow finds a micro-benchmark's row: the exact name, else the first
// of its sub-benchmarks.
func microRow(m *MicroPart, pkg, name string) *MicroRow {
	if m == nil || name == "" {
		return nil
	}
	var sub *MicroRow
	for _, r := range m.Rows {
		if r.Package != pkg {
			continue
		}
		if r.Name == name {
			return r
		}
		if sub == nil && strings.HasPrefix(r.Name, name+"/") {
			sub = r
		}
	}
	return sub
}

// microOpChunks is how many chunks one op of a path's chunk benchmark
// translates: pkg/clientapi/responses' BenchmarkStreamChunk runs a stream
// of 1000 chunks per op (and reports µs/chunk itself).
var microOpChunks = map[string]float64{pRespBR: 1000}

func microNote(m *MicroPart, p string, chunk bool) string {
	i, per := 0, 1.0
	if chunk {
		i = 1
		if n := microOpChunks[p]; n > 0 {
			per = n
		}
	}
	ref := microPerPath[p][i]
	if r := microRow(m, ref[0], ref[1]); r != nil {
		return fmt.Sprintf("; micro %s %s: %.1f µs", ref[0], r.Name, r.NsOp/1e3/per)
	}
	return ""
}

// providerVerdicts are part 6's targets: what each path costs over the
// OpenAI path, from the same process in the same rounds.
func providerVerdicts(r *Results) []verdict {
	pp := r.Providers
	if pp == nil {
		return nil
	}
	base := pp.Paths[pOpenAI]
	if base == nil {
		return nil
	}
	var v []verdict
	for _, p := range providerOrder[1:] {
		pr := pp.Paths[p]
		if pr == nil {
			continue
		}
		reqLim, chunkLim := limTranslateReq, limTranslateChunk
		if p == pAzure {
			reqLim, chunkLim = limAzure, limAzure
		}
		d := pr.CPUPerReq - base.CPUPerReq
		v = append(v, verdict{fmt.Sprintf("CPU per non-streamed request over the OpenAI path, %s (part 6)", p), fmt.Sprintf("≤ +%.0f µs", reqLim),
			fmt.Sprintf("%+.1f µs (%.1f vs %.1f µs)%s", d, pr.CPUPerReq, base.CPUPerReq, microNote(r.Micro, p, false)), judge(d <= reqLim && pr.OK > 0)})
		dc := pr.CPUPerChunk - base.CPUPerChunk
		v = append(v, verdict{fmt.Sprintf("CPU per streamed chunk over the OpenAI path, %s (part 6, load)", p), fmt.Sprintf("≤ +%.0f µs", chunkLim),
			fmt.Sprintf("%+.2f µs (%.2f vs %.2f µs)%s", dc, pr.CPUPerChunk, base.CPUPerChunk, microNote(r.Micro, p, true)), judge(dc <= chunkLim && pr.CPUStreamK > 0)})
		if p != pBedrock {
			continue
		}
		v = append(v, verdict{"added time to first token over the OpenAI path (p50), bedrock (part 6)", "none set (figure)",
			fmt.Sprintf("%+.0f µs (%s vs %s)", pr.TTFT.P50-base.TTFT.P50, fmtUS(pr.TTFT.P50), fmtUS(base.TTFT.P50)), reported})
		if pr.Chunk != nil && base.Chunk != nil {
			v = append(v, verdict{"per-chunk relay delay over the OpenAI path (p50 / p99), bedrock (part 6)", "none set (figure)",
				fmt.Sprintf("%+.0f / %+.0f µs (%s / %s vs %s / %s)", pr.Chunk.P50-base.Chunk.P50, pr.Chunk.P99-base.Chunk.P99, fmtUS(pr.Chunk.P50), fmtUS(pr.Chunk.P99), fmtUS(base.Chunk.P50), fmtUS(base.Chunk.P99)), reported})
		}
		if base.Throughput > 0 {
			v = append(v, verdict{"peak throughput (closed loop), bedrock (part 6)", "none set (figure)",
				fmt.Sprintf("%.2f× the OpenAI path's (%.0f vs %.0f req/s)", pr.Throughput/base.Throughput, pr.Throughput, base.Throughput), reported})
		}
	}
	return v
}

// balancerVerdicts are the failover balancer's targets, from part 5.
func balancerVerdicts(m *MicroPart) []verdict {
	if m == nil {
		return nil
	}
	var v []verdict
	worst, name := -1.0, ""
	for _, r := range m.Rows {
		if r.Package == "pkg/balancer" && strings.HasPrefix(r.Name, "BenchmarkOrder") && r.NsOp > worst {
			worst, name = r.NsOp, r.Name
		}
	}
	if worst >= 0 {
		// lowest-latency and lowest-usage also read five targets' shared
		// figures; counted on top of the worst order, whichever it is.
		label := "balancer's cost per request, five targets, worst algorithm (" + name + ")"
		if fig := microRow(m, "pkg/health", "BenchmarkFigures"); fig != nil {
			label += " + reading the shared figures (BenchmarkFigures, " + fmt.Sprintf("%.0f ns", fig.NsOp) + ")"
			worst += fig.NsOp
		}
		v = append(v, verdict{label, "< 2 µs", fmt.Sprintf("%.0f ns", worst), judge(worst < limBalancerNS)})
	} else {
		v = append(v, verdict{"balancer's cost per request, five targets", "< 2 µs", "not measured (see part 5)", pending})
	}
	d, f, fo := microRow(m, "pkg/proxy", "BenchmarkFailover/direct"), microRow(m, "pkg/proxy", "BenchmarkFailover/failed"), microRow(m, "pkg/proxy", "BenchmarkFailover/failover")
	if d != nil && f != nil && fo != nil {
		added := (fo.NsOp - f.NsOp - d.NsOp) / 1e3
		v = append(v, verdict{"time a failover adds beyond the failed attempt (BenchmarkFailover: failover − failed − direct)", "< 1 ms",
			fmt.Sprintf("%+.0f µs (%.0f − %.0f − %.0f µs)", added, fo.NsOp/1e3, f.NsOp/1e3, d.NsOp/1e3), judge(added < limFailoverUS)})
	} else {
		v = append(v, verdict{"time a failover adds beyond the failed attempt", "< 1 ms", "not measured (see part 5)", pending})
	}
	return v
}

func renderProviders(m *md, r *Results) {
	pp := r.Providers
	if pp == nil {
		return
	}
	m.p("## 6. Provider paths")
	m.p("One more process of `bin/aiproxy` (pinned like part 1's proxies: its own core, GOMAXPROCS=1) serves a route per path, each in front of a stub of that provider's wire format in a process of its own (`test/bench/cmd/stubserver -kind`): Bedrock's eventstream with every request's SigV4 signature checked (the binary gets `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` and the stub's static keys), Anthropic's and Gemini's SSE, the OpenAI stub behind the OpenAI and Azure routes. Every path gets the same load in alternating rounds, the order rotating: %s. The request is part 1's chat request (the Messages and Responses paths: the same conversation in their API's shape). A path's cost is its figure minus the OpenAI path's from this process in the same rounds. **CPU per chunk** is (CPU per %d-chunk stream − CPU per one-chunk stream) / %d, both streams of small deltas (`tokN `), so the request's own cost cancels. Time to first token: %d one-chunk streams per path, alternating, to the first line carrying the first delta. Relay delay: %d paced streams each of the OpenAI and Bedrock paths (%d chunks %s apart), each chunk's arrival minus its write time at the stub (the OpenAI stub's `created_ns`; in Bedrock's deltas a stamp that stubserver writes as the frame leaves, its CRC recomputed); the other stubs do not stamp their chunks. The micro-benchmarks of part 5 (`BenchmarkRequest`, `BenchmarkStreamChunk` in each driver's package) measure the translation alone, without sockets; the target rows quote them beside the load figure.",
		pp.Shapes, pp.LongChunks, pp.LongChunks-1, pp.TTFTStreams, pp.PacedStreams, pp.PacedChunks, pp.PacedInterval)
	base := pp.Paths[pOpenAI]
	var rows [][]string
	for _, p := range providerOrder {
		pr := pp.Paths[p]
		if pr == nil || base == nil {
			continue
		}
		delta := func(v, b float64, f string) string {
			if p == pOpenAI {
				return ""
			}
			return fmt.Sprintf(f, v-b)
		}
		relay := ""
		if pr.Chunk != nil {
			relay = fmt.Sprintf("%s / %s", fmtUS(pr.Chunk.P50), fmtUS(pr.Chunk.P99))
		}
		rows = append(rows, []string{"**" + p + "**", fmt.Sprint(pr.OK), fmt.Sprint(pr.Errors + pr.StreamErrors),
			fmt.Sprintf("%.1f", pr.CPUPerReq), delta(pr.CPUPerReq, base.CPUPerReq, "%+.1f"),
			fmt.Sprintf("%.1f / %.1f", pr.CPUStream1, pr.CPUStreamK),
			fmt.Sprintf("%.2f", pr.CPUPerChunk), delta(pr.CPUPerChunk, base.CPUPerChunk, "%+.2f"),
			fmtUS(pr.Latency.P50), fmt.Sprintf("%.0f", pr.Throughput),
			fmtUS(pr.TTFT.P50), delta(pr.TTFT.P50, base.TTFT.P50, "%+.0f µs"), relay})
	}
	m.table([]string{"path", "ok", "errors", "CPU µs/req", "over openai", fmt.Sprintf("CPU µs per stream, 1 / %d chunks", pp.LongChunks), "CPU µs/chunk", "over openai", "p50 @200 req/s", "peak req/s", "TTFT p50", "over openai", "chunk delay p50 / p99"}, rows)
	for _, p := range providerOrder {
		if pr := pp.Paths[p]; pr != nil {
			m.p("- **%s**: %s%s", p, pr.Label, ifNot(pr.FirstError == "", fmt.Sprintf(" (first error: `%s`)", oneLine(pr.FirstError, 300))))
		}
	}
}

// providerSummary is the README's sentence on the provider paths.
func providerSummary(r *Results) string {
	pp := r.Providers
	if pp == nil || pp.Paths[pOpenAI] == nil {
		return ""
	}
	base := pp.Paths[pOpenAI]
	var req, chunk []string
	for _, p := range providerOrder[1:] {
		if pr := pp.Paths[p]; pr != nil {
			req = append(req, fmt.Sprintf("%s %+.0f", p, pr.CPUPerReq-base.CPUPerReq))
			chunk = append(chunk, fmt.Sprintf("%s %+.1f", p, pr.CPUPerChunk-base.CPUPerChunk))
		}
	}
	s := fmt.Sprintf("Through the provider drivers (one process, same rounds), CPU per request over the OpenAI path's %.0f µs: %s µs; per streamed chunk over its %.1f µs: %s µs.",
		base.CPUPerReq, strings.Join(req, ", "), base.CPUPerChunk, strings.Join(chunk, ", "))
	if b := pp.Paths[pBedrock]; b != nil {
		s += fmt.Sprintf(" Bedrock's first token %+.0f µs over the OpenAI path's.", b.TTFT.P50-base.TTFT.P50)
	}
	return s
}
