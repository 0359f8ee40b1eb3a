package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/motoserver"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/rie"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/syncbuf"
)

// SSM parameters of the cold-start runs: the document references the key,
// so a start reads both, as a deployed function does.
const (
	ssmConfigParam = "/aiproxy/config"
	ssmKeyParam    = "/aiproxy/openai-api-key"
	ssmKey         = "sk-bench-from-ssm"
)

// coldEnv is what the cold-start runs share: an in-process stub (which
// records, so a run can check which key reached it) and moto.
type coldEnv struct {
	stub    *stub.Server
	stubURL string
	moto    *motoserver.Server
	motoErr error
	cfgFile string
}

// partColdStart is part 3: process start to first answered request, and
// the binary's size.
func (e *benchEnv) partColdStart(ctx context.Context) error {
	part := e.res.ColdStart
	if part == nil {
		part = &ColdPart{}
		e.res.ColdStart = part
	}

	ce := &coldEnv{stub: stub.New()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("cold-start stub: %w", err)
	}
	srv := &http.Server{Handler: ce.stub, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	ce.stubURL = "http://" + ln.Addr().String() + "/v1/chat/completions"
	ce.cfgFile = filepath.Join(e.work, "cold.yaml")
	if err := os.WriteFile(ce.cfgFile, []byte(stub.PluginConfig(ce.stubURL, "Bearer sk-bench-from-file")), 0o644); err != nil {
		return fmt.Errorf("write cold-start config: %w", err)
	}

	log.Printf("  starting moto")
	ce.moto, ce.motoErr = motoserver.Launch()
	if ce.moto != nil {
		defer ce.moto.Close()
		if err := putSSM(ctx, ce.moto.Endpoint(), stub.PluginConfig(ce.stubURL, "Bearer {vault://ssm/aiproxy/openai-api-key}")); err != nil {
			ce.motoErr = err
		}
	}

	fileEnv := []string{"AIPROXY_CONFIG_FILE=" + ce.cfgFile}
	ssmEnv := ce.ssmEnv()

	// The floor: a minimal Go HTTP server (the stub) from exec to its first
	// answer, on this machine.
	part.Rows = append(part.Rows, e.coldLocal(ctx, ce, "reference: minimal Go HTTP server (the stub itself), no config", e.bins.stub, "test/bench/cmd/stubserver", "none", []string{}, "", false))
	for _, r := range part.Rows[len(part.Rows)-1:] {
		r.Reference = true
	}
	// Local server.
	part.Rows = append(part.Rows, e.coldLocal(ctx, ce, "local server, config file", e.s.aiproxy, "bin/aiproxy", "file", fileEnv, "sk-bench-from-file", false))
	part.Rows = append(part.Rows, e.coldLocal(ctx, ce, "local server, config and key from SSM", e.s.aiproxy, "bin/aiproxy", "SSM (moto)", ssmEnv, ssmKey, true))

	if e.s.candidate != "" {
		part.Rows = append(part.Rows, e.coldLocal(ctx, ce, "local server, config and key from SSM — "+candLabel, e.s.candidate, filepath.Base(e.s.candidate), "SSM (moto)", ssmEnv, ssmKey, false))
		part.Rows = append(part.Rows, e.coldRIE(ctx, ce, "bootstrap under the emulator, config and key from SSM — "+candLabel, e.s.candidate, filepath.Base(e.s.candidate), ssmEnv, false))
	}

	// Under the emulator.
	const rieName = "bootstrap under the emulator, config and key from SSM"
	if e.bins.bootstrapErr != nil {
		part.Rows = append(part.Rows, &ColdRow{Name: rieName, Binary: "bootstrap", Config: "SSM (moto)", Target: true,
			Pending: "the bootstrap did not build: " + e.bins.bootstrapErr.Error()})
	} else {
		part.Rows = append(part.Rows, e.coldRIE(ctx, ce, rieName, e.bins.bootstrap, "bootstrap", ssmEnv, true))
	}
	return e.logCold(part)
}

func (e *benchEnv) logCold(part *ColdPart) error {
	for _, r := range part.Rows {
		if r.Pending != "" {
			log.Printf("  %-60s pending: %.200s", r.Name, r.Pending)
		} else {
			log.Printf("  %-60s p50=%.1fms max=%.1fms", r.Name, r.Dist.P50/1e3, r.Dist.Max/1e3)
		}
	}
	return nil
}

func (ce *coldEnv) ssmEnv() []string {
	if ce.moto == nil {
		return nil
	}
	return []string{
		"AIPROXY_CONFIG_PARAMETER=" + ssmConfigParam,
		// As the template hands it over: the document and the key it
		// references arrive in one GetParameters call.
		"AIPROXY_CONFIG_PREFETCH=" + ssmKeyParam,
		"AWS_ENDPOINT_URL_SSM=" + ce.moto.Endpoint(),
		"AWS_REGION=" + motoserver.Region,
		"AWS_ACCESS_KEY_ID=testing",
		"AWS_SECRET_ACCESS_KEY=testing",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		// Lambda sets no CA bundle. The emulator hands its whole
		// environment to the bootstrap, and a machine that sets one
		// (this kind of sandbox does, for its proxies) would make the
		// SDK's config load parse ~150 certificates it never uses:
		// ~9 ms on every emulated start. Empty is unset to the SDK.
		"AWS_CA_BUNDLE=",
	}
}

// putSSM stores the document and the key in moto.
func putSSM(ctx context.Context, endpoint, doc string) error {
	client := ssm.New(ssm.Options{
		Region:       motoserver.Region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
	})
	for _, p := range []struct {
		name, value string
		typ         ssmtypes.ParameterType
	}{
		{ssmKeyParam, ssmKey, ssmtypes.ParameterTypeSecureString},
		{ssmConfigParam, doc, ssmtypes.ParameterTypeString},
	} {
		if _, err := client.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(p.name), Value: aws.String(p.value), Type: p.typ, Overwrite: aws.Bool(true)}); err != nil {
			return fmt.Errorf("put %s into moto: %w", p.name, err)
		}
	}
	return nil
}

