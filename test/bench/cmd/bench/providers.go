package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/bedrockstub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
)

// Part 6: the provider paths. One more process of the binary serves a route
// per path, each in front of a stub of that provider's wire format (a
// stubserver -kind process of its own), and every path gets the same load
// in alternating rounds, the order rotating: what a translating driver
// costs is its figure minus the OpenAI path's, both from this one process
// in the same rounds.

// Provider paths, in the order the report lists them. pOpenAI is the
// baseline every other path is compared with.
const (
	pOpenAI    = "openai"
	pAzure     = "azure"
	pBedrock   = "bedrock"
	pAnthropic = "anthropic"
	pGemini    = "gemini"
	pMsgsBR    = "messages-bedrock"
	pRespBR    = "responses-bedrock"
)

var providerOrder = []string{pOpenAI, pAzure, pBedrock, pAnthropic, pGemini, pMsgsBR, pRespBR}

var providerLabels = map[string]string{
	pOpenAI:    "OpenAI chat, relayed (provider: openai, the stub)",
	pAzure:     "Azure OpenAI (provider: azure, the OpenAI stub behind the deployment's path)",
	pBedrock:   "Bedrock Converse (provider: bedrock, `internal/testenv/bedrockstub`: eventstream, SigV4 checked)",
	pAnthropic: "Anthropic Messages (provider: anthropic, `internal/testenv/anthropicstub`)",
	pGemini:    "Gemini generateContent (provider: gemini, `internal/testenv/geministub`)",
	pMsgsBR:    "Messages API in, Bedrock InvokeModel out (`POST /v1/messages`, llm_format: anthropic, native)",
	pRespBR:    "Responses API in, Bedrock Converse out (route_type llm/v1/responses through the chat hub)",
}

// Bounds of the provider paths (µs over the OpenAI path, same process and
// rounds).
const (
	limTranslateReq   = 50.0
	limTranslateChunk = 20.0
	limAzure          = 5.0
	limBalancerNS     = 2000.0
	limFailoverUS     = 1000.0
)

// shape is one kind of request: non-streamed, or streamed with chunks
// text deltas of about pad bytes each, interval apart.
type shape struct {
	stream   bool
	chunks   int
	pad      int
	interval string
}

// The shapes of part 6: a non-streamed answer of about 1 KB (as part 1's),
// one-chunk and longChunks-chunk streams of small deltas (their CPU
// difference is the cost of a chunk), and paced streams for the relay delay.
const longChunks = 51

var (
	shNonStream = shape{chunks: 1, pad: 760}
	shStream1   = shape{stream: true, chunks: 1}
	shStreamK   = shape{stream: true, chunks: longChunks}
	shPaced     = shape{stream: true, chunks: 50, interval: "5ms"}
)

// benchModelName asks the Anthropic and Gemini stubs for a shape
// (stubserver's bench-chunks-N-pad-P).
func benchModelName(sh shape) string { return fmt.Sprintf("bench-chunks-%d-pad-%d", sh.chunks, sh.pad) }

// bedrockModel asks bedrockstub for a shape by model id.
func bedrockModel(sh shape) string {
	m := fmt.Sprintf("stub.text.chunks-%d.pad-%d", sh.chunks, sh.pad)
	if sh.interval != "" {
		m += ".delay-" + sh.interval
	}
	return m
}

// providerEnv is part 6's processes.
type providerEnv struct {
	proxy                      *proc
	bedrock, anthropic, gemini *proc
}

func (e *benchEnv) providerURL(p string, sh shape) string {
	base := "http://" + e.prov.proxy.addr
	switch p {
	case pAzure:
		return base + "/azure/" + model + "/chat/completions"
	case pBedrock:
		return base + "/bedrock/" + bedrockModel(sh) + "/chat/completions"
	case pAnthropic:
		return base + "/anthropic/" + benchModelName(sh) + "/chat/completions"
	case pGemini:
		return base + "/gemini/" + benchModelName(sh) + "/chat/completions"
	case pMsgsBR:
		return base + "/msgbedrock/v1/messages"
	case pRespBR:
		return base + "/respbedrock/v1/responses"
	}
	return base + "/openai/" + model + "/chat/completions"
}

