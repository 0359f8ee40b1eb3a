// Command demo runs lambda-ai-proxy fully offline: it starts the stub
// upstream, starts the proxy binary pointed at it, and streams a chat answer
// through the official openai-go SDK exactly as a user's code would, with
// base_url http://<proxy>/<model>. `make demo` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
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
        header_value: Bearer demo-upstream-key
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
	listen := flag.String("listen", "127.0.0.1:8080", "where the proxy listens")
	model := flag.String("model", "gpt-4o-mini", "the model named in the path")
	flag.Parse()
	if err := run(*bin, *listen, *model); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(bin, listen, model string) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for the stub: %w", err)
	}
	go func() { _ = http.Serve(l, stub.New()) }()
	upstream := "http://" + l.Addr().String()

	dir, err := os.MkdirTemp("", "aiproxy-demo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, demoConfig, upstream), 0o600); err != nil {
		return err
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "AIPROXY_CONFIG_FILE="+cfg, "AIPROXY_LISTEN="+listen)
	logs, err := os.Create(filepath.Join(dir, "proxy.log"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		logs.Close()
		if b, err := os.ReadFile(logs.Name()); err == nil {
			fmt.Printf("\n--- proxy log ---\n%s", b)
		}
	}()
	if err := waitFor(listen, 10*time.Second); err != nil {
		return err
	}

	baseURL := "http://" + listen + "/" + model
	fmt.Printf("stub upstream: %s\nproxy:         http://%s\nopenai-go:     base_url=%s\n\n", upstream, listen, baseURL)
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
		return fmt.Errorf("stream: %w", err)
	}
	fmt.Printf("\n%d chunks streamed through the proxy, each printed as it arrived.\n", n)
	return nil
}

func waitFor(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("proxy did not listen on %s within %v", addr, d)
}
