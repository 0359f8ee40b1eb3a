package lambda_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/lambdatest"
)

// TestChunksLeaveAsTheyArrive runs the real bootstrap against the test
// Runtime API with the stub streaming 10 chunks in lockstep: the stub writes
// chunk i+1 only after the Runtime API has received chunk i. So the stream
// completes only if every chunk leaves the function as it arrives; a
// function that buffers stalls the stub, which counts it. For a Function URL
// and a REST streaming event; and an upstream cut mid-stream reaches Lambda
// as error trailers.
func TestChunksLeaveAsTheyArrive(t *testing.T) {
	st, configFile := upstream(t)
	api := lambdatest.NewRuntimeAPI(t)
	cmd := exec.Command(bootstrap)
	cmd.Env = append(cmd.Environ(), functionEnv(configFile, "STREAM")...)
	api.StartProcess(t, cmd)

	const chunks = 10
	lockstep := map[string]string{"x-stub-chunks": "10", "x-stub-lockstep": "1"}
	failing := map[string]string{"x-stub-chunks": "10", "x-stub-lockstep": "1", "x-stub-fail-after": "4"}
	tests := []struct {
		name    string
		event   string
		headers map[string]string
		fail    bool
	}{
		{"function url", "function-url-stream.json", lockstep, false},
		{"rest streaming", "rest-api.json", lockstep, false},
		{"function url upstream cut", "function-url-stream.json", failing, true},
		{"rest streaming upstream cut", "rest-api.json", failing, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			st.DrainSteps()
			stalled := st.Stalled()
			// Once chunk k has reached the Runtime API the stub may write
			// chunk k+1 (the stub waits for no Step after its last chunk,
			// so none is left over for the next case).
			release := lambdatest.EachMark(`"content":"tok`, func(k int) {
				if k < chunks-1 {
					st.Step()
				}
			})
			res, err := api.InvokeStream(ctx, withHeaders(t, readEvent(t, tt.event), tt.headers), release)
			if err != nil {
				t.Fatal(err)
			}
			if n := st.Stalled() - stalled; n != 0 {
				t.Errorf("the stub waited in vain for a chunk to reach the Runtime API (%d stalls): the function buffered", n)
			}
			if res.Error != nil {
				t.Fatalf("function error %s: %s", res.Error.Type, res.Error.Body)
			}
			if res.ContentType != lambdatest.StreamingContentType {
				t.Fatalf("content type %q, want a stream", res.ContentType)
			}
			p, body, err := res.Stream()
			if err != nil {
				t.Fatal(err)
			}
			if p.StatusCode != 200 {
				t.Fatalf("prelude %+v", p)
			}
			if tt.fail {
				if res.ErrorType() == "" {
					t.Errorf("no error trailer after an upstream cut; body %q", body)
				}
				if !strings.Contains(string(body), `"content":"tok3 "`) || !strings.Contains(string(body), `data: {"error":{`) {
					t.Errorf("body %q: want tok0..tok3 then an SSE error event", body)
				}
				t.Logf("error trailer %s: %s", res.ErrorType(), res.ErrorBody())
				return
			}
			if res.ErrorType() != "" {
				t.Errorf("error trailer %s: %s", res.ErrorType(), res.ErrorBody())
			}
			if !strings.Contains(string(body), `"content":"tok9 "`) || !strings.HasSuffix(string(body), "data: [DONE]\n\n") {
				t.Errorf("body %q: want 10 chunks and [DONE]", body)
			}
		})
	}
}
