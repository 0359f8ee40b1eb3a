package lambda_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/geministub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/lambdatest"
)

// TestGeminiStreamLeavesAsItArrives: the real bootstrap, the gemini
// provider (serving the model the event names), a Function URL streaming
// event. The Gemini test server writes
// event i+1 only once the Runtime API has received the chunk made of event
// i, so the stream completes only if the translated chunks leave the
// function as they arrive.
func TestGeminiStreamLeavesAsItArrives(t *testing.T) {
	stub := geministub.New(geministub.Options{APIKey: "AIza-lambda", Lockstep: true})
	base := stub.ListenT(t)
	cfg := `
route_type: llm/v1/chat
auth: {header_name: x-goog-api-key, header_value: AIza-lambda}
model:
  provider: gemini
  name: gpt-4o-mini
  options: {upstream_url: "` + base + `/v1beta/models/gpt-4o-mini:generateContent"}
`
	file := filepath.Join(t.TempDir(), "aiproxy.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	api := lambdatest.NewRuntimeAPI(t)
	cmd := exec.Command(bootstrap)
	cmd.Env = append(cmd.Environ(), functionEnv(file, "STREAM")...)
	api.StartProcess(t, cmd)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pieces := geministub.TextPieces
	release := lambdatest.EachMark(`"content":"`, func(k int) {
		// Mark 0 is the role chunk's empty content; mark k >= 1 is piece
		// k-1, after which the stub may write piece k.
		if k >= 1 && k < len(pieces) {
			stub.Step()
		}
	})
	res, err := api.InvokeStream(ctx, readEvent(t, "function-url-stream.json"), release)
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != nil {
		t.Fatalf("function error %s: %s", res.Error.Type, res.Error.Body)
	}
	p, body, err := res.Stream()
	if err != nil {
		t.Fatal(err)
	}
	if p.StatusCode != 200 || !strings.Contains(string(body), "data: [DONE]") || !strings.Contains(string(body), `"finish_reason":"stop"`) {
		t.Fatalf("%+v %s", p, body)
	}
	for _, piece := range pieces {
		if !strings.Contains(string(body), `"content":"`+piece+`"`) {
			t.Fatalf("missing %q in %s", piece, body)
		}
	}
	if got := stub.Last(); got.Header.Get("x-goog-api-key") != "AIza-lambda" || got.Query != "alt=sse" {
		t.Fatalf("%+v", got)
	}
}
