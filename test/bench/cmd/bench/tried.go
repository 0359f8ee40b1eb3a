package main

// renderTried writes what was tried for issue 14's cold-start and
// Lambda-path targets: a static record, written by hand when the levers were
// measured, not a figure of this run. Each lever was profiled before and
// after with interleaved A/B runs of the two builds on the shared 2-core
// machine (a probe alternating starts or streams between them), since one
// run's noise there is larger than most single levers.
func renderTried(m *md) {
	m.p("## What was tried: cold start and the Lambda path")
	m.p("Static text in `test/bench/cmd/bench/tried.go`, written when these levers were measured (2026-12-01, branch h-perf2, the shared 2-core machine under other sessions' load); not figures of this run. Each lever was measured before and after with interleaved runs of both builds (starts or streams alternating between them), and kept only if it helped.")

	m.p("**Where a cold start goes** (config and key from SSM, local server; an instrumented build's marks, medians of 15 starts, ms after `exec`): `main` begins at ~12.6 ms (process start, Go runtime, package init: 5.5 ms median in init code, 4.5 ms of it the AWS SDK's, chiefly `service/ssm/schemas` 2.2 ms and `service/dynamodb/schemas` 0.9 ms, per `GODEBUG=inittrace=1`); `config.LoadDefaultConfig` 0.3 ms; the one `GetParameters` (document and key, `AIPROXY_CONFIG_PREFETCH`) 8.5–9.5 ms, of which moto itself takes ~6 ms (a warm client's call) and the SDK's first call ~1.1 ms more than its second (1.6 vs 0.55 ms against an instantly answering server); parse and compile 0.3–1.8 ms; listening to first answer 3–5 ms (the first upstream connection). CPU to the first answer, all threads: 15–21 ms; the stub (a bare Go HTTP server) answers ~6.5 ms after `exec` with ~5 ms of CPU. Under `perf`, 66%% of a start's CPU to `main` is package init and half of that the SDK's schema tables; the rest is page faults on fresh memory and the runtime's own start.")

	m.p("**Where the Lambda path's time to first token goes** (one-chunk streams through the bootstrap and the test Runtime API, medians of 400, µs from queueing the invoke): the Runtime API hands out the event at 11; the edge is called at 152 (aws-lambda-go: the HTTP read, the invoke's context, its own decode of the payload into `json.RawMessage`); the event is decoded at 209; the handler starts at 229 and calls its upstream at 264; the upstream's header arrives at 521 and the handler commits its own at 538; the prelude reaches the Runtime API at ~630 and the first chunk, written into the bridge at 616, at ~700. A direct call to the stub has its first token at 150–190.")

	m.table([]string{"lever", "before → after", "kept"}, [][]string{
		{"`pkg/edge`: a Function URL event is classified and decoded in one pass (one `json.Unmarshal` into the event type with the classifier's fields beside it) instead of a probe decode and then the event's", "BenchmarkDecodeFunctionURL ~88 → ~57 µs, 74 → 61 allocs (medians of 4 interleaved runs of each build); a payload that names no Function URL domain keeps the cheaper probe and then its own type (BenchmarkDecodeREST unchanged); first token through the bootstrap −10 to −20 µs (p50)", "yes"},
		{"`pkg/edge`: the streamed answer is handed to aws-lambda-go at once, before the handler answers; its first Read waits for the header. The response to the Runtime API is set up while the upstream call is in flight (a `runtime.Gosched` lets the handler send that call first on one P)", "prelude at the Runtime API 77–102 µs earlier, first token 24–51 µs earlier (p50 of 3 × 400 interleaved streams: 715/809/836 → 678/758/812 µs, direct 173–225 µs)", "yes"},
		{"`pkg/edge`: a Function URL request's header built in one map of the right size and one value array (as net/http's reader does); a plain body read in place instead of copied", "116 → 107 allocs, −2 KB per streamed invoke", "yes"},
		{"all three `pkg/edge` changes together", "BenchmarkFunctionURLFirstChunk (the edge's work on a streamed invoke until its first chunk is read) ~155 → ~105 µs, 14.3 → 11.8 KB, 129 → 107 allocs (medians of 4 interleaved runs)", "yes"},
		{"bench: the emulated cold start gets no `AWS_CA_BUNDLE` from the machine (Lambda sets none; this sandbox does, and the SDK then parses ~150 certificates at config load, ~9 ms)", "emulator row p50 32.5 → 26.2 ms", "yes (harness)"},
		{"garbage collection paused from `main` until the first request (`debug.SetGCPercent(-1)`, then the environment's GOGC)", "CPU to first answer p50 14.6 → 16.8 and 16.2 → 18.2 ms (GOMAXPROCS=1, 2 × 25 starts): one collection is cheaper than faulting in the fresh pages an unbounded heap touches", "no"},
		{"`config.LoadDefaultConfig` without shared config and credentials files on Lambda", "config load 388 → 338 µs, first call 1654 → 1542 µs (30 starts each against an instant server): ~0.15 ms, inside a start's noise", "no"},
		{"an SSM client built from the environment's credentials instead of `config.LoadDefaultConfig`", "not built: the config package stays linked (the DynamoDB limiter and local runs with profiles or SSO need the whole chain), so neither package init (sso, ssooidc, sts, signin: ~0.9 ms) nor size would shrink; the load itself is ~0.3 ms", "no"},
		{"a stripped local build (`-ldflags='-s -w'`, as SAM's build already is)", "18.9 → 12.9 MB, CPU to first answer 14.8/15.4 → 15.0/15.0 ms p50, start p50 25.1/25.7 → 25.4/24.0 ms (2 × 25 starts): the symbol tables are never paged in", "no change"},
		{"dropping packages the binary does not need", "`go list -deps -tags lambda.norpc ./functions/aiproxy`: no encoding/gob, net/rpc, templates or testing linked; what remains is required (crypto/tls for HTTPS, the SDK's credential providers with its config package)", "nothing to drop"},
		{"the AWS SDK's package init (schema tables of ssm and dynamodb, endpoint rules)", "~3.1 ms of a start's 5.5 ms in init code; part of the required libraries, built at init by their generated code", "not reachable"},
		{"aws-lambda-go's own decode of each payload (json.Decoder into `json.RawMessage`: a scan, a skip and a copy before the edge sees it)", "a handler type without a payload would skip it, but then has no event; `lambda.Handler` buffers the whole answer, which breaks streaming", "not reachable"},
		{"`pkg/route` regex match (1.2 µs, 3 allocs: regexp's submatch slice and the captures map)", "regexp has no allocation-free submatch API; 1.2 µs is ~0.2% of a request's CPU", "left"},
	})
	m.p("`pkg/stats` (Observe: 0 allocs) and `pkg/config` (template resolution: at most 2 allocs) showed no hot spot worth a change.")
}
