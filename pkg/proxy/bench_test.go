package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/configsource"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

// Micro-benchmarks of the per-request hot path, for `make bench` (which
// reports ns/op and allocs/op in docs/BENCHMARKS.md) and for profiling:
//
//	go test -run '^$' -bench Handler -cpuprofile cpu.out ./pkg/proxy
//
// The request is the one the load benchmark sends: a ~2 KB chat body.

func benchConfig(b *testing.B, upstream string) *config.Config {
	b.Helper()
	cfg, err := config.Parse(context.Background(), []byte(stub.PluginConfig(upstream+"/v1/chat/completions", "Bearer bench-key")), config.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

var sinkBytes []byte

// BenchmarkRewriteBody is the rewrite path: validate, list the members,
// apply Kong's edits (model, top_k, stream_options for a stream).
func BenchmarkRewriteBody(b *testing.B) {
	p := benchConfig(b, "http://127.0.0.1:9").Routes[0].Plugin
	for _, stream := range []bool{false, true} {
		body := stub.ChatRequest("gpt-4o-mini", stream)
		b.Run("stream="+strconv.FormatBool(stream), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				rw, e := rewriteBody(p, input{body: body, configured: "gpt-4o-mini"})
				if e != nil {
					b.Fatal(e)
				}
				sinkBytes = rw.body
			}
		})
	}
}

// BenchmarkJSONValid is the part of the rewrite that checks the body; it
// is a floor for BenchmarkRewriteBody.
func BenchmarkJSONValid(b *testing.B) {
	body := stub.ChatRequest("gpt-4o-mini", false)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if !json.Valid(body) {
			b.Fatal("invalid")
		}
	}
}

func BenchmarkTopLevel(b *testing.B) {
	body := stub.ChatRequest("gpt-4o-mini", false)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var arr [16]field
		fields, err := topLevel(body, arr[:0])
		if err != nil || len(fields) == 0 {
			b.Fatal(err)
		}
	}
}

func BenchmarkApplyEdits(b *testing.B) {
	body := stub.ChatRequest("gpt-4o-mini", false)
	fields, err := topLevel(body, nil)
	if err != nil {
		b.Fatal(err)
	}
	edits := []edit{{key: "model", value: []byte(`"gpt-4o-mini"`)}, {key: "top_k"}}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		sinkBytes = applyEdits(body, fields, edits)
	}
}

// benchEvents hands the relay one SSE event per Read, as a network
// connection delivers a stream written event by event.
type benchEvents struct {
	ev   []byte
	left int
}

func (s *benchEvents) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	s.left--
	return copy(p, s.ev), nil
}

func (s *benchEvents) Close() error { return nil }

// BenchmarkSSERelay is SSE frame parsing: one op is one event through the
// relay. usage=hidden is the default path (the proxy asked the upstream
// for usage, so every chunk carries "usage":null, which it strips).
func BenchmarkSSERelay(b *testing.B) {
	for _, c := range []struct {
		name  string
		usage string
		hide  bool
	}{
		{"plain", "", false},
		{"usage=hidden", `,"usage":null`, true},
	} {
		ev := []byte(`data: {"id":"chatcmpl-stub","object":"chat.completion.chunk","created":1764064800,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"tok12 "},"finish_reason":null}]` + c.usage + "}\n\n")
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(ev)))
			src := &benchEvents{ev: ev, left: b.N}
			r := newSSERelay(context.Background(), src, &outcome{}, c.hide)
			buf := make([]byte, 32<<10)
			b.ResetTimer()
			for {
				_, err := r.Read(buf)
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// cannedTransport answers every upstream request with the same ~1 KB chat
// completion, without a socket, so that BenchmarkHandler measures the
// proxy (and ReverseProxy) alone.
type cannedTransport struct{ answer []byte }

func (t cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(t.answer)),
		ContentLength: int64(len(t.answer)),
		Request:       r,
	}, nil
}

func benchAnswer() []byte {
	return []byte(`{"id":"chatcmpl-stub","object":"chat.completion","created":1764064800,"model":"gpt-4o-mini","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"tok0 ` + strings.Repeat("x", 755) + `"}}],"usage":{"prompt_tokens":11,"completion_tokens":1,"total_tokens":12}}` + "\n")
}

func benchServe(b *testing.B, h http.Handler, path string, body []byte) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer client-key")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

var discardLogger = slog.New(slog.NewJSONHandler(io.Discard, nil))

// benchOptions are the binary's: a statistics line per request (the bench
// config sets log_statistics), here to a discarding JSON logger.
func benchOptions(tr http.RoundTripper) Options {
	return Options{Logger: discardLogger, Transport: tr, Observe: stats.New(stats.Options{Logger: discardLogger, Out: io.Discard}).Observe}
}

// BenchmarkHandler is one non-streamed request through the whole handler:
// route, model, body rewrite, ReverseProxy, usage tap, statistics. Compare
// with BenchmarkBareReverseProxy, the same request through ReverseProxy
// alone.
func BenchmarkHandler(b *testing.B) {
	h := New(configsource.NewStatic(benchConfig(b, "http://upstream.invalid")), benchOptions(cannedTransport{benchAnswer()}))
	benchServe(b, h, "/gpt-4o-mini/chat/completions", stub.ChatRequest("gpt-4o-mini", false))
}

func BenchmarkBareReverseProxy(b *testing.B) {
	target, _ := url.Parse("http://upstream.invalid")
	rp := &httputil.ReverseProxy{
		Rewrite:       func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		FlushInterval: -1,
		Transport:     cannedTransport{benchAnswer()},
	}
	benchServe(b, rp, "/v1/chat/completions", stub.ChatRequest("gpt-4o-mini", false))
}

// BenchmarkHandlerLoopback is the same request to the project's stub over a
// real loopback connection: the whole cost, sockets and the stub included.
func BenchmarkHandlerLoopback(b *testing.B) {
	up := httptest.NewServer(&stub.Server{Record: false})
	defer up.Close()
	h := New(configsource.NewStatic(benchConfig(b, up.URL)), benchOptions(nil))
	benchServe(b, h, "/gpt-4o-mini/chat/completions", stub.ChatRequest("gpt-4o-mini", false))
}
