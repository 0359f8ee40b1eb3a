package integration

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/motoserver"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/syncbuf"
)

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildBinary builds functions/aiproxy once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "aiproxy-bin")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "aiproxy")
		cmd := exec.Command("go", "build", "-o", binPath, "../../functions/aiproxy")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type process struct {
	cmd    *exec.Cmd
	output *syncbuf.Buffer
	done   chan error
}

func start(t *testing.T, bin string, env ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin), output: &syncbuf.Buffer{}, done: make(chan error, 1)}
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}, env...)
	p.cmd.Stdout, p.cmd.Stderr = p.output, p.output
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
		}
	})
	return p
}

func waitListening(t *testing.T, p *process, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		select {
		case err := <-p.done:
			t.Fatalf("process exited: %v\n%s", err, p.output)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("not listening on %s:\n%s", addr, p.output)
}

// The binary as `make run` starts it: plain HTTP, config from a file, JSON
// logs, and the key nowhere in its output.
func TestLocalServerBinary(t *testing.T) {
	bin := buildBinary(t)
	st := stub.New()
	upstream := httptest.NewServer(st)
	defer upstream.Close()
	cfgFile := filepath.Join(t.TempDir(), "config.yaml")
	doc := stub.PluginConfig(upstream.URL+"/v1/chat/completions", `Bearer ${{ env "DECK_OPENAI_API_KEY" }}`)
	if err := os.WriteFile(cfgFile, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	p := start(t, bin, "AIPROXY_CONFIG_FILE="+cfgFile, "AIPROXY_LISTEN="+addr, "DECK_OPENAI_API_KEY="+upstreamKey)
	waitListening(t, p, addr)

	client := openai.NewClient(option.WithBaseURL("http://"+addr+"/gpt-4o-mini"), option.WithAPIKey("client"), option.WithMaxRetries(0),
		option.WithHeader("X-Stub-Chunks", "10"), option.WithHeader("X-Stub-Lockstep", "1"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: userMessage("hi")})
	var text strings.Builder
	for stream.Next() {
		c := stream.Current()
		if len(c.Choices) > 0 && c.Choices[0].Delta.Content != "" {
			text.WriteString(c.Choices[0].Delta.Content)
			st.Step() // the stub writes the next chunk only now: order, not timing
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(text.String(), stub.Word(0)+stub.Word(1)) || st.Stalled() != 0 {
		t.Errorf("streamed %q with %d stalls (a chunk the client never saw until the end)", text.String(), st.Stalled())
	}
	if got := st.Last().Header.Get("Authorization"); got != "Bearer "+upstreamKey {
		t.Errorf("upstream Authorization = %q", got)
	}
	refusesBrowsers(t, addr, st)
	_ = p.cmd.Process.Signal(os.Interrupt)
	<-p.done
	out := p.output.String()
	if !strings.Contains(out, `"msg":"listening"`) {
		t.Errorf("no JSON listening line in output:\n%s", out)
	}
	if strings.Contains(out, upstreamKey) {
		t.Errorf("the key appears in the process output:\n%s", out)
	}
}

// refusesBrowsers: a web page's cross-site text/plain POST (no CORS
// preflight needed) and a DNS-rebound Host get a 403 from the local
// binary, and nothing reaches the upstream.
func refusesBrowsers(t *testing.T, addr string, st *stub.Server) {
	t.Helper()
	before := len(st.Requests())
	for name, set := range map[string]func(*http.Request){
		"cross-site": func(r *http.Request) {
			r.Header.Set("Origin", "https://evil.example")
			r.Header.Set("Sec-Fetch-Site", "cross-site")
		},
		"rebinding": func(r *http.Request) { r.Host = "evil.example:" + strings.Split(addr, ":")[1] },
	} {
		r, _ := http.NewRequest("POST", "http://"+addr+"/gpt-4o-mini/chat/completions", strings.NewReader(chatBody))
		r.Header.Set("Content-Type", "text/plain")
		set(r)
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("%s browser request: status %d, want 403", name, res.StatusCode)
		}
	}
	if n := len(st.Requests()) - before; n != 0 {
		t.Errorf("%d browser requests reached the upstream", n)
	}
}

// With no config file the embedded default (the seed's route) is used, and
// it says plainly when OPENAI_API_KEY is missing.
func TestLocalServerEmbeddedDefault(t *testing.T) {
	bin := buildBinary(t)
	p := start(t, bin, "AIPROXY_LISTEN="+freeAddr(t))
	select {
	case err := <-p.done:
		if err == nil || !strings.Contains(p.output.String(), "OPENAI_API_KEY is not set") {
			t.Errorf("exit %v, output:\n%s", err, p.output)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("started without a key")
	}

	addr := freeAddr(t)
	p = start(t, bin, "AIPROXY_LISTEN="+addr, "OPENAI_API_KEY="+upstreamKey)
	waitListening(t, p, addr)
	res, err := http.Post("http://"+addr+"/chat/completions", "application/json", bytes.NewReader([]byte(chatBody)))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("seed route: /chat/completions gave %d, want 404", res.StatusCode)
	}
	if strings.Contains(p.output.String(), upstreamKey) {
		t.Errorf("the key appears in the process output")
	}
}

// The local server runs from SSM-held config and key as the function does.
func TestLocalServerFromSSM(t *testing.T) {
	bin := buildBinary(t)
	st := stub.New()
	upstream := httptest.NewServer(st)
	defer upstream.Close()
	moto := motoserver.Start(t)
	moto.Put(t, "/aiproxy/openai-api-key", upstreamKey, true)
	moto.Put(t, "/aiproxy/config", stub.PluginConfig(upstream.URL+"/v1/chat/completions", "Bearer {vault://ssm/aiproxy/openai-api-key}"), false)
	addr := freeAddr(t)
	p := start(t, bin, append(moto.Environ(), "AIPROXY_CONFIG_PARAMETER=/aiproxy/config", "AIPROXY_LISTEN="+addr)...)
	waitListening(t, p, addr)
	client := openai.NewClient(option.WithBaseURL("http://"+addr+"/gpt-4o"), option.WithAPIKey("client"), option.WithMaxRetries(0))
	if _, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: userMessage("hi")}); err != nil {
		t.Fatal(err)
	}
	if got := st.Last().Header.Get("Authorization"); got != "Bearer "+upstreamKey {
		t.Errorf("upstream Authorization = %q", got)
	}
	if strings.Contains(p.output.String(), upstreamKey) {
		t.Errorf("the key appears in the process output")
	}
}