// checkKey tells whether the stub's last request carried want, i.e. the
// config really came from where the row says.
func (ce *coldEnv) checkKey(want string) error {
	got := ce.stub.Last().Header.Get("Authorization")
	if got != "Bearer "+want {
		return fmt.Errorf("the upstream got Authorization %q, want the key from the configured source", got)
	}
	return nil
}

// coldLocal starts the binary as a local server several times and times
// each start to its first answered request.
func (e *benchEnv) coldLocal(ctx context.Context, ce *coldEnv, name, bin, binName, cfg string, env []string, key string, judged bool) *ColdRow {
	row := &ColdRow{Name: name, Binary: binName, Config: cfg, Target: judged}
	if env == nil {
		row.Pending = fmt.Sprintf("moto is not available: %v", ce.motoErr)
		return row
	}
	var times []int64
	for i := range e.s.coldRuns {
		d, _, err := e.coldLocalOnce(ctx, ce, bin, env, key, fmt.Sprintf("cold-%d", i))
		if err != nil {
			row.Pending = err.Error()
			return row
		}
		times = append(times, d.Nanoseconds())
	}
	row.Runs = len(times)
	row.Dist = dist(times)
	// One more start, with the runtime's init trace on, to see where the
	// time goes. It is not counted in the figures above.
	if d, run, err := e.coldLocalOnce(ctx, ce, bin, append(env[:len(env):len(env)], "GODEBUG=inittrace=1"), key, "cold-trace"); err == nil {
		row.Breakdown = breakdown(run, d)
	}
	return row
}

// coldRun is what one start left behind: its log and when it began.
type coldRun struct {
	log   string
	start time.Time
}