// providerHeaders steer the OpenAI stub (through the openai and azure
// drivers, which relay the client's headers).
func providerHeaders(p string, sh shape) map[string]string {
	switch p {
	case pOpenAI, pAzure:
		h := map[string]string{"X-Stub-Chunks": strconv.Itoa(sh.chunks), "X-Stub-Chunk-Bytes": strconv.Itoa(sh.pad)}
		if sh.interval != "" {
			h["X-Stub-Interval"] = sh.interval
		}
		return h
	case pMsgsBR:
		return map[string]string{"anthropic-version": "2023-06-01"}
	}
	return nil
}

// providerBody is the request of a path: part 1's chat request, or the same
// conversation in the Messages or Responses API's shape.
func providerBody(p string, sh shape) []byte {
	switch p {
	case pMsgsBR, pRespBR:
		var c struct {
			Messages []struct{ Role, Content string }
		}
		_ = json.Unmarshal(stub.ChatRequest(model, false), &c)
		system, rest := c.Messages[0].Content, c.Messages[1:]
		type msg struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		}
		var msgs []msg
		for _, m := range rest {
			msgs = append(msgs, msg{m.Role, m.Content})
		}
		var body any
		if p == pMsgsBR {
			body = map[string]any{"model": bedrockModel(sh), "system": system, "messages": msgs, "max_tokens": 256, "temperature": 0.7, "stream": sh.stream}
		} else {
			body = map[string]any{"model": bedrockModel(sh), "instructions": system, "input": msgs, "max_output_tokens": 256, "temperature": 0.7, "stream": sh.stream, "store": false}
		}
		b, _ := json.Marshal(body)
		return b
	case pBedrock:
		return stub.ChatRequest(bedrockModel(sh), sh.stream)
	case pAnthropic, pGemini:
		return stub.ChatRequest(benchModelName(sh), sh.stream)
	}
	return stub.ChatRequest(model, sh.stream)
}

// providerConfig is the deck of part 6's binary: a route per path.
func (e *benchEnv) providerConfig() string {
	openaiURL := "http://" + e.stub.addr
	var b strings.Builder
	b.WriteString(`_format_version: "3.0"
routes:
  - {name: openai, paths: ["~/openai/(?<model>[^#?/]+)/chat/completions$"]}
  - {name: azure, paths: ["~/azure/(?<model>[^#?/]+)/chat/completions$"]}
  - {name: bedrock, paths: ["~/bedrock/(?<model>[^#?/]+)/chat/completions$"]}
  - {name: anthropic, paths: ["~/anthropic/(?<model>[^#?/]+)/chat/completions$"]}
  - {name: msgbedrock, paths: [/msgbedrock]}
  - {name: respbedrock, paths: [/respbedrock/v1/responses]}
`)
	// Gemini's upstream_url names the model, so each shape has a route.
	gshapes := []shape{shNonStream, shStream1, shStreamK}
	for _, sh := range gshapes {
		fmt.Fprintf(&b, "  - {name: gemini-%[1]s, paths: [/gemini/%[1]s/chat/completions]}\n", benchModelName(sh))
	}
	b.WriteString("plugins:\n")
	plugin := func(route, cfg string) {
		fmt.Fprintf(&b, "  - name: ai-proxy\n    route: %s\n    config:\n      logging: {log_statistics: true}\n%s", route, cfg)
	}
	plugin("openai", fmt.Sprintf(`      route_type: llm/v1/chat
      auth: {header_name: Authorization, header_value: "Bearer bench-key"}
      model: {provider: openai, name: "$(uri_captures.model)", options: {upstream_url: %q}}
`, openaiURL+"/v1/chat/completions"))
	plugin("azure", fmt.Sprintf(`      route_type: llm/v1/chat
      auth: {header_name: api-key, header_value: bench-azure-key}
      model: {provider: azure, name: "$(uri_captures.model)", options: {azure_instance: bench, azure_deployment_id: dep1, azure_api_version: "2024-10-21", upstream_url: %q}}
`, openaiURL+"/openai/deployments/dep1/chat/completions"))
	plugin("bedrock", `      route_type: llm/v1/chat
      model: {provider: bedrock, name: "$(uri_captures.model)", options: {bedrock: {aws_region: us-east-1}}}
`)
	plugin("anthropic", fmt.Sprintf(`      route_type: llm/v1/chat
      auth: {header_name: x-api-key, header_value: %s}
      model: {provider: anthropic, name: "$(uri_captures.model)", options: {anthropic_version: "2023-06-01", upstream_url: %q}}
`, anthropicKey, "http://"+e.prov.anthropic.addr+"/v1/messages"))
	for _, sh := range gshapes {
		n := benchModelName(sh)
		plugin("gemini-"+n, fmt.Sprintf(`      route_type: llm/v1/chat
      auth: {param_name: key, param_value: %s, param_location: query}
      model: {provider: gemini, name: %s, options: {upstream_url: %q}}
`, geminiKey, n, "http://"+e.prov.gemini.addr+"/v1beta/models/"+n+":generateContent"))
	}
	plugin("msgbedrock", `      route_type: llm/v1/chat
      llm_format: anthropic
      model: {provider: bedrock, options: {max_tokens: 512, bedrock: {aws_region: us-east-1}}}
`)
	plugin("respbedrock", `      route_type: llm/v1/responses
      model: {provider: bedrock, options: {max_tokens: 512, bedrock: {aws_region: us-east-1}}}
`)
	return b.String()
}

