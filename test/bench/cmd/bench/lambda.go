package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/lambdatest"
)

// lambdaPath is the bootstrap running against the test Runtime API, which
// records when each chunk of the function's streamed response arrives: the
// moment Lambda would pass it on to the client.
type lambdaPath struct {
	api   *lambdatest.RuntimeAPI
	p     *proc
	label string
}

// lambdaEnv is the environment Lambda gives a function, pointed at api.
func lambdaEnv(api *lambdatest.RuntimeAPI, extra ...string) []string {
	return append([]string{
		"AWS_LAMBDA_RUNTIME_API=" + api.Addr(),
		"AWS_LAMBDA_FUNCTION_NAME=bench",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_REGION=us-east-1",
	}, extra...)
}

// startLambda starts the project's bootstrap as a Lambda runtime and checks
// that it streams. If it does not, the Lambda row is pending and the reason
// is returned.
func (e *benchEnv) startLambda(ctx context.Context) (*lambdaPath, string) {
	if e.bins.bootstrapErr != nil {
		return nil, "pending: the bootstrap did not build: " + oneLine(e.bins.bootstrapErr.Error(), 300)
	}
	api, err := lambdatest.Listen("127.0.0.1:0")
	if err != nil {
		return nil, err.Error()
	}
	cfg := filepath.Join(e.work, "aiproxy.yaml")
	p, err := startProc("bootstrap", e.work, pins.proxyCPU, e.bins.bootstrap, nil, lambdaEnv(api, "AIPROXY_CONFIG_FILE="+cfg))
	if err != nil {
		api.Close()
		return nil, err.Error()
	}
	lp := &lambdaPath{api: api, p: p, label: "functions/aiproxy bootstrap"}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := lp.stream(pctx, chatBody(true), 5, "1ms"); err != nil {
		lp.close()
		return nil, fmt.Sprintf("pending: the bootstrap did not stream: %v; output: %.300s", err, strings.TrimSpace(p.output()))
	}
	return lp, ""
}

func (l *lambdaPath) close() {
	l.p.stop()
	l.api.Close()
}

// functionURLEvent is a Function URL invocation of the streamed chat request.
func functionURLEvent(body []byte, headers map[string]string) []byte {
	const domain = "benchbenchbenchbenchbenchbench01.lambda-url.us-east-1.on.aws"
	path := "/" + model + "/chat/completions"
	h := map[string]string{
		"accept":        "text/event-stream",
		"content-type":  "application/json",
		"authorization": "Bearer client-key-not-for-upstream",
		"host":          domain,
	}
	for k, v := range headers {
		h[strings.ToLower(k)] = v
	}
	now := time.Now()
	ev := map[string]any{
		"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
		"headers": h,
		"requestContext": map[string]any{
			"accountId": "anonymous", "apiId": "benchbenchbenchbenchbenchbench01",
			"domainName": domain, "domainPrefix": "benchbenchbenchbenchbenchbench01",
			"http":      map[string]string{"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"},
			"requestId": "bench-" + strconv.FormatInt(now.UnixNano(), 10), "routeKey": "$default", "stage": "$default",
			"time": now.UTC().Format("02/Jan/2006:15:04:05 -0700"), "timeEpoch": now.UnixMilli(),
		},
		"isBase64Encoded": false,
		"body":            string(body),
	}
	b, _ := json.Marshal(ev)
	return b
}

// stream invokes the function with one streamed request and reads each
// chunk's delay from the arrival times the Runtime API recorded.
func (l *lambdaPath) stream(ctx context.Context, body []byte, chunks int, interval string) (streamSample, error) {
	// A runtime that exits (a binary that cannot serve Lambda) must not
	// leave Invoke waiting for the whole timeout.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-l.p.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	payload := functionURLEvent(body, map[string]string{"X-Stub-Chunks": strconv.Itoa(chunks), "X-Stub-Interval": interval})
	t0 := time.Now()
	res, err := l.api.Invoke(ctx, payload)
	if err != nil {
		if l.p.exited() {
			return streamSample{}, fmt.Errorf("the runtime exited: %w", err)
		}
		return streamSample{}, err
	}
	if res.Error != nil {
		return streamSample{}, fmt.Errorf("function error: %w", res.Error)
	}
	if t := res.ErrorType(); t != "" {
		return streamSample{}, fmt.Errorf("stream ended with %s: %s", t, res.ErrorBody())
	}
	return chunkDelays(res, t0, chunks)
}

var preludeEnd = make([]byte, 8)

// chunkDelays maps each event of a recorded response to the chunk that
// completed it.
func chunkDelays(res *lambdatest.Result, t0 time.Time, want int) (streamSample, error) {
	all := res.Body()
	prelude, _, err := lambdatest.SplitPrelude(all)
	if err != nil {
		return streamSample{}, fmt.Errorf("response is not a stream: %w: %.200q", err, all)
	}
	if prelude.StatusCode != 200 {
		return streamSample{}, fmt.Errorf("stream status %d: %.300s", prelude.StatusCode, all)
	}
	ends := make([]int, len(res.Chunks))
	n := 0
	for i, c := range res.Chunks {
		n += len(c.Data)
		ends[i] = n
	}
	s := streamSample{ttft: -1, fetched: res.Fetched.Sub(t0).Nanoseconds()}
	if len(res.Chunks) > 0 {
		s.prelude = res.Chunks[0].At.Sub(t0).Nanoseconds()
	}
	off := bytes.Index(all, preludeEnd) + len(preludeEnd)
	k := 0
	for {
		i := bytes.Index(all[off:], createdKey)
		if i < 0 {
			break
		}
		at := off + i
		ns, _ := createdNS(all[at:])
		end := bytes.Index(all[at:], []byte("\n\n"))
		if end < 0 {
			return streamSample{}, errors.New("stream ends inside an event")
		}
		end += at + 2
		for k < len(ends) && ends[k] < end {
			k++
		}
		if k == len(ends) {
			return streamSample{}, errors.New("event past the last chunk")
		}
		arrived := res.Chunks[k].At
		s.delays = append(s.delays, arrived.UnixNano()-ns)
		if s.ttft < 0 {
			s.ttft = arrived.Sub(t0).Nanoseconds()
		}
		off = at + len(createdKey)
	}
	if len(s.delays) != want {
		return streamSample{}, fmt.Errorf("stream had %d chunks, want %d", len(s.delays), want)
	}
	return s, nil
}
