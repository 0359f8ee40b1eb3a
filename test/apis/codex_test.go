package apis

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/bedrockstub"
	testbinary "github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/binary"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/npmci"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stubcore"
)

// codexVersion is the Codex CLI the tests drive, pinned in
// codex/package.json and its lock. The npm package's bin script runs a
// native binary that npm installs from the registry as an optional
// dependency (@openai/codex-linux-x64 is @openai/codex@<version>-linux-x64,
// and so on per platform): nothing is fetched from anywhere else, at
// install or at run time.
const codexVersion = "0.169.0"

// codexFolder is codex/, where the Codex CLI is pinned.
var codexFolder = npmci.Folder{Dir: "codex", Installed: func(dir string) error {
	return npmci.Version(npmci.Bin(dir, "codex"), "codex-cli "+codexVersion)
}}

// codexCLI installs the pinned Codex CLI with npm ci into
// codex/node_modules (once; git ignores it) and returns its bin script.
func codexCLI(t *testing.T) string {
	t.Helper()
	dir, err := codexFolder.Install(t)
	if err != nil {
		t.Fatalf("install the Codex CLI %s (npm ci in test/apis/codex): %v", codexVersion, err)
	}
	return npmci.Bin(dir, "codex")
}

// codexRecipe is the config.toml docs/apis.md gives Codex users, read from
// the docs so that the recipe there is the one proven here: its base_url
// placeholder is replaced by base and its model by model.
func codexRecipe(t *testing.T, base, model string) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "apis.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```toml\n(.*?)```").FindAllSubmatch(doc, -1)
	var recipe string
	for _, b := range blocks {
		if bytes.Contains(b[1], []byte("[model_providers.aiproxy]")) {
			recipe = string(b[1])
		}
	}
	const placeholder = "https://<function-url-host>/v1"
	if recipe == "" || !strings.Contains(recipe, placeholder) {
		t.Fatalf("docs/apis.md has no Codex config.toml recipe with [model_providers.aiproxy] and base_url %q", placeholder)
	}
	recipe = strings.Replace(recipe, placeholder, base+"/v1", 1)
	modelLine := regexp.MustCompile(`(?m)^model = ".*"`)
	if !modelLine.MatchString(recipe) {
		t.Fatalf("the recipe sets no model:\n%s", recipe)
	}
	return modelLine.ReplaceAllLiteralString(recipe, `model = "`+model+`"`)
}

// codexEvent is one line of `codex exec --json`.
type codexEvent struct {
	Type string `json:"type"`
	Item struct {
		Type             string `json:"type"`
		Text             string `json:"text"`
		Command          string `json:"command"`
		AggregatedOutput string `json:"aggregated_output"`
		Status           string `json:"status"`
	} `json:"item"`
	Error   json.RawMessage `json:"error"`
	Message string          `json:"message"`
}