// The provider stubs' keys (stubserver's providers.go).
const (
	anthropicKey = "sk-ant-bench-key"
	geminiKey    = "AIza-bench-gemini-key"
)

// startProviders starts the provider stubs and the binary with part 6's
// deck, once.
func (e *benchEnv) startProviders(ctx context.Context) error {
	if e.prov != nil {
		return nil
	}
	if err := e.startServers(ctx); err != nil {
		return err
	}
	e.prov = &providerEnv{}
	var err error
	for _, k := range []struct {
		kind string
		p    **proc
	}{{"bedrock", &e.prov.bedrock}, {"anthropic", &e.prov.anthropic}, {"gemini", &e.prov.gemini}} {
		if *k.p, err = e.startListening(ctx, "stub-"+k.kind, pins.loadCPU, e.bins.stub, func(addr string) ([]string, []string) {
			return []string{"-addr", addr, "-kind", k.kind}, nil
		}); err != nil {
			return err
		}
	}
	cfgPath := filepath.Join(e.work, "aiproxy-providers.yaml")
	if err := os.WriteFile(cfgPath, []byte(e.providerConfig()), 0o644); err != nil {
		return fmt.Errorf("write the provider paths' config: %w", err)
	}
	e.prov.proxy, err = e.startListening(ctx, "aiproxy-providers", pins.proxyCPU, e.s.aiproxy, func(addr string) ([]string, []string) {
		return nil, []string{"AIPROXY_LISTEN=" + addr, "AIPROXY_CONFIG_FILE=" + cfgPath,
			"AWS_ENDPOINT_URL_BEDROCK_RUNTIME=http://" + e.prov.bedrock.addr, "AWS_REGION=" + bedrockstub.DefaultRegion,
			"AWS_ACCESS_KEY_ID=" + bedrockstub.DefaultAccessKeyID, "AWS_SECRET_ACCESS_KEY=" + bedrockstub.DefaultSecretAccessKey,
			"AWS_MAX_ATTEMPTS=1", "AWS_EC2_METADATA_DISABLED=true",
			"AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent"}
	})
	return err
}

// providerPhases are part 6's load shapes.
type providerPhase struct {
	key    string
	sh     shape
	rate   int // 0: closed loop
	rounds int
	dur    time.Duration
}

