package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/bedrockstub"
)

// bedrockDemoConfig is Kong's Bedrock config as it moves over: no auth
// block (the AWS SDK's default chain signs: here the stub's keys in the
// environment), the region in the options.
const bedrockDemoConfig = `# model.provider: bedrock, the endpoint from AWS_ENDPOINT_URL_BEDROCK_RUNTIME.
_format_version: "3.0"
routes:
  - name: bedrock-chat
    paths: ["~/(?<model>[^#?/]+)/chat/completions$"]
    methods: [POST]
plugins:
  - name: ai-proxy
    config:
      route_type: llm/v1/chat
      logging:
        log_statistics: true
      model:
        provider: bedrock
        name: "$(uri_captures.model)"
        options:
          bedrock:
            aws_region: us-east-1
`

// runBedrock is the demo with the Bedrock stub (the real Bedrock wire
// protocol: SigV4-checked ConverseStream, event-stream frames) behind the
// proxy's Bedrock driver.
func runBedrock(bin, listen, model string) error {
	srv := bedrockstub.New(bedrockstub.Options{EventDelay: 80 * time.Millisecond})
	endpoint, stopStub, err := srv.Listen()
	if err != nil {
		return fmt.Errorf("start the Bedrock stub: %w", err)
	}
	defer stopStub()
	o := srv.Options()

	dir, err := os.MkdirTemp("", "aiproxy-demo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(bedrockDemoConfig), 0o600); err != nil {
		return err
	}
	listen, stop, err := startProxy(bin, cfg, listen, dir,
		"AWS_ENDPOINT_URL_BEDROCK_RUNTIME="+endpoint,
		"AWS_ACCESS_KEY_ID="+o.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+o.SecretAccessKey, "AWS_SESSION_TOKEN=",
		"AWS_PROFILE=", "AWS_CONFIG_FILE="+filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "none"),
		"AWS_EC2_METADATA_DISABLED=true")
	if err != nil {
		return err
	}
	defer stop()

	baseURL := "http://" + listen + "/" + model
	fmt.Printf("Bedrock stub:  %s (SigV4 checked, service %q)\nproxy:         http://%s\nopenai-go:     base_url=%s\n\n", endpoint, bedrockstub.SigningName, listen, baseURL)
	client := openai.NewClient(option.WithBaseURL(baseURL), option.WithAPIKey("any-client-key"))
	start := time.Now()
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:         openai.ChatModel(model),
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello, slowly.")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	n := 0
	for stream.Next() {
		c := stream.Current()
		if len(c.Choices) > 0 && c.Choices[0].Delta.Content != "" {
			n++
			fmt.Printf("[%6.1f ms] %s\n", float64(time.Since(start).Microseconds())/1000, c.Choices[0].Delta.Content)
		}
		if c.Usage.TotalTokens > 0 {
			fmt.Printf("usage: %d prompt + %d completion tokens (Bedrock's counts)\n", c.Usage.PromptTokens, c.Usage.CompletionTokens)
		}
	}
	if err := stream.Err(); err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	if last := srv.Last(); last.Operation != "ConverseStream" || !last.Signed {
		return fmt.Errorf("the answer did not come through this demo's Bedrock stub: is another process on %s?", listen)
	}
	fmt.Printf("\n%d chunks streamed from Bedrock's ConverseStream through the proxy, each printed as it arrived.\n", n)
	return nil
}