// coldLocalOnce starts bin as a local server and times it to its first
// answered request. key is the upstream key the answer must have used;
// empty means bin is the stub itself (the reference row), given -addr.
func (e *benchEnv) coldLocalOnce(ctx context.Context, ce *coldEnv, bin string, env []string, key, name string) (time.Duration, coldRun, error) {
	addr, err := freeAddr()
	if err != nil {
		return 0, coldRun{}, err
	}
	url := "http://" + addr + "/" + model + "/chat/completions"
	if key == "" {
		url = "http://" + addr + "/v1/chat/completions"
	}
	body := chatBody(false)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	var args []string
	if key == "" {
		args = []string{"-addr", addr} // the stub's flag
	}
	t0 := time.Now()
	p, err := startProc(name, e.work, -1, bin, args, append([]string{"AIPROXY_LISTEN=" + addr}, env...))
	if err != nil {
		return 0, coldRun{}, err
	}
	defer p.stop()
	run := coldRun{log: p.log, start: t0}
	deadline := t0.Add(10 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			at := time.Since(t0)
			if res.StatusCode != http.StatusOK {
				return 0, run, fmt.Errorf("first answer was %d: %.300s; output: %.500s", res.StatusCode, b, p.output())
			}
			if key != "" {
				if err := ce.checkKey(key); err != nil {
					return 0, run, err
				}
			}
			return at, run, nil
		}
		if p.exited() {
			return 0, run, fmt.Errorf("the process exited before answering: %.500s", p.output())
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return 0, run, fmt.Errorf("first request failed: %w; output: %.500s", err, p.output())
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, run, fmt.Errorf("no answer within 10s: %v", err)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// breakdown reads a traced start's log: when package initialization ended
// (GODEBUG=inittrace=1 lines), when the configuration was loaded and when
// the server started listening (the binary's own log lines).
func breakdown(run coldRun, answered time.Duration) *ColdBreakdown {
	b, err := os.ReadFile(run.log)
	if err != nil {
		return nil
	}
	out := &ColdBreakdown{AnsweredMS: ms(answered)}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "init "); ok {
			// init <pkg> @<start> ms, <clock> ms clock, ...
			f := strings.Fields(rest)
			if len(f) >= 5 {
				at, err1 := strconv.ParseFloat(strings.TrimPrefix(f[1], "@"), 64)
				clock, err2 := strconv.ParseFloat(f[3], 64)
				if err1 == nil && err2 == nil {
					out.InitDoneMS = max(out.InitDoneMS, round2(at+clock))
					out.InitClockMS = round2(out.InitClockMS + clock)
					out.Packages++
				}
			}
			continue
		}
		var rec struct {
			Time time.Time `json:"time"`
			Msg  string    `json:"msg"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil || rec.Time.IsZero() {
			continue
		}
		switch rec.Msg {
		case "config loaded":
			out.ConfigLoadedMS = ms(rec.Time.Sub(run.start))
		case "listening", "starting on Lambda":
			out.ListeningMS = ms(rec.Time.Sub(run.start))
		}
	}
	return out
}

func ms(d time.Duration) float64 { return round2(float64(d.Microseconds()) / 1e3) }

// coldRIE runs the bootstrap under the emulator: the emulator is started and
// ready first (its own start is excluded); the bootstrap starts on the first
// invoke, so that invoke's time is start, init (SSM) and the answer. A
// second, warm invoke shows what the emulator and the request alone cost.
func (e *benchEnv) coldRIE(ctx context.Context, ce *coldEnv, name, bin, binName string, env []string, judged bool) *ColdRow {
	row := &ColdRow{Name: name, Binary: binName, Config: "SSM (moto)", Target: judged}
	if env == nil {
		row.Pending = fmt.Sprintf("moto is not available: %v", ce.motoErr)
		return row
	}
	payload := functionURLEvent(chatBody(false), answerHeaders)
	var cold, warm []int64
	for range e.s.rieRuns {
		c, w, err := e.coldRIEOnce(ctx, ce, bin, env, payload)
		if err != nil {
			row.Pending = err.Error()
			return row
		}
		cold = append(cold, c.Nanoseconds())
		warm = append(warm, w.Nanoseconds())
	}
	row.Runs = len(cold)
	row.Dist = dist(cold)
	row.WarmUS = dist(warm).P50
	return row
}

func (e *benchEnv) coldRIEOnce(ctx context.Context, ce *coldEnv, bin string, env []string, payload []byte) (cold, warm time.Duration, err error) {
	out := &bytes.Buffer{}
	r, err := rie.StartWithOptions(ctx, rie.Options{Bootstrap: bin, Env: env, RepoRoot: e.s.root, Timeout: 10 * time.Second, Output: &syncbuf.Writer{W: out}})
	if err != nil {
		return 0, 0, fmt.Errorf("start the emulator: %w", err)
	}
	defer func() { _ = r.Stop() }()
	ictx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for i := range 2 {
		t0 := time.Now()
		raw, err := r.Invoke(ictx, payload)
		d := time.Since(t0)
		if err != nil {
			return 0, 0, fmt.Errorf("invoke %d: %w; output: %.500s", i+1, err, r.Output())
		}
		resp := rie.DecodeStreaming(raw)
		if resp.Form != "stream" || resp.StatusCode != http.StatusOK {
			return 0, 0, fmt.Errorf("invoke %d answered %s %d: %.300s", i+1, resp.Form, resp.StatusCode, resp.Body)
		}
		if err := ce.checkKey(ssmKey); err != nil {
			return 0, 0, err
		}
		if i == 0 {
			cold = d
		} else {
			warm = d
		}
	}
	return cold, warm, nil
}

// binarySizes builds the Lambda binary as SAM does and records its size.
// It runs before any measurement: a first cross-build compiles every
// dependency for arm64 and must not compete with the load.
func (e *benchEnv) binarySizes(ctx context.Context) error {
	part := e.res.ColdStart
	if part == nil {
		part = &ColdPart{}
		e.res.ColdStart = part
	}
	arm := []string{"GOOS=linux", "GOARCH=arm64"}
	builds := []struct{ name, pkg string }{
		{"bootstrap (functions/aiproxy), linux/arm64, -tags lambda.norpc -trimpath -ldflags='-s -w'", "./functions/aiproxy"},
	}
	for i, b := range builds {
		out := filepath.Join(e.work, fmt.Sprintf("size-%d", i))
		if err := goBuild(ctx, e.s.root, arm, "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", out, b.pkg); err != nil {
			part.Notes = append(part.Notes, fmt.Sprintf("Size of %s not measured: %s", b.pkg, oneLine(err.Error(), 400)))
			continue
		}
		st, err := os.Stat(out)
		if err != nil {
			return fmt.Errorf("size of %s: %w", b.pkg, err)
		}
		part.Sizes = append(part.Sizes, &Size{Name: b.name, Bytes: st.Size()})
	}
	if st, err := os.Stat(e.s.aiproxy); err == nil {
		part.Sizes = append(part.Sizes, &Size{Name: "bin/aiproxy (make build: host, -trimpath, not stripped)", Bytes: st.Size()})
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("size of %s: %w", e.s.aiproxy, err)
	}
	return nil
}
