package main

import (
	"math"
	"slices"
)

// Results is everything one run measured; docs/bench/results.json is this,
// and BENCHMARKS.md is rendered from it. Durations are microseconds unless
// a field says otherwise.
type Results struct {
	Date        string         `json:"date"`
	Command     string         `json:"command"`
	Quick       bool           `json:"quick,omitempty"`
	WallSeconds float64        `json:"wall_seconds"`
	Machine     Machine        `json:"machine"`
	Latency     *LatencyPart   `json:"latency,omitempty"`
	Streaming   *StreamingPart `json:"streaming,omitempty"`
	Memory      *MemoryPart    `json:"memory,omitempty"`
	ColdStart   *ColdPart      `json:"cold_start,omitempty"`
	Micro       *MicroPart     `json:"micro,omitempty"`
	Providers   *ProvidersPart `json:"providers,omitempty"`
	Candidate   *Candidate     `json:"candidate,omitempty"`
	// Pinning says how parts 1 and 2 placed the processes on the cores.
	Pinning string `json:"pinning,omitempty"`
	// PortkeyPending says why Portkey's gateway was not measured.
	PortkeyPending string `json:"portkey_pending,omitempty"`
	NginxConf      string `json:"-"`
}

// Candidate describes the second build measured with -candidate.
type Candidate struct {
	Binary string `json:"binary"`
	Label  string `json:"label"`
	Note   string `json:"note,omitempty"`
}

// Machine describes where the figures were taken.
type Machine struct {
	CPU    string  `json:"cpu"`
	Cores  int     `json:"cores"`
	MemGiB float64 `json:"mem_gib"`
	Kernel string  `json:"kernel"`
	OS     string  `json:"os"`
	Go     string  `json:"go"`
	Nginx  string  `json:"nginx,omitempty"`
	Vegeta string  `json:"vegeta,omitempty"`
	// Portkey is the measured Portkey gateway's packages and Node.js.
	Portkey string `json:"portkey,omitempty"`
	Commit  string `json:"commit,omitempty"`
	// Load1Start and Load1End are the 1-minute load averages when the run
	// began and ended: other work on a shared machine shows here.
	Load1Start float64 `json:"load1_start"`
	Load1End   float64 `json:"load1_end"`
}

// Dist summarizes a distribution, in microseconds.
type Dist struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50_us"`
	P90  float64 `json:"p90_us"`
	P99  float64 `json:"p99_us"`
	Max  float64 `json:"max_us"`
	Mean float64 `json:"mean_us"`
}

// dist summarizes samples in nanoseconds (it sorts them in place).
func dist(ns []int64) Dist {
	if len(ns) == 0 {
		return Dist{}
	}
	slices.Sort(ns)
	var sum float64
	for _, v := range ns {
		sum += float64(v)
	}
	return Dist{
		N:    len(ns),
		P50:  us(pct(ns, 50)),
		P90:  us(pct(ns, 90)),
		P99:  us(pct(ns, 99)),
		Max:  us(ns[len(ns)-1]),
		Mean: sum / float64(len(ns)) / 1e3,
	}
}

