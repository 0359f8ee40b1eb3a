// Package edge turns Lambda invocation events into calls of one http.Handler,
// so the proxy is written once, as plain net/http, and served from a Lambda
// Function URL, an API Gateway REST API or an API Gateway HTTP API alike.
//
// It tells the event sources apart by the shape of the raw event, because one
// function sits behind all three:
//
//   - Function URL (payload 2.0, domain *.lambda-url.*): always answered as a
//     response stream (the URL is configured with InvokeMode RESPONSE_STREAM).
//   - API Gateway REST (payload 1.0 with a resource): answered as a stream when
//     Options.RESTStreaming is set (the integration uses
//     response-streaming-invocations; the event itself cannot say so), else
//     buffered through aws-lambda-go-api-proxy.
//   - API Gateway HTTP API (payload 2.0, or 1.0 with a version field): always
//     buffered through aws-lambda-go-api-proxy; HTTP APIs cannot stream.
//
// Streams go through a pipe bridge of its own rather than lambdaurl.Wrap, so
// that request cookies survive, panics are recovered, and a stream the
// handler aborts (panic(http.ErrAbortHandler)) reaches Lambda as an error
// instead of a clean end. Gateway path parameters reach the handler as
// http.Request path values (r.PathValue).
//
// It also ends every request before a limit the platform would enforce
// less gracefully (limits.go): the request context ends with
// proxy.ErrDeadline shortly before the invocation deadline, or on buffered
// paths before API Gateway's integration timeout, and a buffered answer
// never exceeds Lambda's 6 MB.
package edge

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
)

// Options configures an Edge.
type Options struct {
	// RESTStreaming answers API Gateway REST events as a stream
	// (events.APIGatewayProxyStreamingResponse) instead of buffered. It must
	// match the integration: a streaming integration URI
	// (.../2021-11-15/functions/<arn>/response-streaming-invocations) wants a
	// stream, the classic one a buffered JSON answer.
	RESTStreaming bool
	// Logger receives panics and aborted streams; nil means slog.Default().
	Logger *slog.Logger
	// DeadlineMargin is how long before a deadline the request is ended
	// (DefaultDeadlineMargin when zero); see limits.go.
	DeadlineMargin time.Duration
	// GatewayTimeout overrides how long API Gateway waits for a buffered
	// answer (RESTGatewayTimeout, HTTPAPIGatewayTimeout when zero).
	GatewayTimeout time.Duration
	// Flush, when set, is called once the handler has returned and before
	// the invocation's answer is complete (before a streamed body ends), so
	// that what the handler logged through a buffered writer is out before
	// Lambda may freeze the environment.
	Flush func()
}

// RESTResponseModeEnv names the environment variable OptionsFromEnv reads.
const RESTResponseModeEnv = "AIPROXY_REST_RESPONSE_MODE"

// OptionsFromEnv reads AIPROXY_REST_RESPONSE_MODE: STREAM (or
// RESPONSE_STREAM) streams REST answers; BUFFERED or unset buffers them. An
// unknown value is logged and read as BUFFERED. It also reads
// AIPROXY_GATEWAY_TIMEOUT (a Go duration), API Gateway's integration
// timeout when it is not the default; an invalid value is logged and
// ignored.
func OptionsFromEnv(getenv func(string) string) Options {
	var o Options
	switch v := strings.ToUpper(strings.TrimSpace(getenv(RESTResponseModeEnv))); v {
	case "STREAM", "RESPONSE_STREAM":
		o.RESTStreaming = true
	case "", "BUFFERED":
	default:
		slog.Default().Warn("unknown REST response mode, using BUFFERED", "env", RESTResponseModeEnv, "value", v)
	}
	if v := strings.TrimSpace(getenv(GatewayTimeoutEnv)); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			o.GatewayTimeout = d
		} else {
			slog.Default().Warn("invalid gateway timeout, using API Gateway's defaults", "env", GatewayTimeoutEnv, "value", v)
		}
	}
	return o
}

// Edge adapts Lambda events to an http.Handler.
type Edge struct {
	h     http.Handler
	opts  Options
	log   *slog.Logger
	guard *bufferGuard // the handler as the buffering adapters call it
}

// New returns an Edge that serves every event with h.
func New(h http.Handler, opts Options) *Edge {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	e := &Edge{h: h, opts: opts, log: log}
	e.guard = &bufferGuard{h: h, edge: e}
	return e
}

// Start runs the Lambda runtime loop with New(h, opts). It does not return.
func Start(h http.Handler, opts Options) {
	lambda.Start(New(h, opts).runtimeHandler())
}

// runtimeHandler is the handler Start gives aws-lambda-go: it takes the
// decoded event, so that the library's decode is the only one.
func (e *Edge) runtimeHandler() any { return e.handle }

