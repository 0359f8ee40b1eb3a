package edge

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/lambdatest"
)

// runtimeEnv, when set, makes the test binary a Lambda runtime: it runs
// Start with tickHandler against AWS_LAMBDA_RUNTIME_API instead of the tests.
// A subprocess because lambda.Start never returns and exits the process when
// its Runtime API goes away.
const runtimeEnv = "EDGE_TEST_AS_RUNTIME"

func TestMain(m *testing.M) {
	if os.Getenv(runtimeEnv) != "" {
		Start(tickHandler(), OptionsFromEnv(os.Getenv))
		return
	}
	os.Exit(m.Run())
}

const (
	ticks        = 10
	tickInterval = 20 * time.Millisecond
)

// tickHandler streams ticks SSE events, flushing each, tickInterval apart.
// After three ticks on a path with "abort" in it, it fails the way the core
// handler does when its upstream breaks: an SSE error event, then an abort.
func tickHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		for i := range ticks {
			if i > 0 {
				time.Sleep(tickInterval)
			}
			if i == 3 && strings.Contains(r.URL.Path, "abort") {
				_, _ = io.WriteString(w, "data: {\"error\":{\"message\":\"upstream broke\",\"type\":\"server_error\"}}\n\n")
				panic(http.ErrAbortHandler)
			}
			_, _ = fmt.Fprintf(w, "data: {\"tick\":%d}\n\n", i)
			if err := rc.Flush(); err != nil {
				panic(err)
			}
		}
	})
}

// TestStreamingThroughRuntimeAPI runs the Edge under aws-lambda-go's real
// runtime loop (in a subprocess) and shows, from the Runtime API side, that
// the chunks leave one by one as the handler flushes them, for Function URL
// and REST streaming events, and that an abort reaches Lambda as error
// trailers.
func TestStreamingThroughRuntimeAPI(t *testing.T) {
	srv := lambdatest.NewRuntimeAPI(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), runtimeEnv+"=1", RESTResponseModeEnv+"=STREAM")
	srv.StartProcess(t, cmd)

	withPath := func(raw []byte, from, to string) []byte {
		return []byte(strings.ReplaceAll(string(raw), from, to))
	}
	tests := []struct {
		name  string
		event []byte
		abort bool
	}{
		{"function-url", functionURLEvent(t), false},
		{"rest-stream", restEvent(t), false},
		{"function-url abort", withPath(functionURLEvent(t), "/chat/completions", "/abort/chat/completions"), true},
		{"rest-stream abort", withPath(restEvent(t), "/chat/completions", "/abort/chat/completions"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := srv.Invoke(ctx, tt.event)
			if err != nil {
				t.Fatal(err)
			}
			if res.Error != nil {
				t.Fatalf("function error %s: %s", res.Error.Type, res.Error.Body)
			}
			if res.ContentType != lambdatest.StreamingContentType {
				t.Errorf("content type %q, want %q", res.ContentType, lambdatest.StreamingContentType)
			}
			p, body, err := res.Stream()
			if err != nil {
				t.Fatal(err)
			}
			if p.StatusCode != http.StatusOK || !strings.HasPrefix(headerOf(p, "Content-Type"), "text/event-stream") {
				t.Errorf("prelude %+v", p)
			}
			if tt.abort {
				if res.ErrorType() != "StreamAbortedError" {
					t.Errorf("error trailer %q (body %s), want StreamAbortedError", res.ErrorType(), res.ErrorBody())
				}
				if !strings.Contains(string(body), `{"tick":2}`) || !strings.HasSuffix(string(body), "\"upstream broke\",\"type\":\"server_error\"}}\n\n") {
					t.Errorf("aborted body %q, want the ticks so far and the error event", body)
				}
				return
			}
			if res.ErrorType() != "" {
				t.Errorf("unexpected error trailer %q: %s", res.ErrorType(), res.ErrorBody())
			}
			if n := strings.Count(string(body), "data: {\"tick\""); n != ticks {
				t.Errorf("%d ticks in body, want %d: %q", n, ticks, body)
			}
			spread := lambdatest.Spread(res.Chunks)
			groups := lambdatest.ArrivalGroups(res.Chunks, tickInterval/4)
			t.Logf("%d chunks in %d arrival groups over %v", len(res.Chunks), groups, spread)
			if spread < 150*time.Millisecond || groups < 8 {
				t.Errorf("chunks arrived over %v in %d groups; want >= 150ms and >= 8 groups (streamed, not buffered)", spread, groups)
			}
		})
	}
}

// headerOf reads a header from either prelude map, case-insensitively.
func headerOf(p lambdatest.Prelude, name string) string {
	for k, v := range p.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	for k, v := range p.MultiValueHeaders {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}
