package lambda_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/bedrockstub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/rie"
)

// A streamed Bedrock answer through the real bootstrap under the Runtime
// Interface Emulator: model.provider bedrock, credentials from the
// environment (the SDK's default chain, as the function's role gives
// them on Lambda), the endpoint from AWS_ENDPOINT_URL_BEDROCK_RUNTIME.
func TestBedrockStreamThroughEmulator(t *testing.T) {
	srv := bedrockstub.New(bedrockstub.Options{})
	endpoint := srv.ListenT(t)
	o := srv.Options()
	cfg := filepath.Join(t.TempDir(), "aiproxy.yaml")
	doc := "route_type: llm/v1/chat\nlogging: {log_statistics: true}\nmodel:\n  provider: bedrock\n  name: \"$(uri_captures.model)\"\n"
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(functionEnv(cfg, "STREAM"),
		"AWS_ENDPOINT_URL_BEDROCK_RUNTIME="+endpoint, "AWS_REGION="+o.Region,
		"AWS_ACCESS_KEY_ID="+o.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+o.SecretAccessKey, "AWS_SESSION_TOKEN=",
		"AWS_MAX_ATTEMPTS=1", "AWS_EC2_METADATA_DISABLED=true")
	emu := rie.StartT(t, bootstrap, env)
	resp := invokeEmulator(t, emu, readEvent(t, "function-url-stream.json"))
	checkAnswer(t, resp, expectation{"stream", 200, "text/event-stream", []string{
		`"role":"assistant","content":""`, `"content":"Answer "`, `"content":"gpt-4o-mini."`, `"finish_reason":"stop"`, "data: [DONE]\n\n"}})
	last := srv.Last()
	if last.Operation != "ConverseStream" || !last.Signed || last.ModelID != "gpt-4o-mini" {
		t.Errorf("Bedrock saw %s %q signed %v", last.Operation, last.ModelID, last.Signed)
	}
	if strings.Contains(string(resp.Body), o.SecretAccessKey) {
		t.Error("the secret is in the answer")
	}
}
