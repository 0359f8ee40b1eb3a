package lambda_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/bedrockstub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/lambdatest"
)

// TestResponsesStreamLeavesAsItArrives runs the real bootstrap with a
// Responses API route on Bedrock (translated through the chat hub) behind a
// Function URL stream: the Bedrock stub writes its event i+1 only after the
// Runtime API has received the Responses event made of event i, so the
// stream completes only if each event leaves the function as it is made.
func TestResponsesStreamLeavesAsItArrives(t *testing.T) {
	srv := bedrockstub.New(bedrockstub.Options{})
	endpoint := srv.ListenT(t)
	cfg := `
_format_version: "3.0"
routes:
  - name: responses
    paths: [/v1/responses]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/responses
          model: {provider: bedrock, options: {bedrock: {aws_region: us-east-1}}}
`
	file := filepath.Join(t.TempDir(), "aiproxy.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	api := lambdatest.NewRuntimeAPI(t)
	cmd := exec.Command(bootstrap)
	env := append(functionEnv(file, "STREAM"), srv.Env(endpoint)...)
	cmd.Env = append(cmd.Environ(), append(env, "AWS_REGION=us-east-1", "AWS_SESSION_TOKEN=")...)
	api.StartProcess(t, cmd)

	const n = 5
	var ev map[string]any
	if err := json.Unmarshal(readEvent(t, "function-url-stream.json"), &ev); err != nil {
		t.Fatal(err)
	}
	ev["rawPath"] = "/v1/responses"
	ev["requestContext"].(map[string]any)["http"].(map[string]any)["path"] = "/v1/responses"
	ev["body"] = `{"model":"stub.text.chunks-5.lockstep","input":"Say hello","stream":true}`
	event, _ := json.Marshal(ev)

	inProgress := lambdatest.EachMark(`event: response.in_progress`, func(int) { srv.Step() })
	deltas := lambdatest.EachMark(`event: response.output_text.delta`, func(k int) {
		srv.Step()
		if k == n-1 { // messageStop, metadata
			srv.Step()
			srv.Step()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := api.InvokeStream(ctx, event, func(c lambdatest.Chunk) { inProgress(c); deltas(c) })
	if err != nil {
		t.Fatal(err)
	}
	if srv.Stalled() != 0 {
		t.Errorf("the Bedrock stub waited in vain for an event to reach the Runtime API: the function buffered")
	}
	if res.Error != nil {
		t.Fatalf("function error %s: %s", res.Error.Type, res.Error.Body)
	}
	p, body, err := res.Stream()
	if err != nil {
		t.Fatal(err)
	}
	if p.StatusCode != 200 || res.ErrorType() != "" {
		t.Fatalf("prelude %+v, error trailer %s", p, res.ErrorType())
	}
	if !strings.Contains(string(body), `"delta":"`+strings.TrimSpace(bedrockstub.Word(n-1))) || !strings.Contains(string(body), "event: response.completed") ||
		strings.Contains(string(body), "[DONE]") {
		t.Errorf("body %q", body)
	}
}
