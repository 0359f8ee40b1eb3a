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
// Runtime API with the stub streaming 10 chunks 20 ms apart, and checks the
// Runtime API received them spread out as the stub wrote them, not in one
// burst at the end, for a Function URL and a REST streaming event; and that
// an upstream cut mid-stream reaches Lambda as error trailers.
func TestChunksLeaveAsTheyArrive(t *testing.T) {
	_, configFile := upstream(t)
	api := lambdatest.NewRuntimeAPI(t)
	cmd := exec.Command(bootstrap)
	cmd.Env = append(cmd.Environ(), functionEnv(configFile, "STREAM")...)
	api.StartProcess(t, cmd)

	timing := map[string]string{"x-stub-chunks": "10", "x-stub-interval": "20ms"}
	failing := map[string]string{"x-stub-chunks": "10", "x-stub-interval": "20ms", "x-stub-fail-after": "4"}
	tests := []struct {
		name    string
		event   string
		headers map[string]string
		fail    bool
	}{
		{"function url", "function-url-stream.json", timing, false},
		{"rest streaming", "rest-api.json", timing, false},
		{"function url upstream cut", "function-url-stream.json", failing, true},
		{"rest streaming upstream cut", "rest-api.json", failing, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			res, err := api.Invoke(ctx, withHeaders(t, readEvent(t, tt.event), tt.headers))
			if err != nil {
				t.Fatal(err)
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
			spread := lambdatest.Spread(res.Chunks)
			groups := lambdatest.ArrivalGroups(res.Chunks, 5*time.Millisecond)
			t.Logf("%d chunks in %d arrival groups over %v", len(res.Chunks), groups, spread)
			if spread < 150*time.Millisecond || groups < 8 {
				t.Errorf("chunks arrived over %v in %d groups; want >= 150ms and >= 8 groups", spread, groups)
			}
		})
	}
}
