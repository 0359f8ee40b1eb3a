package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
)

// Target names, in the order the report lists them.
const (
	tDirect = "direct"
	tBare   = "bare"
	tNginx  = "nginx"
	tProxy  = "aiproxy"
	// tPortkey is Portkey's AI gateway (npm @portkey-ai/gateway), a real AI
	// gateway measured beside ours; pending when it is not installed.
	tPortkey = "portkey"
	// tCand is an optional second build of the proxy (-candidate), measured
	// in the same rounds: the before/after of a proposed change.
	tCand = "candidate"
)

// targetOrder is every target of part 1; run adds tCand with -candidate.
var targetOrder = []string{tDirect, tBare, tNginx, tPortkey, tProxy}

var targetLabels = map[string]string{
	tDirect:  "direct to the stub",
	tBare:    "bare Go reverse proxy",
	tNginx:   "nginx reverse proxy",
	tProxy:   "lambda-ai-proxy (local server)",
	tCand:    "lambda-ai-proxy, candidate build",
	tPortkey: "Portkey AI gateway (Node.js)",
}

// dropTarget removes a target that cannot run (Portkey not installed) from
// parts 1 and 2.
func dropTarget(t string) {
	targetOrder = slices.DeleteFunc(targetOrder, func(x string) bool { return x == t })
	streamOrder = slices.DeleteFunc(streamOrder, func(x string) bool { return x == t })
}

// pins is the run's CPU pinning (pin.go).
var pins pinPlan

// candLabel marks the candidate's rows (-candidate-label).
var candLabel = "candidate build"

// model is the model in every request; the proxy takes it from the path.
const model = "gpt-4o-mini"

// Stub steering for the non-streamed answer: one chunk padded so that the
// whole JSON answer is about 1 KB.
var answerHeaders = map[string]string{"X-Stub-Chunks": "1", "X-Stub-Chunk-Bytes": "760"}

// benchEnv holds what the parts share: the built helpers, the servers
// started so far and the results being filled in.
type benchEnv struct {
	s    *settings
	work string
	bins *helpers
	res  *Results

	stub, bare, nginx, proxy, cand, portkey *proc
	procs                                   []*proc
	prov                                    *providerEnv // part 6
}

// url is the non-streamed endpoint of a target.
func (e *benchEnv) url(t string) string {
	switch t {
	case tDirect:
		return "http://" + e.stub.addr + "/v1/chat/completions"
	case tBare:
		return "http://" + e.bare.addr + "/v1/chat/completions"
	case tNginx:
		return "http://" + e.nginx.addr + "/v1/chat/completions"
	case tPortkey:
		return "http://" + e.portkey.addr + "/v1/chat/completions"
	case tCand:
		return "http://" + e.cand.addr + "/" + model + "/chat/completions"
	default:
		return "http://" + e.proxy.addr + "/" + model + "/chat/completions"
	}
}

// pids are the processes whose CPU time and memory count for a target:
// the proxy's (nginx's master and workers), or the stub's for direct.
func (e *benchEnv) pids(t string) []int {
	switch t {
	case tDirect:
		return []int{e.stub.pid()}
	case tBare:
		return []int{e.bare.pid()}
	case tNginx:
		return append([]int{e.nginx.pid()}, children(e.nginx.pid())...)
	case tCand:
		return []int{e.cand.pid()}
	case tPortkey:
		return []int{e.portkey.pid()}
	default:
		return []int{e.proxy.pid()}
	}
}

// headers are the request headers a target needs besides the request's
// own: Portkey is told to use the OpenAI provider with the stub as its
// custom host, and to pass the stub's steering headers on.
func (e *benchEnv) headers(t string) map[string]string {
	if t != tPortkey {
		return nil
	}
	return map[string]string{
		"x-portkey-provider":        "openai",
		"x-portkey-custom-host":     "http://" + e.stub.addr + "/v1",
		"x-portkey-forward-headers": "x-stub-chunks,x-stub-chunk-bytes,x-stub-interval",
	}
}

// stubCount is how many requests the stub has served (stubserver's
// counter), to check that a target's answers came from it.
func (e *benchEnv) stubCount(ctx context.Context) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.stub.addr+"/stub/requests", nil)
	if err != nil {
		return 0, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("stub request count: %w", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64))
	if err != nil {
		return 0, fmt.Errorf("stub request count: %w", err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stub request count %q: %w", b, err)
	}
	return n, nil
}

func (e *benchEnv) track(p *proc) *proc {
	e.procs = append(e.procs, p)
	return p
}

func (e *benchEnv) stopAll() {
	for i := len(e.procs) - 1; i >= 0; i-- {
		e.procs[i].stop()
	}
	e.procs = nil
}

