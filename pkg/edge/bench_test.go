package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
)

// benchEvent is a Function URL event as Lambda delivers it (the repository's
// events/function-url-stream.json shape) carrying the 2 KB chat request the
// other benchmarks send.
func benchEvent(b *testing.B) []byte {
	const domain = "abcdefghijklmnopqrstuvwxyz0123456.lambda-url.us-east-1.on.aws"
	ev := map[string]any{
		"version": "2.0", "routeKey": "$default", "rawPath": "/gpt-4o-mini/chat/completions", "rawQueryString": "",
		"headers": map[string]string{
			"accept": "text/event-stream", "content-type": "application/json", "host": domain,
			"authorization": "Bearer client-key", "user-agent": "OpenAI/Python 1.109.1",
			"x-amzn-trace-id": "Root=1-6744a3b1-5b2f1e7c3d9a4b8e1f0c2d3e", "x-forwarded-for": "203.0.113.10",
			"x-forwarded-port": "443", "x-forwarded-proto": "https", "x-stainless-lang": "python",
		},
		"requestContext": map[string]any{
			"accountId": "anonymous", "apiId": "abcdefghijklmnopqrstuvwxyz0123456", "domainName": domain,
			"domainPrefix": "abcdefghijklmnopqrstuvwxyz0123456",
			"http": map[string]string{"method": "POST", "path": "/gpt-4o-mini/chat/completions", "protocol": "HTTP/1.1",
				"sourceIp": "203.0.113.10", "userAgent": "OpenAI/Python 1.109.1"},
			"requestId": "c5f1e2d3-4b6a-4c8d-9e0f-1a2b3c4d5e6f", "routeKey": "$default", "stage": "$default",
			"time": "25/Nov/2026:10:00:00 +0000", "timeEpoch": 1795600800000,
		},
		"isBase64Encoded": false,
		"body":            string(stub.ChatRequest("gpt-4o-mini", true)),
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// BenchmarkFunctionURLFirstChunk is the edge's own work before the first
// chunk of a streamed answer leaves: classify and decode the event, build
// the request, run a handler that writes one SSE chunk, and read the
// prelude and that chunk the way aws-lambda-go does.
func BenchmarkFunctionURLFirstChunk(b *testing.B) {
	chunk := []byte("data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(chunk)
	})
	e := New(h, Options{})
	payload := benchEvent(b)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	buf := make([]byte, 32<<10)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		res, err := e.Invoke(ctx, payload)
		if err != nil {
			b.Fatal(err)
		}
		r := res.(io.ReadCloser)
		for {
			if _, err := r.Read(buf); err != nil {
				break
			}
		}
		_ = r.Close()
	}
}

// BenchmarkRuntimeFirstChunk is BenchmarkFunctionURLFirstChunk with the
// payload handed to the handler Start registers, as aws-lambda-go's runtime
// loop does (lambda.NewHandler: its own decode of the payload into the
// handler's event type, then the call), and the answer read to its end.
func BenchmarkRuntimeFirstChunk(b *testing.B) {
	chunk := []byte("data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(chunk)
	})
	rh := lambda.NewHandler(New(h, Options{}).runtimeHandler())
	payload := benchEvent(b)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		out, err := rh.Invoke(ctx, payload)
		if err != nil || !bytes.HasSuffix(out, chunk) {
			b.Fatalf("answer %q, %v", out, err)
		}
	}
}

// BenchmarkDecodeFunctionURL is classification and decoding alone (into
// the one event type, then the Function URL type filled from it).
func BenchmarkDecodeFunctionURL(b *testing.B) {
	payload := benchEvent(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		k, ev, err := decodeEvent(payload)
		if err != nil || k != kindFunctionURL {
			b.Fatalf("kind %v, %v", k, err)
		}
		if _, err := ev.functionURL(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeREST is classification and decoding of an API Gateway REST
// event of the same size, the other streamed source.
func BenchmarkDecodeREST(b *testing.B) {
	payload, err := json.Marshal(events.APIGatewayProxyRequest{
		Resource: "/{model}/chat/completions", Path: "/gpt-4o-mini/chat/completions", HTTPMethod: "POST",
		Headers:           map[string]string{"Content-Type": "application/json", "Accept": "text/event-stream", "Authorization": "Bearer client-key"},
		MultiValueHeaders: map[string][]string{"Content-Type": {"application/json"}, "Accept": {"text/event-stream"}, "Authorization": {"Bearer client-key"}},
		PathParameters:    map[string]string{"model": "gpt-4o-mini"},
		RequestContext: events.APIGatewayProxyRequestContext{AccountID: "123456789012", Stage: "v1", RequestID: "c5f1e2d3",
			DomainName: "abc123.execute-api.us-east-1.amazonaws.com", HTTPMethod: "POST", APIID: "abc123"},
		Body: string(stub.ChatRequest("gpt-4o-mini", true)),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		k, ev, err := decodeEvent(payload)
		if err != nil || k != kindREST {
			b.Fatalf("kind %v, %v", k, err)
		}
		if _, err := ev.proxyRequest(); err != nil {
			b.Fatal(err)
		}
	}
}
