// Command demo runs lambda-ai-proxy fully offline: it starts the stub
// upstream, starts the proxy binary pointed at it, and streams a chat answer
// through the official openai-go SDK exactly as a user's code would, with
// base_url http://<proxy>/<model>. `make demo` runs it.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
)

const demoConfig = `# The seed's route and plugin, with the offline stub as upstream.
_format_version: "3.0"
routes:
  - name: openai-chat
    paths: ["~/(?<model>[^#?/]+)/chat/completions$"]
    methods: [POST]
plugins:
  - name: ai-proxy
    config:
      route_type: llm/v1/chat
      auth:
        header_name: Authorization
        header_value: Bearer %s
      logging:
        log_statistics: true
      model:
        provider: openai
        name: "$(uri_captures.model)"
        options:
          upstream_url: %s/v1/chat/completions
`

func main() {
	bin := flag.String("bin", "bin/aiproxy", "the proxy binary")
	// Port 0: the kernel picks a free one, so a `make run` already on 8080
	// is never the proxy the demo talks to.
	listen := flag.String("listen", "127.0.0.1:0", "where the proxy listens (port 0: a free one)")
	model := flag.String("model", "", "the model named in the path (gpt-4o-mini; for bedrock anthropic.claude-3-5-haiku-20241022-v1:0)")
	providerName := flag.String("provider", "openai", "openai, or bedrock: the Bedrock stub behind model.provider: bedrock")
	flag.Parse()
	var err error
	switch *providerName {
	case "openai":
		if *model == "" {
			*model = "gpt-4o-mini"
		}
		err = run(*bin, *listen, *model)
	case "bedrock":
		if *model == "" {
			*model = "anthropic.claude-3-5-haiku-20241022-v1:0"
		}
		err = runBedrock(*bin, *listen, *model)
	default:
		err = fmt.Errorf("-provider %q: openai or bedrock", *providerName)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(bin, listen, model string) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for the stub: %w", err)
	}
	st := stub.New()
	go func() { _ = http.Serve(l, st) }()
	upstream := "http://" + l.Addr().String()
	// A key only this run knows: the stub seeing it proves the answer came
	// through this run's proxy, not another process on the same port.
	upstreamKey := "demo-" + rand.Text()

	dir, err := os.MkdirTemp("", "aiproxy-demo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, demoConfig, upstreamKey, upstream), 0o600); err != nil {
		return err
	}
	listen, stop, err := startProxy(bin, cfg, listen, dir)
	if err != nil {
		return err
	}
	defer stop()

	baseURL := "http://" + listen + "/" + model
	fmt.Printf("stub upstream: %s\nproxy:         http://%s\nopenai-go:     base_url=%s\n\n", upstream, listen, baseURL)
	n, err := streamChat(baseURL, model)
	if err != nil {
		return err
	}
	if got := st.Last(); got.Header.Get("Authorization") != "Bearer "+upstreamKey {
		return fmt.Errorf("the answer did not come through this demo's proxy and stub: is another process on %s?", listen)
	}
	fmt.Printf("\n%d chunks streamed through the proxy, each printed as it arrived.\n", n)
	return nil
}

// startProxy starts the proxy binary on the configuration file cfg, its
// log going to a file in dir, and returns the address it really listens
// on and a function that stops it and prints its log.
func startProxy(bin, cfg, listen, dir string, env ...string) (addr string, stop func(), err error) {
	cmd := exec.Command(bin)
	cmd.Env = append(append(os.Environ(), "AIPROXY_CONFIG_FILE="+cfg, "AIPROXY_LISTEN="+listen), env...)
	logs, err := os.Create(filepath.Join(dir, "proxy.log"))
	if err != nil {
		return "", nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logs.Close()
		return "", nil, err
	}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		logs.Close()
		return "", nil, fmt.Errorf("start %s: %w", bin, err)
	}
	stop = func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		logs.Close()
		if b, err := os.ReadFile(logs.Name()); err == nil {
			fmt.Printf("\n--- proxy log ---\n%s", b)
		}
	}
	addrc := make(chan string, 1)
	go watchListening(stdout, logs, addrc)
	select {
	case addr = <-addrc:
	case <-time.After(10 * time.Second):
		stop()
		return "", nil, fmt.Errorf("the proxy did not log \"listening\" within 10s (log: %s)", logs.Name())
	}
	if addr == "" {
		stop()
		return "", nil, fmt.Errorf("the proxy exited before listening")
	}
	return strings.TrimPrefix(addr, "http://"), stop, nil
}

// streamChat streams a slow chat answer from baseURL through openai-go,
// printing each chunk as it arrives, and returns how many carried content.
func streamChat(baseURL, model string) (int, error) {
	client := openai.NewClient(
		option.WithBaseURL(baseURL),
		option.WithAPIKey("any-client-key"),
		option.WithHeader("X-Stub-Chunks", "12"),
		option.WithHeader("X-Stub-Interval", "80ms"),
	)
	start := time.Now()
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:    openai.ChatModel(model),
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello, slowly.")},
	})
	n := 0
	for stream.Next() {
		c := stream.Current()
		if len(c.Choices) > 0 && c.Choices[0].Delta.Content != "" {
			n++
			fmt.Printf("[%6.1f ms] %s\n", float64(time.Since(start).Microseconds())/1000, c.Choices[0].Delta.Content)
		}
	}
	if err := stream.Err(); err != nil {
		return n, fmt.Errorf("stream: %w", err)
	}
	return n, nil
}

// watchListening copies the proxy's log to w and sends the address of its
// "listening" line: the one it really bound, read from the process itself.
// It sends "" if the log ends first.
func watchListening(r io.Reader, w io.Writer, addrc chan<- string) {
	sent := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		_, _ = fmt.Fprintln(w, sc.Text())
		var line struct{ Msg, Addr string }
		if !sent && json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" && line.Addr != "" {
			addrc <- line.Addr
			sent = true
		}
	}
	_, _ = io.Copy(w, r)
	if !sent {
		addrc <- ""
	}
}
