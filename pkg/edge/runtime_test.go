package edge

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/lambdatest"
)

// runtimeEnv, when set, makes the test binary a Lambda runtime: it runs
// Start with tickHandler against AWS_LAMBDA_RUNTIME_API instead of the tests.
// A subprocess because lambda.Start never returns and exits the process when
// its Runtime API goes away. gateEnv is the URL of the test's gate.
const (
	runtimeEnv = "EDGE_TEST_AS_RUNTIME"
	gateEnv    = "EDGE_TEST_GATE"
)

func TestMain(m *testing.M) {
	if os.Getenv(runtimeEnv) != "" {
		Start(tickHandler(os.Getenv(gateEnv)), OptionsFromEnv(os.Getenv))
		return
	}
	os.Exit(m.Run())
}

const ticks = 10

// tickHandler streams ticks SSE events, flushing each; before each tick
// after the first it asks the gate for leave, which the test gives once the
// previous tick has reached the Runtime API. After three ticks on a path
// with "abort" in it, it fails the way the core handler does when its
// upstream breaks: an SSE error event, then an abort.
func tickHandler(gateURL string) http.Handler {
	client := &http.Client{Timeout: 2 * gateWait}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		for i := range ticks {
			if i > 0 {
				// Without leave (the gate stalled) the stream ends short;
				// the test reports the stall.
				resp, err := client.Get(gateURL)
				if err != nil {
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return
				}
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

// gateWait bounds how long the handler waits for leave to write a tick.
const gateWait = 10 * time.Second

// gate orders the runtime subprocess's ticks after the test's observations:
// each request (one per tick after the first) waits for one Step. When none
// comes within gateWait, the tick before never reached the Runtime API
// (something buffered it): the gate counts a stall and answers 504.
type gate struct {
	steps   chan struct{}
	stalled atomic.Int64
}

func newGate(t *testing.T) (*gate, string) {
	g := &gate{steps: make(chan struct{}, 64)}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return g, srv.URL
}

func (g *gate) Step() { g.steps <- struct{}{} }

// drain drops leave given but not taken (a tick that arrived only after a
// stall), so that it cannot excuse a later case's buffering.
func (g *gate) drain() {
	for {
		select {
		case <-g.steps:
		default:
			return
		}
	}
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case <-g.steps:
	case <-r.Context().Done():
	case <-time.After(gateWait):
		g.stalled.Add(1)
		w.WriteHeader(http.StatusGatewayTimeout)
	}
}

// TestStreamingThroughRuntimeAPI runs the Edge under aws-lambda-go's real
// runtime loop (in a subprocess) and shows, from the Runtime API side, that
// the chunks leave one by one as the handler flushes them: the handler
// writes tick i+1 only after tick i reached the Runtime API, so an Edge that
// held a tick back would stall the gate (not merely be slow). For Function URL
// and REST streaming events, and that an abort reaches Lambda as error
// trailers.
func TestStreamingThroughRuntimeAPI(t *testing.T) {
	srv := lambdatest.NewRuntimeAPI(t)
	g, gateURL := newGate(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), runtimeEnv+"=1", gateEnv+"="+gateURL, RESTResponseModeEnv+"=STREAM")
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
			g.drain()
			stalled := g.stalled.Load()
			// Leave for tick k+1 once tick k is in; none after the last
			// tick, which the handler does not ask for.
			release := lambdatest.EachMark(`data: {"tick"`, func(k int) {
				if k < ticks-1 {
					g.Step()
				}
			})
			res, err := srv.InvokeStream(ctx, tt.event, release)
			if err != nil {
				t.Fatal(err)
			}
			if n := g.stalled.Load() - stalled; n != 0 {
				t.Errorf("the handler waited in vain for a tick to reach the Runtime API (%d stalls): the Edge buffered", n)
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
