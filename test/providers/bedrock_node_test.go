package providers

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/bedrockstub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/npmci"
)

// nodeFolder is openainode/, where the openai npm package is pinned.
var nodeFolder = npmci.Folder{Dir: "openainode", Installed: func(dir string) error {
	_, err := os.Stat(filepath.Join(dir, "node_modules", "openai", "package.json"))
	return err
}}

// openaiNode installs the pinned openai npm package with npm ci into
// openainode/node_modules (once; git ignores it) and returns the folder.
func openaiNode(t *testing.T) string {
	t.Helper()
	dir, err := nodeFolder.Install(t)
	if err != nil {
		t.Fatalf("install the openai npm package (npm ci in test/providers/openainode): %v", err)
	}
	return dir
}

// The openai npm package's own stream helper reassembles Bedrock's two
// parallel tool calls, streamed in pieces after some text, exactly: the
// tool-call index counts calls from 0, ids and names come in each call's
// first delta, and the argument pieces join into the JSON Bedrock sent.
func TestBedrockOpenAINodeAccumulatesToolCalls(t *testing.T) {
	dir := openaiNode(t)
	e := startBedrock(t, bedrockConfig, bedrockstub.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "accumulate.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BASE_URL="+e.base+"/stub.tools", "MODEL=stub.tools")
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("node: %v\n%s", err, stderr)
	}
	var got struct {
		Message struct {
			Content   string `json:"content"`
			ToolCalls []struct {
				ID       string `json:"id"`
				Type     string `json:"type"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	calls := got.Message.ToolCalls
	if got.FinishReason != "tool_calls" || got.Message.Content != "Let me check." || len(calls) != 2 {
		t.Fatalf("accumulated %s", out)
	}
	want := []struct{ id, name, args string }{
		{bedrockstub.ToolUseID1, "get_weather", `{"city":"Paris"}`},
		{bedrockstub.ToolUseID2, "get_time", `{"tz":"Europe/Paris"}`},
	}
	for i, w := range want {
		c := calls[i]
		if c.ID != w.id || c.Type != "function" || c.Function.Name != w.name || c.Function.Arguments != w.args {
			t.Errorf("tool call %d = %+v, want %+v", i, c, w)
		}
	}
}