// startServers starts the stub and the three proxies in front of it, once.
func (e *benchEnv) startServers(ctx context.Context) error {
	if e.stub != nil {
		return nil
	}
	var err error
	if e.stub, err = e.startListening(ctx, "stub", pins.loadCPU, e.bins.stub, func(addr string) ([]string, []string) {
		return []string{"-addr", addr}, nil
	}); err != nil {
		return err
	}
	upstream := "http://" + e.stub.addr
	if e.bare, err = e.startListening(ctx, "bareproxy", pins.proxyCPU, e.bins.bare, func(addr string) ([]string, []string) {
		return []string{"-addr", addr, "-upstream", upstream}, nil
	}); err != nil {
		return err
	}
	if e.nginx, err = e.startNginx(ctx); err != nil {
		return err
	}
	if e.proxy, err = e.startProxy(ctx, "aiproxy", e.s.aiproxy); err != nil {
		return err
	}
	if e.s.candidate != "" {
		if e.cand, err = e.startProxy(ctx, "candidate", e.s.candidate); err != nil {
			return err
		}
	}
	if slices.Contains(targetOrder, tPortkey) {
		if e.portkey, err = e.startPortkey(ctx); err != nil {
			return err
		}
	}
	return nil
}

// startListening starts a server on a free loopback port and waits for it.
// cpu is where it runs when pinning is on (-1: anywhere).
func (e *benchEnv) startListening(ctx context.Context, name string, cpu int, bin string, argv func(addr string) (args, env []string)) (*proc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args, env := argv(addr)
	p, err := startProc(name, e.work, cpu, bin, args, env)
	if err != nil {
		return nil, err
	}
	e.track(p)
	if err := p.waitListening(ctx, addr, 10*time.Second); err != nil {
		return nil, err
	}
	return p, nil
}

// proxyConfig is the bench's plugin config: the seed's dynamic-model route
// with the stub as upstream.
func (e *benchEnv) proxyConfig() string {
	return stub.PluginConfig("http://"+e.stub.addr+"/v1/chat/completions", "Bearer bench-key")
}

// startProxy starts the project's binary as a local server with the bench
// config from a file, as a user runs it (default log level).
func (e *benchEnv) startProxy(ctx context.Context, name, bin string) (*proc, error) {
	cfgPath := filepath.Join(e.work, "aiproxy.yaml")
	if err := os.WriteFile(cfgPath, []byte(e.proxyConfig()), 0o644); err != nil {
		return nil, fmt.Errorf("write proxy config: %w", err)
	}
	return e.startListening(ctx, name, pins.proxyCPU, bin, func(addr string) ([]string, []string) {
		return nil, []string{"AIPROXY_LISTEN=" + addr, "AIPROXY_CONFIG_FILE=" + cfgPath}
	})
}

// nginxConf is nginx as a plain reverse proxy: no buffering of answers,
// keep-alive to the upstream (as the Go proxies have), no access log.
// Workers: one per core, nginx's usual "auto", or one when pinned to a core.
const nginxConf = `worker_processes %[4]s;
user root;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    keepalive_requests 1000000;
    upstream stub {
        server %[2]s;
        keepalive 128;
        keepalive_requests 1000000;
    }
    server {
        listen %[3]s;
        location / {
            proxy_pass http://stub;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
}
`

func (e *benchEnv) startNginx(ctx context.Context) (*proc, error) {
	bin, err := exec.LookPath(e.s.nginx)
	if err != nil {
		return nil, fmt.Errorf("nginx not found (run.sh installs it with apt-get install -y nginx): %w", err)
	}
	dir := filepath.Join(e.work, "nginx")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("nginx directory: %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	workers := "auto"
	if pins.on {
		workers = "1"
	}
	conf := fmt.Sprintf(nginxConf, dir, e.stub.addr, addr, workers)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("write nginx.conf: %w", err)
	}
	e.res.NginxConf = strings.ReplaceAll(strings.ReplaceAll(conf, dir, "$PREFIX"), e.stub.addr, "$STUB")
	p, err := startProc("nginx", e.work, pins.proxyCPU, bin, []string{"-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log")}, nil)
	if err != nil {
		return nil, err
	}
	e.track(p)
	if err := p.waitListening(ctx, addr, 10*time.Second); err != nil {
		b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		return nil, fmt.Errorf("%w\n%s", err, b)
	}
	if out, err := exec.Command(bin, "-v").CombinedOutput(); err == nil {
		e.res.Machine.Nginx = strings.TrimSpace(strings.TrimPrefix(string(out), "nginx version: "))
	}
	return p, nil
}

// chatBody is the benchmark's chat request (stub.ChatRequest).
func chatBody(stream bool) []byte { return stub.ChatRequest(model, stream) }
