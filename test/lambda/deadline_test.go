package lambda_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/lambdatest"
)

// TestDeadlinesAtRuntimeAPI runs the real bootstrap with a 3 s invocation
// deadline against the stub streaming slowly (100 chunks, 50 ms apart):
// the function ends the stream itself with an OpenAI-shaped
// deadline_exceeded event before Lambda would cut it, and reports the
// invocation as failed. On the HTTP API (buffered) path, with the gateway
// timeout set to 2 s, a slow upstream gets an OpenAI-shaped 504 before the
// gateway would give up.
func TestDeadlinesAtRuntimeAPI(t *testing.T) {
	_, configFile := upstream(t)
	api := lambdatest.NewRuntimeAPI(t)
	api.Timeout = 3 * time.Second
	cmd := exec.Command(bootstrap)
	cmd.Env = append(cmd.Environ(), functionEnv(configFile, "STREAM")...)
	cmd.Env = append(cmd.Env, "AIPROXY_GATEWAY_TIMEOUT=2s")
	api.StartProcess(t, cmd)

	t.Run("stream", func(t *testing.T) {
		ev := withHeaders(t, readEvent(t, "function-url-stream.json"), map[string]string{"x-stub-chunks": "100", "x-stub-interval": "50ms"})
		res := invokeRuntime(t, api, ev)
		p, body, err := res.Stream()
		if err != nil {
			t.Fatal(err)
		}
		if p.StatusCode != 200 || !strings.Contains(string(body), `"content":"tok0 "`) || strings.Contains(string(body), "tok99") {
			t.Fatalf("prelude %+v, body %.300q: want the first tokens only", p, body)
		}
		if !strings.HasSuffix(string(body), `"code":"deadline_exceeded"}}`+"\n\n") {
			t.Errorf("body ends %q, not with a deadline_exceeded error event", body[max(0, len(body)-200):])
		}
		if res.ErrorType() == "" {
			t.Error("no error trailer: Lambda would record a successful invocation")
		}
		if !res.Done.Before(res.Fetched.Add(api.Timeout)) {
			t.Errorf("the answer ended %v after the fetch, past the %v deadline", res.Done.Sub(res.Fetched), api.Timeout)
		}
	})
	t.Run("http api", func(t *testing.T) {
		ev := withHeaders(t, readEvent(t, "http-api-stage.json"), map[string]string{"x-stub-delay": "20s"})
		res := invokeRuntime(t, api, ev)
		var out struct {
			StatusCode int    `json:"statusCode"`
			Body       string `json:"body"`
		}
		if err := json.Unmarshal(res.Body(), &out); err != nil {
			t.Fatalf("answer %q: %v", res.Body(), err)
		}
		if out.StatusCode != 504 || !strings.Contains(out.Body, `"code":"deadline_exceeded"`) {
			t.Errorf("answer %d %q, want an OpenAI-shaped 504", out.StatusCode, out.Body)
		}
	})
}

func invokeRuntime(t *testing.T, api *lambdatest.RuntimeAPI, ev []byte) *lambdatest.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := api.Invoke(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != nil {
		t.Fatalf("function error %s: %s", res.Error.Type, res.Error.Body)
	}
	return res
}
