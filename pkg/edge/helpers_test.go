package edge

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/lambdatest"
)

const chatBody = `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Say hello"}]}`

// mode is one way an event reaches the handler.
type mode struct {
	name      string
	streaming bool // answered as a stream
	opts      Options
	event     func(t *testing.T) []byte
}

// modes covers each event source and REST in both response modes.
var modes = []mode{
	{name: "function-url", streaming: true, event: functionURLEvent},
	{name: "rest-stream", streaming: true, opts: Options{RESTStreaming: true}, event: restEvent},
	{name: "rest-buffered", event: restEvent},
	{name: "http-api", event: httpAPIEvent},
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func functionURLEvent(t *testing.T) []byte {
	return mustJSON(t, events.LambdaFunctionURLRequest{
		Version:        "2.0",
		RawPath:        "/gpt-4o-mini/chat/completions",
		RawQueryString: "a=1&a=2&b=x%20y",
		Cookies:        []string{"c1=v1", "c2=v2"},
		Headers: map[string]string{
			"content-type": "application/json",
			"host":         "abcdef.lambda-url.us-east-1.on.aws",
			"x-multi":      "v1,v2",
			"accept":       "text/event-stream, application/json",
		},
		RequestContext: events.LambdaFunctionURLRequestContext{
			DomainName: "abcdef.lambda-url.us-east-1.on.aws",
			HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{
				Method: "POST", Path: "/gpt-4o-mini/chat/completions", SourceIP: "203.0.113.7",
			},
		},
		Body:            b64(chatBody),
		IsBase64Encoded: true,
	})
}

func restEvent(t *testing.T) []byte {
	return mustJSON(t, events.APIGatewayProxyRequest{
		Resource:   "/{model}/chat/completions",
		Path:       "/gpt-4o-mini/chat/completions",
		HTTPMethod: "POST",
		Headers:    map[string]string{"Content-Type": "application/json", "X-Multi": "v2", "Cookie": "c1=v1; c2=v2"},
		MultiValueHeaders: map[string][]string{
			"Content-Type": {"application/json"},
			"X-Multi":      {"v1", "v2"},
			"Cookie":       {"c1=v1; c2=v2"},
			"Accept":       {"text/event-stream, application/json"},
		},
		QueryStringParameters:           map[string]string{"a": "2", "b": "x y"},
		MultiValueQueryStringParameters: map[string][]string{"a": {"1", "2"}, "b": {"x y"}},
		PathParameters:                  map[string]string{"model": "gpt-4o-mini"},
		RequestContext: events.APIGatewayProxyRequestContext{
			Stage: "v1", DomainName: "restid.execute-api.us-east-1.amazonaws.com",
			Identity:     events.APIGatewayRequestIdentity{SourceIP: "203.0.113.7"},
			ResourcePath: "/{model}/chat/completions", HTTPMethod: "POST",
		},
		Body:            b64(chatBody),
		IsBase64Encoded: true,
	})
}

func httpAPIEventStage(t *testing.T, stage, rawPath string) []byte {
	ev := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       "POST /{model}/chat/completions",
		RawPath:        rawPath,
		RawQueryString: "a=1&a=2&b=x%20y",
		Cookies:        []string{"c1=v1", "c2=v2"},
		Headers: map[string]string{
			"content-type": "application/json",
			"x-multi":      "v1,v2",
			"accept":       "text/event-stream, application/json",
		},
		PathParameters: map[string]string{"model": "gpt-4o-mini"},
		Body:           b64(chatBody), IsBase64Encoded: true,
	}
	ev.RequestContext.Stage = stage
	ev.RequestContext.DomainName = "httpid.execute-api.us-east-1.amazonaws.com"
	ev.RequestContext.HTTP.Method = "POST"
	ev.RequestContext.HTTP.Path = rawPath
	ev.RequestContext.HTTP.SourceIP = "203.0.113.7"
	return mustJSON(t, ev)
}

func httpAPIEvent(t *testing.T) []byte {
	return httpAPIEventStage(t, "prod", "/prod/gpt-4o-mini/chat/completions")
}

// seen is what a recording handler saw of a request.
type seen struct {
	method, path, rawQuery, host, remoteAddr string
	header                                   http.Header
	cookies                                  map[string]string
	body                                     string
	params                                   map[string]string
	ctx                                      context.Context
}

// recordingHandler records the request and answers 204.
func recordingHandler(got *seen) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		*got = seen{
			method: r.Method, path: r.URL.Path, rawQuery: r.URL.RawQuery, host: r.Host, remoteAddr: r.RemoteAddr,
			header: r.Header.Clone(), body: string(b), params: pathValues(r, "model"), ctx: r.Context(),
			cookies: map[string]string{},
		}
		for _, c := range r.Cookies() {
			got.cookies[c.Name] = c.Value
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// answer is any Invoke result, normalised.
type answer struct {
	status  int
	header  http.Header // Set-Cookie excluded
	cookies []string
	body    string
	readErr error // a streamed body's read error
	// typ is the aws-lambda-go type that framed the answer: for a stream,
	// the one the edge built once the handler committed its header.
	typ reflect.Type
}

// decode normalises an Invoke result. Streamed results are read through
// their Read method, so the real prelude framing is what gets checked.
func decode(t *testing.T, v any) answer {
	t.Helper()
	a := answer{header: http.Header{}, typ: reflect.TypeOf(v)}
	switch r := v.(type) {
	case *streamResponse:
		raw, err := io.ReadAll(r)
		_ = r.Close()
		a.readErr = err
		a.typ = reflect.TypeOf(r.resp)
		p, body, perr := lambdatest.SplitPrelude(raw)
		if perr != nil {
			t.Fatalf("split prelude of %q: %v", raw, perr)
		}
		a.status, a.cookies, a.body = p.StatusCode, p.Cookies, string(body)
		for k, v := range p.Headers {
			a.header.Set(k, v)
		}
		for k, vs := range p.MultiValueHeaders {
			a.header.Del(k)
			for _, v := range vs {
				a.header.Add(k, v)
			}
		}
	case events.APIGatewayProxyResponse:
		a.status, a.body = r.StatusCode, r.Body
		if r.IsBase64Encoded {
			b, _ := base64.StdEncoding.DecodeString(r.Body)
			a.body = string(b)
		}
		for k, v := range r.Headers {
			a.header.Set(k, v)
		}
		for k, vs := range r.MultiValueHeaders {
			a.header.Del(k)
			for _, v := range vs {
				a.header.Add(k, v)
			}
		}
		a.cookies = a.header.Values("Set-Cookie")
		a.header.Del("Set-Cookie")
	case events.APIGatewayV2HTTPResponse:
		a.status, a.body, a.cookies = r.StatusCode, r.Body, r.Cookies
		if r.IsBase64Encoded {
			b, _ := base64.StdEncoding.DecodeString(r.Body)
			a.body = string(b)
		}
		for k, v := range r.Headers {
			a.header.Set(k, v)
		}
	default:
		t.Fatalf("unexpected Invoke result %T", v)
	}
	return a
}

func mustParseQuery(t *testing.T, q string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(q)
	if err != nil {
		t.Fatalf("parse query %q: %v", q, err)
	}
	return v
}

// pathValues reads the named path values the edge set, nil if none.
func pathValues(r *http.Request, names ...string) map[string]string {
	var m map[string]string
	for _, n := range names {
		if v := r.PathValue(n); v != "" {
			if m == nil {
				m = map[string]string{}
			}
			m[n] = v
		}
	}
	return m
}
