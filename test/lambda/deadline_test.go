package lambda_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/lambdatest"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/syncbuf"
)

// TestDeadlinesAtRuntimeAPI runs the real bootstrap with a 3 s invocation
// deadline against the stub streaming slowly (100 chunks, 50 ms apart):
// the function ends the stream itself with an OpenAI-shaped
// deadline_exceeded event carrying the usage so far before Lambda would
// cut it, reports the invocation as failed, and counts a 504
// deadline_exceeded with that usage in its statistics line and EMF. On the HTTP API (buffered) path, with the gateway
// timeout set to 2 s, a slow upstream gets an OpenAI-shaped 504 before the
// gateway would give up.
func TestDeadlinesAtRuntimeAPI(t *testing.T) {
	_, configFile := upstream(t)
	api := lambdatest.NewRuntimeAPI(t)
	api.Timeout = 3 * time.Second
	cmd := exec.Command(bootstrap)
	cmd.Env = append(cmd.Environ(), functionEnv(configFile, "STREAM")...)
	cmd.Env = append(cmd.Env, "AIPROXY_GATEWAY_TIMEOUT=2s", "AIPROXY_LOG_LEVEL=INFO")
	stdout := &syncbuf.Buffer{}
	cmd.Stdout = stdout
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
		events := strings.Split(strings.TrimSpace(string(body)), "\n\n")
		var last struct {
			Error struct{ Code string }
			Usage struct {
				PromptTokens     int  `json:"prompt_tokens"`
				CompletionTokens int  `json:"completion_tokens"`
				Estimated        bool `json:"estimated"`
			}
		}
		if err := json.Unmarshal([]byte(strings.TrimPrefix(events[len(events)-1], "data: ")), &last); err != nil || last.Error.Code != "deadline_exceeded" {
			t.Errorf("body ends %q, not with a deadline_exceeded error event", body[max(0, len(body)-200):])
		}
		if u := last.Usage; !u.Estimated || u.PromptTokens == 0 || u.CompletionTokens == 0 {
			t.Errorf("deadline event usage %+v, want the usage so far, estimated", u)
		}
		if res.ErrorType() == "" {
			t.Error("no error trailer: Lambda would record a successful invocation")
		}
		if !res.Done.Before(res.Fetched.Add(api.Timeout)) {
			t.Errorf("the answer ended %v after the fetch, past the %v deadline", res.Done.Sub(res.Fetched), api.Timeout)
		}
		// The statistics may follow the aborted answer by a moment.
		waitFor(t, stdout, `"_aws"`)
		out := waitFor(t, stdout, `"msg":"request"`)
		stat := lineWith(out, `"msg":"request"`)
		for _, want := range []string{`"status":504`, `"error_code":"deadline_exceeded"`, `"estimated":true`} {
			if !strings.Contains(stat, want) {
				t.Errorf("statistics line lacks %s: %s", want, stat)
			}
		}
		if emf := lineWith(out, `"_aws"`); !strings.Contains(emf, `"StatusCode":"504"`) || !strings.Contains(emf, `"Errors5xx":1`) {
			t.Errorf("EMF record does not count a 504: %s", emf)
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

// lineWith is the first line of out that contains s.
func lineWith(out, s string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// waitFor waits (at most 10 s) until out holds s, and returns out.
func waitFor(t *testing.T, out *syncbuf.Buffer, s string) string {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if o := out.String(); strings.Contains(o, s) {
			return o
		}
	}
	return out.String()
}