// runCodex runs `codex exec --json prompt` in work with its own CODEX_HOME
// holding config (and HOME beside it), the client key in the variable the
// recipe names, and nothing but loopback reachable: any other connection
// goes to a closed port. It returns the events and the last message.
func runCodex(t *testing.T, bin, work, config, key, prompt string) ([]codexEvent, string) {
	t.Helper()
	home := t.TempDir()
	codexHome := filepath.Join(home, ".codex")
	if err := os.MkdirAll(codexHome, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(codexHome, "config.toml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	last := filepath.Join(home, "last-message.txt")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "exec", "--json", "--strict-config", "--ephemeral", "--skip-git-repo-check",
		"--dangerously-bypass-approvals-and-sandbox", "--color", "never", "-o", last,
		// Test-only: fail on the first refusal instead of retrying it,
		// and none of Codex's own calls elsewhere (update check,
		// analytics, the plugin catalog's sync from GitHub).
		"-c", "model_providers.aiproxy.request_max_retries=0", "-c", "model_providers.aiproxy.stream_max_retries=0",
		"-c", "check_for_update_on_startup=false", "-c", "analytics.enabled=false", "-c", "features.plugins=false",
		prompt)
	cmd.Dir = work
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "CODEX_HOME=" + codexHome, "AIPROXY_API_KEY=" + key,
		"TERM=dumb", "NO_COLOR=1", "RUST_LOG=warn",
		// Offline: anything but the proxy goes to a closed port.
		"HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9", "ALL_PROXY=http://127.0.0.1:9", "NO_PROXY=127.0.0.1,localhost",
	}
	if runtime.GOOS != "linux" {
		cmd.Env = append(cmd.Env, "TMPDIR="+os.TempDir())
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var events []codexEvent
	sc := bufio.NewScanner(bytes.NewReader(stdout.Bytes()))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var ev codexEvent
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Type != "" {
			events = append(events, ev)
		}
	}
	if err != nil {
		t.Fatalf("codex exec: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	msg, err := os.ReadFile(last)
	if err != nil {
		t.Fatalf("codex wrote no last message (%v)\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), key) {
		t.Error("the client key appears in Codex's output")
	}
	return events, string(msg)
}

// codexBedrockConfig serves the Responses API at /v1/responses from
// Bedrock, translated through chat, behind key-auth; the model comes from
// the body (Codex's model setting).
const codexBedrockConfig = `
_format_version: "3.0"
routes:
  - name: responses
    paths: [/v1/responses]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/responses
          logging: {log_statistics: true}
          model: {provider: bedrock, options: {max_tokens: 2048, bedrock: {aws_region: us-east-1}}}
plugins:
  - name: key-auth
consumers:
  - username: codex
    keyauth_credentials: [{key: ` + codexClientKey + `}]
`

const (
	codexClientKey = "codex-client-key-0123456789"
	// codexSignature signs the stub's reasoning: Codex must send it back.
	codexSignature = "sig-codex-reasoning-0123"
)

// TestCodexBedrock runs the Codex CLI itself, with the recipe of
// docs/apis.md, through the binary to the Bedrock test server: every
// request Codex makes is translated from the Responses API to Converse and
// back, streamed. One tool turn: the model asks for exec_command, Codex
// runs it, sends its output back as a function_call_output, and the model
// answers with what it read; the answer is Codex's last message.
func TestCodexBedrock(t *testing.T) {
	bin := codexCLI(t)
	e := startBedrock(t, codexBedrockConfig)
	srv, p := e.stub, e.proc
	p.NeverLogs(t, codexClientKey)

	const marker = "marker-c0d3x-5e1f"
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "note.txt"), []byte(marker+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.Script(func(req bedrockstub.Request) *bedrockstub.Scenario {
		usage := bedrockstub.Usage{InputTokens: 40, OutputTokens: 6}
		cv := req.Converse
		if cv == nil {
			return &bedrockstub.Scenario{Error: bedrockstub.ErrValidation("the test expects Converse")}
		}
		var result, asked bool
		for _, m := range cv.Messages {
			for _, c := range m.Content {
				if c.ToolResult != nil && c.ToolResult.ToolUseID == "tooluse_codex_1" {
					result = true
				}
				if c.Text != nil && strings.Contains(*c.Text, "note.txt") {
					asked = true
				}
			}
		}
		switch {
		case result && strings.Contains(string(req.Body), marker):
			return &bedrockstub.Scenario{Blocks: []bedrockstub.Block{bedrockstub.Text("The note ", "says "+marker+".")}, Usage: usage}
		case result:
			return &bedrockstub.Scenario{Blocks: []bedrockstub.Block{bedrockstub.Text("The tool's output did not arrive.")}, Usage: usage}
		case asked && strings.Contains(string(req.Body), `"name":"exec_command"`):
			return &bedrockstub.Scenario{Blocks: []bedrockstub.Block{
				bedrockstub.Reasoning(codexSignature, "The user wants ", "note.txt printed."),
				bedrockstub.Text("Reading it."),
				bedrockstub.ToolUse("tooluse_codex_1", "exec_command", `{"cmd":"cat note.txt",`, `"yield_time_ms":2000}`),
			}, StopReason: "tool_use", Usage: usage}
		}
		return &bedrockstub.Scenario{Blocks: []bedrockstub.Block{bedrockstub.Text("ok")}, Usage: usage}
	})

	const model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
	events, last := runCodex(t, bin, work, codexRecipe(t, "http://"+p.Addr, model), codexClientKey,
		"Print the contents of note.txt with a shell command.")
	if !strings.Contains(last, marker) {
		t.Fatalf("Codex's last message %q does not carry the marker; events %+v\nproxy log:\n%s", last, events, p.Output)
	}
	ran := false
	for _, ev := range events {
		if ev.Type == "item.completed" && ev.Item.Type == "command_execution" && strings.Contains(ev.Item.Command, "cat note.txt") &&
			strings.Contains(ev.Item.AggregatedOutput, marker) {
			ran = true
		}
	}
	if !ran {
		t.Errorf("Codex reported no command_execution of cat note.txt with the marker in its output: %+v", events)
	}
	var ops []string
	sawResult := false
	for _, r := range srv.Requests() {
		ops = append(ops, r.Operation+" "+r.ModelID)
		if r.Converse == nil {
			continue
		}
		for _, m := range r.Converse.Messages {
			for _, c := range m.Content {
				if c.ToolResult != nil && c.ToolResult.ToolUseID == "tooluse_codex_1" && strings.Contains(string(r.Body), marker) {
					sawResult = true
				}
			}
		}
	}
	if !sawResult {
		t.Fatalf("the tool's output never reached Bedrock; requests: %v", ops)
	}
	// The model's signed reasoning went to Codex as a reasoning item and
	// came back with the next request, text and signature whole, as
	// Bedrock needs it beside the tool use it preceded.
	var reasoning []string
	if cv := srv.Last().Converse; cv != nil {
		for _, m := range cv.Messages {
			for _, c := range m.Content {
				var rc struct {
					ReasoningText struct{ Text, Signature string } `json:"reasoningText"`
				}
				if len(c.ReasoningContent) > 0 && json.Unmarshal(c.ReasoningContent, &rc) == nil {
					reasoning = append(reasoning, m.Role+": "+rc.ReasoningText.Text+" / "+rc.ReasoningText.Signature)
				}
			}
		}
	}
	if want := "assistant: The user wants note.txt printed. / " + codexSignature; len(reasoning) != 1 || reasoning[0] != want {
		t.Errorf("reasoning sent back %q, want [%q]", reasoning, want)
	}
	t.Logf("Bedrock saw: %v", ops)
}

// TestCodexOpenAI runs the Codex CLI with a model it knows (so it sends
// everything it sends OpenAI: custom and hosted tools, verbosity, its
// client metadata) through the binary to the OpenAI stub, relayed byte for
// byte. The stub answers the first request with a call of Codex's first
// tool (exec_command, with arguments Codex cannot run: it answers with the
// error) and the request carrying the call's output with text.
func TestCodexOpenAI(t *testing.T) {
	bin := codexCLI(t)
	up := stub.New()
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	p := testbinary.Serve(t, strings.ReplaceAll(strings.ReplaceAll(codexOpenAIConfig, "UPSTREAM", srv.URL), "CLIENT_KEY", codexClientKey))
	p.NeverLogs(t, "sk-upstream-secret", codexClientKey)
	_, last := runCodex(t, bin, t.TempDir(), codexRecipe(t, "http://"+p.Addr, "gpt-5.5"), codexClientKey, "Say hello.")
	if strings.TrimSpace(last) != strings.TrimSpace(stubcore.Text(5)) {
		t.Fatalf("Codex's last message %q, want the stub's %q\nproxy log:\n%s", last, stubcore.Text(5), p.Output)
	}
	reqs := up.Requests()
	if len(reqs) != 2 {
		t.Fatalf("the stub got %d requests, want 2 (the call, then its output)", len(reqs))
	}
	for i, r := range reqs {
		if r.Path != "/v1/responses" || r.Header.Get("Authorization") != "Bearer sk-upstream-secret" || strings.Contains(string(r.Body), codexClientKey) {
			t.Errorf("request %d: %s, Authorization %q", i, r.Path, r.Header.Get("Authorization"))
		}
	}
	var second struct {
		Input []struct {
			Type   string `json:"type"`
			CallID string `json:"call_id"`
		} `json:"input"`
	}
	if err := json.Unmarshal(reqs[1].Body, &second); err != nil {
		t.Fatal(err)
	}
	sawCall, sawOutput := false, false
	for _, it := range second.Input {
		sawCall = sawCall || (it.Type == "function_call" && it.CallID == "call_stub")
		sawOutput = sawOutput || (it.Type == "function_call_output" && it.CallID == "call_stub")
	}
	if !sawCall || !sawOutput {
		t.Fatalf("the second request does not carry the call and its output: %.2000s", reqs[1].Body)
	}
}

// codexOpenAIConfig relays the Responses API at /v1/responses to the
// OpenAI stub, behind key-auth; the model comes from the body.
const codexOpenAIConfig = `
_format_version: "3.0"
routes:
  - name: responses
    paths: [/v1/responses]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/responses
          auth: {header_name: Authorization, header_value: "Bearer sk-upstream-secret"}
          logging: {log_statistics: true}
          model: {provider: openai, options: {upstream_url: "UPSTREAM/v1/responses"}}
plugins:
  - name: key-auth
consumers:
  - username: codex
    keyauth_credentials: [{key: CLIENT_KEY}]
`