// partProviders is part 6.
func (e *benchEnv) partProviders(ctx context.Context) error {
	if err := e.startProviders(ctx); err != nil {
		return err
	}
	part := &ProvidersPart{Paths: map[string]*ProviderResult{}, LongChunks: longChunks, Workers: e.s.workers}
	e.res.Providers = part
	rounds, dur := 4, 2*time.Second
	if e.s.quick {
		rounds, dur = 1, time.Second
	}
	phases := []providerPhase{
		{"nonstream", shNonStream, 200, rounds, dur},
		{"stream1", shStream1, 200, max(1, rounds-1), dur},
		{"streamK", shStreamK, 100, max(1, rounds-1), dur},
		{"closed", shNonStream, 0, max(1, rounds-2), dur},
	}
	part.Shapes = fmt.Sprintf("non-streamed at 200 req/s (%d rounds × %s), one-chunk streams at 200 req/s and %d-chunk streams at 100 req/s (%d rounds each), a closed loop of %d workers (%d rounds)",
		phases[0].rounds, dur, longChunks, phases[1].rounds, e.s.workers, phases[3].rounds)
	targets := map[string]string{}
	for _, p := range providerOrder {
		part.Paths[p] = &ProviderResult{Label: providerLabels[p]}
		for _, ph := range phases[:3] {
			if err := checkProviderAnswer(ctx, e.providerURL(p, ph.sh), providerBody(p, ph.sh), providerHeaders(p, ph.sh), ph.sh); err != nil {
				return fmt.Errorf("%s (%s): %w", p, ph.key, err)
			}
			name := p + "-" + ph.key
			var err error
			if targets[name], err = writeTargets(e.work, name, e.providerURL(p, ph.sh), providerBody(p, ph.sh), providerHeaders(p, ph.sh)); err != nil {
				return err
			}
		}
		targets[p+"-closed"] = targets[p+"-nonstream"]
	}
	pids := []int{e.prov.proxy.pid()}
	for _, p := range providerOrder {
		var discard samples
		if err := runAttack(ctx, e.s.vegeta, e.work, attack{target: p, rate: 200, duration: time.Second}, targets[p+"-nonstream"], pids, &discard); err != nil {
			return err
		}
	}
	for _, ph := range phases {
		acc := map[string]*samples{}
		for _, p := range providerOrder {
			acc[p] = &samples{}
		}
		for round := range ph.rounds {
			for i := range providerOrder {
				p := providerOrder[(i+round)%len(providerOrder)]
				a := attack{target: p, rate: ph.rate, workers: e.s.workers, duration: ph.dur}
				if err := runAttack(ctx, e.s.vegeta, e.work, a, targets[p+"-"+ph.key], pids, acc[p]); err != nil {
					return err
				}
			}
			log.Printf("  provider paths, %s: round %d/%d done", ph.key, round+1, ph.rounds)
		}
		for _, p := range providerOrder {
			a, r := acc[p], part.Paths[p]
			cpu := 0.0
			if a.ok > 0 {
				cpu = round2(float64(a.cpu.Microseconds()) / float64(a.ok))
			}
			r.Errors += a.errs
			if r.FirstError == "" {
				r.FirstError = a.firstErr
			}
			switch ph.key {
			case "nonstream":
				r.OK, r.CPUPerReq, r.Latency = a.ok, cpu, dist(a.lat)
			case "stream1":
				r.CPUStream1 = cpu
			case "streamK":
				r.CPUStreamK = cpu
			case "closed":
				if a.elapsed > 0 {
					r.Throughput = math.Round(float64(a.ok) / a.elapsed.Seconds())
				}
			}
		}
	}
	for _, p := range providerOrder {
		r := part.Paths[p]
		r.CPUPerChunk = round2((r.CPUStreamK - r.CPUStream1) / float64(longChunks-1))
		log.Printf("  %-18s cpu/req=%.1fus stream1=%.1fus stream%d=%.1fus chunk=%.2fus p50=%.0fus rps=%.0f err=%d", p, r.CPUPerReq, r.CPUStream1, longChunks, r.CPUStreamK, r.CPUPerChunk, r.Latency.P50, r.Throughput, r.Errors)
	}
	return e.providerStreams(ctx, part)
}

// providerStreams measures, on the same process, time to first token of
// one-chunk streams (every path, alternating) and the per-chunk relay delay
// of paced streams where the stub stamps its chunks: the OpenAI stub's
// created_ns, and bedrockstub's deltas stamped by stubserver when written.
func (e *benchEnv) providerStreams(ctx context.Context, part *ProvidersPart) error {
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}}
	n, long := e.s.ttftStreams, max(2, e.s.streams/2)
	part.TTFTStreams, part.PacedStreams, part.PacedChunks, part.PacedInterval = n, long, shPaced.chunks, shPaced.interval
	ttft := map[string][]int64{}
	for i := range n {
		for k := range providerOrder {
			p := providerOrder[(i+k)%len(providerOrder)]
			s, err := e.providerStream(ctx, client, p, shStream1)
			if err != nil {
				part.Paths[p].StreamErrors++
				log.Printf("  short stream via %s: %v", p, err)
				continue
			}
			ttft[p] = append(ttft[p], s.ttft)
		}
	}
	delays := map[string][]int64{}
	for i := range long {
		order := []string{pOpenAI, pBedrock}
		if i%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, p := range order {
			s, err := e.providerStream(ctx, client, p, shPaced)
			if err == nil && len(s.delays) != shPaced.chunks {
				err = fmt.Errorf("%d stamped chunks, want %d", len(s.delays), shPaced.chunks)
			}
			if err != nil {
				part.Paths[p].StreamErrors++
				log.Printf("  paced stream via %s: %v", p, err)
				continue
			}
			delays[p] = append(delays[p], s.delays...)
		}
	}
	for _, p := range providerOrder {
		r := part.Paths[p]
		r.TTFT = dist(ttft[p])
		if d := delays[p]; len(d) > 0 {
			cd := dist(d)
			r.Chunk = &cd
		}
		log.Printf("  %-18s ttft p50=%.0fus chunk delay p50/p99=%s", p, r.TTFT.P50, chunkStr(r.Chunk))
	}
	return nil
}

