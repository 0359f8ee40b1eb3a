package messages

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/bedrockstub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/binary"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/npmci"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
)

// claudeVersion is the Claude Code the test drives, pinned in
// claudecode/package.json (and its lock).
const claudeVersion = "2.1.328"

// claudeFolder is claudecode/, where Claude Code is pinned.
var claudeFolder = npmci.Folder{Dir: "claudecode", Installed: func(dir string) error {
	return npmci.Version(npmci.Bin(dir, "claude"), claudeVersion)
}}

// claudeCode installs the pinned Claude Code with npm ci into
// claudecode/node_modules (once; git ignores it) and returns its binary.
func claudeCode(t *testing.T) string {
	t.Helper()
	dir, err := claudeFolder.Install(t)
	if err != nil {
		t.Fatalf("install Claude Code %s (npm ci in test/messages/claudecode): %v", claudeVersion, err)
	}
	return npmci.Bin(dir, "claude")
}

// runClaude runs `claude -p prompt` in dir with the gateway's environment:
// ANTHROPIC_BASE_URL at the proxy, the client key as ANTHROPIC_API_KEY,
// non-essential traffic and telemetry off, a HOME of its own.
func runClaude(t *testing.T, bin, dir, base, prompt string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-p", prompt, "--output-format", "json"}, args...)...)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"ANTHROPIC_BASE_URL=" + base, "ANTHROPIC_API_KEY=" + clientKey,
		"ANTHROPIC_MODEL=" + sonnet, "ANTHROPIC_SMALL_FAST_MODEL=" + haiku, "ANTHROPIC_DEFAULT_HAIKU_MODEL=" + haiku,
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "DISABLE_TELEMETRY=1", "DISABLE_ERROR_REPORTING=1", "DISABLE_AUTOUPDATER=1",
		"CLAUDE_CODE_DISABLE_TERMINAL_TITLE=1", "CI=1", "TERM=dumb",
		// Offline: anything but the proxy goes to a closed port.
		"HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9", "NO_PROXY=127.0.0.1,localhost",
	}
	if runtime.GOOS != "linux" {
		cmd.Env = append(cmd.Env, "TMPDIR="+os.TempDir())
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("claude: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	return stdout.Bytes()
}

// TestClaudeCodeBedrock runs Claude Code itself through the local server
// to the Bedrock test server: its model names aliased, its betas filtered,
// and a tool-using turn: the model asks for Bash, Claude Code runs it and
// sends the tool_result back, the model answers with what it read.
func TestClaudeCodeBedrock(t *testing.T) {
	bin := claudeCode(t)
	e := startBedrock(t, deck(`      model_aliases: {`+sonnet+`: anthropic.claude-sonnet-4-5, `+haiku+`: anthropic.claude-haiku-4-5}
      model:
        provider: bedrock
        options:
          bedrock: {aws_region: us-east-1}`))
	const marker = "marker-7f3a9c"
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "note.txt"), []byte(marker+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.stub.Script(func(req bedrockstub.Request) *bedrockstub.Scenario {
		body := string(req.Body)
		usage := bedrockstub.Usage{InputTokens: 20, OutputTokens: 5}
		switch {
		case strings.Contains(body, `"tool_result"`) && strings.Contains(body, marker):
			return &bedrockstub.Scenario{Blocks: []bedrockstub.Block{bedrockstub.Text("The note ", "says "+marker+".")}, Usage: usage}
		case strings.Contains(body, `"name":"Bash"`) && strings.Contains(body, "note.txt"):
			return &bedrockstub.Scenario{Blocks: []bedrockstub.Block{
				bedrockstub.Text("Reading it."),
				bedrockstub.ToolUse("toolu_cc_1", "Bash", `{"command":"cat note.txt",`, `"description":"Print note.txt"}`),
			}, StopReason: "tool_use", Usage: usage}
		}
		return &bedrockstub.Scenario{Blocks: []bedrockstub.Block{bedrockstub.Text("ok")}, Usage: usage}
	})
	out := runClaude(t, bin, work, e.base, "Print the contents of note.txt using the Bash tool.",
		"--allowedTools", "Bash", "--max-turns", "4")
	var res struct {
		Result  string `json:"result"`
		IsError bool   `json:"is_error"`
		Turns   int    `json:"num_turns"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("claude output %s: %v", out, err)
	}
	if res.IsError || !strings.Contains(res.Result, marker) {
		t.Fatalf("claude result %s", out)
	}
	var ops []string
	sawToolResult := false
	for _, r := range e.stub.Requests() {
		ops = append(ops, r.Operation+" "+r.ModelID)
		if strings.Contains(string(r.Body), `"tool_use_id":"toolu_cc_1"`) && strings.Contains(string(r.Body), marker) {
			sawToolResult = true
		}
		for _, bad := range []string{`"model"`, `"stream"`, `"context_management"`} {
			if strings.Contains(string(r.Body), bad) && r.Operation != "" {
				var top map[string]json.RawMessage
				if json.Unmarshal(r.Body, &top) == nil {
					if _, ok := top[strings.Trim(bad, `"`)]; ok {
						t.Errorf("%s reached Bedrock in %s", bad, r.Operation)
					}
				}
			}
		}
	}
	if !sawToolResult {
		t.Fatalf("the tool result never reached Bedrock; requests: %v", ops)
	}
	t.Logf("Bedrock saw: %v", ops)
	t.Logf("proxy log:\n%s", e.proc.Output.String())
}

// TestClaudeCodeHub runs Claude Code through the chat hub to an
// OpenAI-compatible upstream: what Claude Code sends an Anthropic endpoint
// (its tools, cache_control, thinking, metadata) translates.
func TestClaudeCodeHub(t *testing.T) {
	bin := claudeCode(t)
	up := stub.New()
	srv := httptestServer(t, up)
	p := binary.Serve(t, deck(`      auth: {header_name: Authorization, header_value: Bearer `+upstreamKey+`}
      model_aliases: {"*": gpt-4o-mini}
      model:
        provider: openai
        options: {upstream_url: `+srv+`/v1/chat/completions}`))
	out := runClaude(t, bin, t.TempDir(), "http://"+p.Addr+"/anthropic", "Say hello.", "--max-turns", "1")
	var res struct {
		Result  string `json:"result"`
		IsError bool   `json:"is_error"`
	}
	if err := json.Unmarshal(out, &res); err != nil || res.IsError || !strings.Contains(res.Result, stub.Word(0)) {
		t.Fatalf("claude output %s (%v)\nproxy log:\n%s", out, err, p.Output)
	}
	if strings.Contains(p.Output.String(), clientKey) || strings.Contains(p.Output.String(), upstreamKey) {
		t.Fatal("a key in the logs")
	}
}
