// Package lambda_test runs the real bootstrap (functions/aiproxy, built as
// for Lambda) against the stub upstream: every sample event through the
// Runtime Interface Emulator for what it answers, and streams through the
// lambdatest Runtime API for when the chunks leave.
package lambda_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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

// apiEvent turns a sample event into a request of method for path (with
// prefix before it in the raw path: an HTTP API stage's) on the gateway's
// catch-all resource /{proxy+}, with body (none when empty) and headers
// added. The event keeps its kind: Function URL, REST or HTTP API.
func apiEvent(t *testing.T, name, method, prefix, path, body string, headers map[string]string) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(readEvent(t, name), &ev); err != nil {
		t.Fatal(err)
	}
	set := func(m map[string]any, k string, v any) {
		if _, ok := m[k]; ok {
			m[k] = v
		}
	}
	set(ev, "rawPath", prefix+path)
	set(ev, "path", path)
	set(ev, "httpMethod", method)
	set(ev, "resource", "/{proxy+}")
	set(ev, "routeKey", method+" /{proxy+}")
	ev["pathParameters"] = map[string]any{"proxy": strings.TrimPrefix(path, "/")}
	if rc, ok := ev["requestContext"].(map[string]any); ok {
		set(rc, "resourcePath", "/{proxy+}")
		set(rc, "path", prefix+path)
		set(rc, "httpMethod", method)
		set(rc, "routeKey", method+" /{proxy+}")
		if h, ok := rc["http"].(map[string]any); ok {
			set(h, "path", prefix+path)
			set(h, "method", method)
		}
	}
	// A gateway sends no body (null) with a GET, and the body's real
	// length when it names one.
	ev["body"] = body
	if body == "" {
		ev["body"] = nil
	}
	if h, ok := ev["headers"].(map[string]any); ok {
		if body == "" {
			delete(h, "content-length")
		} else {
			set(h, "content-length", strconv.Itoa(len(body)))
		}
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(headers) > 0 {
		b = withHeaders(t, b, headers)
	}
	return b
}