func chunkStr(d *Dist) string {
	if d == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f/%.0fus", d.P50, d.P99)
}

// firstToken marks the first text delta in every path's stream.
var firstToken = []byte(stub.Word(0)[:4])

// providerStream runs one stream through path p: time to the first line
// carrying the first text delta, and each stamped chunk's delay.
func (e *benchEnv) providerStream(ctx context.Context, client *http.Client, p string, sh shape) (streamSample, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.providerURL(p, sh), bytes.NewReader(providerBody(p, sh)))
	if err != nil {
		return streamSample{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer client-key-not-for-upstream")
	for k, v := range providerHeaders(p, sh) {
		req.Header.Set(k, v)
	}
	s := streamSample{ttft: -1}
	err = readTimed(client, req, func(line []byte, at time.Time, since time.Duration) {
		if s.ttft < 0 && bytes.Contains(line, firstToken) {
			s.ttft = since.Nanoseconds()
		}
		if ns, ok := stampNS(line); ok {
			s.delays = append(s.delays, at.UnixNano()-ns)
		}
	})
	if err != nil {
		return streamSample{}, err
	}
	if s.ttft < 0 {
		return streamSample{}, fmt.Errorf("no text delta in the stream")
	}
	return s, nil
}

var stampKey = []byte("ts=")

// stampNS finds a chunk's write time: the OpenAI stub's created_ns, or the
// stamp stubserver writes into bedrockstub's deltas.
func stampNS(line []byte) (int64, bool) {
	if ns, ok := createdNS(line); ok {
		return ns, true
	}
	i := bytes.Index(line, stampKey)
	if i < 0 || len(line) < i+3+19 {
		return 0, false
	}
	v, err := strconv.ParseInt(string(line[i+3:i+3+19]), 10, 64)
	return v, err == nil
}

// checkProviderAnswer sends one request of the shape and checks that the
// whole answer came back: its last text delta is there.
func checkProviderAnswer(ctx context.Context, url string, body []byte, headers map[string]string, sh shape) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("check request: %w", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("check request: read answer: %w", err)
	}
	last := strings.TrimSpace(stub.Word(sh.chunks - 1))
	if res.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(last)) {
		return fmt.Errorf("check request: status %d, want 200 with %q: %.400s", res.StatusCode, last, b)
	}
	if sh.stream && !bytes.Contains(b, []byte("data:")) {
		return fmt.Errorf("check request: not a stream: %.300s", b)
	}
	return nil
}

// ProvidersPart is part 6: the provider paths through one process.
type ProvidersPart struct {
	Shapes        string                     `json:"shapes"`
	LongChunks    int                        `json:"long_stream_chunks"`
	Workers       int                        `json:"closed_loop_workers"`
	TTFTStreams   int                        `json:"ttft_streams_per_path"`
	PacedStreams  int                        `json:"paced_streams_per_path"`
	PacedChunks   int                        `json:"paced_stream_chunks"`
	PacedInterval string                     `json:"paced_stream_interval"`
	Paths         map[string]*ProviderResult `json:"paths"`
}

// ProviderResult is one path's figures (CPU in µs of the binary's process).
type ProviderResult struct {
	Label       string  `json:"label"`
	OK          int     `json:"ok"`
	Errors      int     `json:"errors"`
	FirstError  string  `json:"first_error,omitempty"`
	CPUPerReq   float64 `json:"cpu_per_request_us"`
	Latency     Dist    `json:"latency"`
	CPUStream1  float64 `json:"cpu_per_stream_1_chunk_us"`
	CPUStreamK  float64 `json:"cpu_per_stream_long_us"`
	CPUPerChunk float64 `json:"cpu_per_chunk_us"`
	Throughput  float64 `json:"throughput_rps"`
	TTFT        Dist    `json:"ttft"`
	// Chunk is the paced streams' per-chunk delay (arrival minus the
	// stub's write time), where the stub stamps its chunks.
	Chunk        *Dist `json:"chunk_delay,omitempty"`
	StreamErrors int   `json:"stream_errors"`
}