// pct is the nearest-rank percentile of sorted samples.
func pct(sorted []int64, p float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func us(ns int64) float64 { return math.Round(float64(ns)/10) / 100 }

// LatencyPart is part 1: added latency and cost of non-streamed requests.
type LatencyPart struct {
	RequestBytes  int      `json:"request_bytes"`
	ResponseBytes int      `json:"response_bytes"`
	Phases        []*Phase `json:"phases"`
	// PeakRSSKB is each target's VmHWM after all phases (nginx: master
	// plus workers).
	PeakRSSKB map[string]int64 `json:"peak_rss_kb"`
	Notes     []string         `json:"notes,omitempty"`
}

// Phase is one load shape, measured for every target in alternating rounds.
type Phase struct {
	Name         string                   `json:"name"`
	Rate         int                      `json:"rate"` // 0: closed loop
	Workers      int                      `json:"workers,omitempty"`
	Rounds       int                      `json:"rounds"`
	RoundSeconds float64                  `json:"round_seconds"`
	Targets      map[string]*TargetResult `json:"targets"`
}

// TargetResult is one target's figures in one phase.
type TargetResult struct {
	OK         int     `json:"ok"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	Latency    Dist    `json:"latency"`
	CPUPerReq  float64 `json:"cpu_per_request_us"`
	Throughput float64 `json:"throughput_rps"`
	// RoundP50 and RoundP99 are each round's own percentiles (µs), to
	// tell a burst of other work in one round from a steady difference.
	RoundP50 []float64 `json:"round_p50_us"`
	RoundP99 []float64 `json:"round_p99_us"`
	// StubRequests is how many requests reached the stub during the
	// target's rounds: its answers came from the stub, not from a cache.
	StubRequests int64 `json:"stub_requests"`
}

// StreamingPart is part 2: per-chunk relay delay and time to first token.
type StreamingPart struct {
	Chunks   int    `json:"chunks"`
	Interval string `json:"interval"`
	Streams  int    `json:"streams_per_target"`
	// TTFTStreams short streams per path measure time to first token.
	TTFTStreams int `json:"ttft_streams_per_target"`
	// Concurrent is true when each round's long streams ran at once
	// (unpinned), false when one after another (pinned).
	Concurrent bool                     `json:"concurrent"`
	Paths      map[string]*StreamResult `json:"paths"`
	Notes      []string                 `json:"notes,omitempty"`
}

// StreamResult is one path's streams: each chunk's arrival minus the stub's
// write time, and the time from sending the request to the first chunk.
type StreamResult struct {
	Label   string `json:"label"`
	Pending string `json:"pending,omitempty"`
	Chunk   Dist   `json:"chunk_delay"`
	TTFT    Dist   `json:"ttft"`
	Chunks  int    `json:"chunks_seen"`
	Errors  int    `json:"errors"`
	// Lambda path: from queueing the invoke to the runtime taking the
	// event, and to the first bytes of its response (the prelude).
	Fetched *Dist `json:"event_fetched,omitempty"`
	Prelude *Dist `json:"prelude_arrived,omitempty"`
}

// MemoryPart is part 4: RSS while a long stream passes through the proxy.
type MemoryPart struct {
	Bytes        int64   `json:"bytes"`
	Seconds      float64 `json:"seconds"`
	MBps         float64 `json:"mb_per_s"`
	BaselineKB   int64   `json:"baseline_rss_kb"`
	PeakKB       int64   `json:"peak_rss_kb"`
	HWMKB        int64   `json:"vm_hwm_kb"`
	FirstHalfKB  int64   `json:"first_half_median_kb"`
	SecondHalfKB int64   `json:"second_half_median_kb"`
	TrendKB      int64   `json:"trend_kb"` // fitted growth over the stream
	Samples      int     `json:"samples"`
	Flat         bool    `json:"flat"`
	// Series is every RSS sample (kB), 50 ms apart, for the raw file.
	Series []int64 `json:"series_kb"`
}

// ColdPart is part 3: start to first answer, and binary sizes.
type ColdPart struct {
	Rows  []*ColdRow `json:"rows"`
	Sizes []*Size    `json:"sizes"`
	Notes []string   `json:"notes,omitempty"`
}

// ColdRow is one way of starting the proxy.
type ColdRow struct {
	Name    string  `json:"name"`
	Binary  string  `json:"binary"`
	Config  string  `json:"config"`
	Pending string  `json:"pending,omitempty"`
	Runs    int     `json:"runs"`
	Dist    Dist    `json:"start_to_first_answer"`
	WarmUS  float64 `json:"warm_request_us,omitempty"`
	Target  bool    `json:"judged"`
	// Reference rows show the machine's floor; they are not the proxy.
	Reference bool           `json:"reference,omitempty"`
	Breakdown *ColdBreakdown `json:"breakdown,omitempty"`
}

// ColdBreakdown is where one traced start's time went, in ms from exec.
type ColdBreakdown struct {
	Packages       int     `json:"packages_initialized"`
	InitClockMS    float64 `json:"init_clock_ms"` // sum of package init times
	InitDoneMS     float64 `json:"init_done_ms"`  // main begins about here
	ConfigLoadedMS float64 `json:"config_loaded_ms,omitempty"`
	ListeningMS    float64 `json:"listening_ms,omitempty"`
	AnsweredMS     float64 `json:"answered_ms"`
}

// Size is one build's size.
type Size struct {
	Name  string `json:"name"`
	Bytes int64  `json:"bytes"`
	Note  string `json:"note,omitempty"`
}

// MicroPart is part 5: go test -bench of the hot path.
type MicroPart struct {
	Command string       `json:"command"`
	Rows    []*MicroRow  `json:"rows"`
	Failed  []string     `json:"failed,omitempty"`
	Profile *ProfileInfo `json:"profile,omitempty"`
}

// MicroRow is one benchmark: medians over -count runs.
type MicroRow struct {
	Package  string  `json:"package"`
	Name     string  `json:"name"`
	NsOp     float64 `json:"ns_op"`
	BytesOp  float64 `json:"b_op"`
	AllocsOp float64 `json:"allocs_op"`
	Runs     int     `json:"runs"`
}

// ProfileInfo points at the CPU profile summary of BenchmarkHandler.
type ProfileInfo struct {
	File string `json:"file"`
}
