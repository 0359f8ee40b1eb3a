package lambda_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/lambdatest"
)

// TestStatisticsOutBeforeNextInvocation shows that a request's statistics
// line and EMF record are on stdout by the time the runtime asks for its
// next invocation, the moment Lambda may freeze the environment: the
// bootstrap batches them off the request path, and the edge flushes the
// batch before each answer ends. stdout is a file, so what the bootstrap
// has written is there the moment the write returns; the Runtime API reads
// it as the next request arrives.
func TestStatisticsOutBeforeNextInvocation(t *testing.T) {
	_, configFile := upstream(t)
	tests := []struct {
		name, event, restMode string
	}{
		{"function url stream", "function-url-stream.json", "STREAM"},
		{"function url json", "function-url.json", "STREAM"},
		{"rest buffered", "rest-api.json", "BUFFERED"},
		{"http api buffered", "http-api-stage.json", "BUFFERED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api, atNext := startLogging(t, configFile, tt.restMode)

			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			res, err := api.Invoke(ctx, withHeaders(t, readEvent(t, tt.event), map[string]string{"x-amzn-requestid": "stats-canary-1"}))
			if err != nil {
				t.Fatal(err)
			}
			if res.Error != nil {
				t.Fatalf("function error %s: %s", res.Error.Type, res.Error.Body)
			}
			var out string
			select {
			case out = <-atNext:
			case <-ctx.Done():
				t.Fatal("the runtime never asked for its next invocation")
			}
			if !strings.Contains(out, `"msg":"request","request_id":"stats-canary-1"`) {
				t.Errorf("no statistics line on stdout when the next invocation was fetched:\n%s", out)
			}
			if !strings.Contains(out, `"RequestId":"stats-canary-1"`) {
				t.Errorf("no EMF record on stdout when the next invocation was fetched:\n%s", out)
			}
		})
	}
}

// startLogging starts the bootstrap with configFile and restMode under a
// Runtime API, logging at INFO to stdout, which is a file: what the
// function has written is there the moment the write returns. atNext gets
// that output as it stands when the function asks for its next
// invocation after the first.
func startLogging(t *testing.T, configFile, restMode string) (api *lambdatest.RuntimeAPI, atNext <-chan string) {
	t.Helper()
	stdout, err := os.Create(filepath.Join(t.TempDir(), "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdout.Close() })
	api = lambdatest.NewRuntimeAPI(t)
	next := make(chan string, 1)
	api.OnNext = func(fetched int) {
		if fetched == 1 {
			b, _ := os.ReadFile(stdout.Name())
			next <- string(b)
		}
	}
	cmd := exec.Command(bootstrap)
	cmd.Env = append(cmd.Environ(), append(functionEnv(configFile, restMode), "AIPROXY_LOG_LEVEL=INFO")...)
	cmd.Stdout = stdout
	api.StartProcess(t, cmd)
	return api, next
}
