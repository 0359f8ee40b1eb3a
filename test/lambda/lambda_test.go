// Package lambda_test runs the real bootstrap (functions/aiproxy, built as
// for Lambda) against the stub upstream: every sample event through the
// Runtime Interface Emulator for what it answers, and streams through the
// lambdatest Runtime API for when the chunks leave.
package lambda_test

import (
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/rie"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
)

// bootstrap is the function binary, built once by TestMain.
var (
	bootstrap string
	repoRoot  string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if repoRoot, err = rie.FindRepoRoot("."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "aiproxy-bootstrap-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bootstrap = filepath.Join(dir, "bootstrap")
	// As the Makefile builds it for Lambda, for the host platform.
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", bootstrap, "./functions/aiproxy")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the bootstrap: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// upstream starts the stub upstream and writes a bare ai-proxy config that
// sends every chat completion to it with a fixed test key.
func upstream(t *testing.T) (*stub.Server, string) {
	t.Helper()
	s := stub.New()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	cfg := stub.PluginConfig(srv.URL+"/v1/chat/completions", "Bearer test-key")
	path := filepath.Join(t.TempDir(), "aiproxy.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return s, path
}

// functionEnv is the bootstrap's environment for a test.
func functionEnv(configFile, restMode string) []string {
	return []string{
		"AIPROXY_CONFIG_FILE=" + configFile,
		"AIPROXY_REST_RESPONSE_MODE=" + restMode,
		"AIPROXY_LOG_LEVEL=DEBUG",
	}
}

func readEvent(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