// Invoke answers one Lambda event given as its raw JSON payload (Start's
// handler takes it decoded instead, by aws-lambda-go). A streamed answer is returned before the
// handler has answered, as a reader that lambda.Start streams and that
// frames the answer with events.LambdaFunctionURLStreamingResponse or
// events.APIGatewayProxyStreamingResponse once the header is committed (see
// stream); a buffered one is an events.APIGatewayProxyResponse /
// events.APIGatewayV2HTTPResponse (which lambda.Start encodes as JSON).
func (e *Edge) Invoke(ctx context.Context, payload json.RawMessage) (any, error) {
	_, ev, err := decodeEvent(payload)
	if err != nil {
		return nil, err
	}
	return e.handle(ctx, ev)
}

// handle is Invoke on an event aws-lambda-go has already decoded: the
// handler Start registers, so that a payload is decoded once.
func (e *Edge) handle(ctx context.Context, ev *event) (any, error) {
	k, err := ev.kind()
	if err != nil {
		return nil, err
	}
	switch k {
	case kindFunctionURL:
		u, err := ev.functionURL()
		if err != nil {
			return nil, err
		}
		return e.functionURL(ctx, u)
	case kindHTTPAPI:
		v2, err := ev.httpAPI()
		if err != nil {
			return nil, err
		}
		stripStage(v2)
		ctx, cancel := e.bufferedContext(ctx, HTTPAPIGatewayTimeout)
		defer cancel()
		resp, err := httpadapter.NewV2(withPathValues(e.guard, v2.PathParameters)).ProxyWithContext(ctx, *v2)
		e.flush()
		if err != nil {
			return nil, fmt.Errorf("edge: HTTP API event: %w", err)
		}
		return resp, nil
	default: // kindREST, kindHTTPAPIv1
		v1, err := ev.proxyRequest()
		if err != nil {
			return nil, err
		}
		if k == kindREST && e.opts.RESTStreaming {
			return e.restStream(ctx, *v1)
		}
		if k == kindREST {
			dropAcceptEncoding(v1)
		}
		ctx, cancel := e.bufferedContext(ctx, RESTGatewayTimeout)
		defer cancel()
		resp, err := httpadapter.New(withPathValues(e.guard, v1.PathParameters)).ProxyWithContext(ctx, *v1)
		e.flush()
		if err != nil {
			return nil, fmt.Errorf("edge: API Gateway event: %w", err)
		}
		return resp, nil
	}
}

func (e *Edge) flush() {
	if e.opts.Flush != nil {
		e.opts.Flush()
	}
}

// functionURL serves a Function URL event as a stream.
func (e *Edge) functionURL(ctx context.Context, ev *events.LambdaFunctionURLRequest) (*streamResponse, error) {
	r, err := functionURLRequest(ctx, ev)
	if err != nil {
		return nil, err
	}
	return e.stream(ctx, r, functionURLPrelude), nil
}

// functionURLPrelude is the Function URL answer for a committed header.
func functionURLPrelude(head streamHead, body io.Reader) io.Reader {
	resp := &events.LambdaFunctionURLStreamingResponse{StatusCode: head.status, Body: body}
	for k, vs := range head.header {
		if k == "Set-Cookie" {
			resp.Cookies = vs
			continue
		}
		if resp.Headers == nil {
			resp.Headers = make(map[string]string, len(head.header))
		}
		resp.Headers[k] = strings.Join(vs, ", ")
	}
	return resp
}

// restStream serves an API Gateway REST event as a stream. The request is
// built by aws-lambda-go-api-proxy, like the buffered path, so both see the
// same http.Request.
func (e *Edge) restStream(ctx context.Context, ev events.APIGatewayProxyRequest) (*streamResponse, error) {
	var acc core.RequestAccessor
	r, err := acc.EventToRequestWithContext(ctx, ev)
	if err != nil {
		return nil, fmt.Errorf("edge: convert REST event: %w", err)
	}
	setPathValues(r, ev.PathParameters)
	return e.stream(ctx, r, restPrelude), nil
}

// restPrelude is the REST streaming answer for a committed header.
func restPrelude(head streamHead, body io.Reader) io.Reader {
	resp := &events.APIGatewayProxyStreamingResponse{StatusCode: head.status, Body: body}
	for k, vs := range head.header {
		switch {
		case k == "Set-Cookie":
			resp.Cookies = vs
		case len(vs) == 1:
			if resp.Headers == nil {
				resp.Headers = map[string]string{}
			}
			resp.Headers[k] = vs[0]
		default:
			if resp.MultiValueHeaders == nil {
				resp.MultiValueHeaders = map[string][]string{}
			}
			resp.MultiValueHeaders[k] = vs
		}
	}
	return resp
}

// withPathValues hands API Gateway's path parameters to h as the request's
// path values, where r.PathValue reads them.
func withPathValues(h http.Handler, params map[string]string) http.Handler {
	if len(params) == 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setPathValues(r, params)
		h.ServeHTTP(w, r)
	})
}

func setPathValues(r *http.Request, params map[string]string) {
	for k, v := range params {
		r.SetPathValue(k, v)
	}
}
