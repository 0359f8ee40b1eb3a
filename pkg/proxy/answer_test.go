package proxy

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/configsource"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/limits"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/answers/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func gzipped(s string) string {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write([]byte(s))
	_ = zw.Close()
	return b.String()
}

const (
	notChoices = "transformation failed from type openai://llm/v1/chat: 'choices' not in llm/v1/chat response"
	notDecoded = "transformation failed from type openai://llm/v1/chat: failed to decode llm/v1/chat response"
)

// Kong's from_format verdicts (openai.lua) on answers of its fixtures' shapes, for a
// plain and a gzip answer: the held start of the answer decides, and
// whatever is relayed is the upstream's bytes unchanged.
func TestAnswerTapVerdict(t *testing.T) {
	big := `{"data":"` + strings.Repeat("x", holdLimit+10) + `"}`
	tests := []struct {
		name, body, route string
		want              string // the refusal's message, "" to relay
		model             string
		total             int
	}{
		{name: "good", body: fixture(t, "chat-good.json"), model: "gpt-4o-mini-2024-07-18", total: 30},
		{name: "good completions", body: fixture(t, "completions-good.json"), route: config.RouteCompletions, model: "gpt-3.5-turbo-instruct-0914", total: 17},
		{name: "no choices (Kong: bad_upstream_response)", body: fixture(t, "no-choices.json"), want: notChoices},
		{name: "HTML (Kong: internal_server_error)", body: fixture(t, "server-error.html"), want: notDecoded},
		{name: "HTML on completions", body: "<html>", route: config.RouteCompletions,
			want: "transformation failed from type openai://llm/v1/completions: failed to decode llm/v1/completions response"},
		{name: "empty", body: "", want: notDecoded},
		{name: "array", body: `[{"choices":[]}]`, want: notChoices},
		{name: "truncated", body: `{"id":"x"`, want: notDecoded},
		{name: "choices false", body: `{"choices":false}`, want: notChoices},
		{name: "choices null counts, as in Lua", body: `{"choices":null}`},
		{name: "escaped key", body: `{"ch\u006fices":[]}`},
		{name: "nested choices do not count", body: `{"x":{"choices":[]}}`, want: notChoices},
		{name: "open after the hold is relayed", body: big},
		{name: "array beyond the hold is refused", body: "[" + strings.Repeat(`"x",`, holdLimit) + `"x"]`, want: notChoices},
	}
	for _, tc := range tests {
		for _, gz := range []bool{false, true} {
			name := tc.name
			if gz {
				name += "/gzip"
			}
			t.Run(name, func(t *testing.T) {
				route := tc.route
				if route == "" {
					route = config.RouteChat
				}
				body, want := tc.body, tc.want
				if gz {
					body = gzipped(body)
					if tc.body == big {
						// Compressed, the whole answer fits in the hold.
						want = notChoices
					}
				}
				tap := newAnswerTap(tapSetup{upstream: io.NopCloser(iotest.HalfReader(strings.NewReader(body))), gzip: gz, wantUsage: true})
				err := tap.hold(route)
				var refused *answerError
				switch {
				case want == "" && err != nil:
					t.Fatalf("refused: %v", err)
				case want != "" && (!errors.As(err, &refused) || refused.e.message != want || refused.e.status != 500):
					t.Fatalf("err = %v, want a 500 %q", err, want)
				case want != "":
					return
				}
				got, err := io.ReadAll(tap)
				if err != nil || string(got) != body {
					t.Fatalf("relayed %d bytes (%v), want the %d upstream bytes unchanged", len(got), err, len(body))
				}
				var o outcome
				tap.parse(&o)
				if o.responseModel != tc.model || (tc.total != 0 && (o.usage == nil || o.usage.TotalTokens != tc.total)) {
					t.Errorf("model %q usage %+v, want %q total %d", o.responseModel, o.usage, tc.model, tc.total)
				}
			})
		}
	}
}

// An upstream that fails before the verdict is known gets a 502 before any
// header, not a truncated 200.
func TestAnswerTapCutBeforeVerdict(t *testing.T) {
	tap := newAnswerTap(tapSetup{upstream: io.NopCloser(io.MultiReader(strings.NewReader(`{"id":"x",`), iotest.ErrReader(errors.New("connection reset")))), wantUsage: true})
	var refused *answerError
	if err := tap.hold(config.RouteChat); !errors.As(err, &refused) || refused.e.status != http.StatusBadGateway {
		t.Fatalf("err = %v, want a 502", err)
	}
}

// largeTransport answers with a chat completion of size bytes, generated
// as it is read, so that only what the proxy keeps is allocated.
type largeTransport struct{ size int }

func (t largeTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	head := `{"id":"x","object":"chat.completion","model":"gpt-4o-2024","choices":[{"index":0,"message":{"role":"assistant","content":"`
	tail := `"}}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}`
	fill := io.LimitReader(repeatReader('x'), int64(t.size-len(head)-len(tail)))
	return &http.Response{
		StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": {"application/json"}},
		Body:    io.NopCloser(io.MultiReader(strings.NewReader(head), fill, strings.NewReader(tail))),
		Request: r, ContentLength: int64(t.size),
	}, nil
}

type repeatReader byte

func (c repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

// discardWriter is a client that reads the answer and keeps nothing.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// Concurrent large answers cost the proxy no copy of the answer (issue
// 11: a usage copy made 100 concurrent 3.9 MiB answers cost 600-800 MB):
// what a request allocates stays far below the answer's size, with
// statistics and payload logging on.
func TestLargeAnswersAreNotHeld(t *testing.T) {
	const size, n = 4 << 20, 16
	doc := stub.PluginConfig("http://upstream.invalid/v1/chat/completions", "Bearer k") + "\n" + "logging:\n  log_statistics: true\n  log_payloads: true\n"
	doc = strings.Replace(doc, "logging:\n  log_statistics: true\nmodel:", "model:", 1)
	cfg, err := config.Parse(context.Background(), []byte(doc), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var usages sync.Map
	h := New(configsource.NewStatic(cfg), Options{Logger: discardLogger, Transport: largeTransport{size}, Observe: func(r *stats.Record) {
		usages.Store(r, r.Usage != nil && r.Usage.TotalTokens == 3)
	}})
	body := stub.ChatRequest("gpt-4o-mini", false)
	serve := func() {
		req := httptest.NewRequest(http.MethodPost, "/gpt-4o-mini/chat/completions", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(&discardWriter{h: http.Header{}}, req)
	}
	serve() // warm up pools
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() { defer wg.Done(); serve() }()
	}
	wg.Wait()
	runtime.ReadMemStats(&after)
	perRequest := (after.TotalAlloc - before.TotalAlloc) / n
	if perRequest > 256<<10 {
		t.Errorf("each %d MiB answer allocated %d KiB in the proxy, want < 256 KiB", size>>20, perRequest>>10)
	}
	usages.Range(func(_, ok any) bool {
		if !ok.(bool) {
			t.Error("usage not read from a large answer")
		}
		return true
	})
}

// With statistics off, a non-streamed answer is not read for usage: on a
// preserve route it is relayed untouched, on a chat route the scan stops
// at the verdict.
func TestNoScanWithoutStatistics(t *testing.T) {
	h := New(nil, Options{Logger: discardLogger})
	for _, rt := range []string{config.RoutePreserve, config.RouteChat} {
		ex := &exchange{plan: &plan{plugin: &config.Plugin{RouteType: rt}}}
		req := httptest.NewRequest(http.MethodPost, "/", nil)
		req = req.WithContext(context.WithValue(req.Context(), exchangeKey{}, ex))
		upstream := io.NopCloser(strings.NewReader(fixture(t, "chat-good.json")))
		res := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: upstream, Request: req}
		if err := h.modifyResponse(res); err != nil {
			t.Fatal(err)
		}
		if ex.out.tap != nil {
			t.Errorf("%s: the answer is tapped for statistics that are off", rt)
		}
		inner := res.Body.(*bodyWatch).ReadCloser
		if tap, ok := inner.(*answerTap); ok && tap.scan.on {
			t.Errorf("%s: still scanning after the verdict", rt)
		} else if !ok && inner != upstream {
			t.Errorf("%s: body wrapped in %T", rt, inner)
		}
	}
}

// A rate limit settles to the answer's real usage even with statistics off.
func TestUsageReadForRateLimit(t *testing.T) {
	h := New(nil, Options{Logger: discardLogger})
	ex := &exchange{plan: &plan{plugin: &config.Plugin{RouteType: config.RouteChat}, limit: &limits.Decision{}}}
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	req = req.WithContext(context.WithValue(req.Context(), exchangeKey{}, ex))
	res := &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(fixture(t, "chat-good.json"))), Request: req}
	if err := h.modifyResponse(res); err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	if ex.out.tap == nil {
		t.Fatal("answer not read for the rate limit's settlement")
	}
	ex.out.tap.parse(&ex.out)
	if u := ex.out.usage; u == nil || u.TotalTokens != 30 {
		t.Errorf("usage %+v", u)
	}
}

// Whatever the upstream sends, the tap relays it byte for byte or refuses
// it, and it never refuses an answer Kong accepts: valid JSON whose
// top-level object has "choices".
func FuzzAnswerTap(f *testing.F) {
	for _, s := range []string{`{"choices":[]}`, `{"id":1,"choices":null}`, `<html>`, `[]`, `{"a":{"choices":1}}`, `{"choices":[],}`, ``} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, doc string, gz bool) {
		body := doc
		if gz {
			body = gzipped(doc)
		}
		tap := newAnswerTap(tapSetup{upstream: io.NopCloser(iotest.HalfReader(strings.NewReader(body))), gzip: gz, wantUsage: true})
		err := tap.hold(config.RouteChat)
		if err != nil {
			var refused *answerError
			if !errors.As(err, &refused) || refused.e.status != http.StatusInternalServerError {
				t.Fatalf("%q: %v", doc, err)
			}
			if fields, e := topLevel([]byte(doc), nil); e == nil {
				for _, f := range fields {
					if f.key == "choices" && doc[f.start] != 'f' {
						t.Fatalf("%q refused: %v", doc, err)
					}
				}
			}
			return
		}
		got, err := io.ReadAll(tap)
		if err != nil || string(got) != body {
			t.Fatalf("%q relayed as %q (%v)", body, got, err)
		}
	})
}

// An answer relayed with its verdict open is logged once it proves not to
// be a completion.
func TestLateVerdictIsLogged(t *testing.T) {
	var logs bytes.Buffer
	h := New(nil, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ex := &exchange{plan: &plan{plugin: &config.Plugin{RouteType: config.RouteChat}, route: "r1"}}
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	req = req.WithContext(context.WithValue(req.Context(), exchangeKey{}, ex))
	body := `{"data":"` + strings.Repeat("x", holdLimit) + `"}`
	res := &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), Request: req}
	if err := h.modifyResponse(res); err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(res.Body); string(got) != body {
		t.Fatal("not relayed as sent")
	}
	if !strings.Contains(logs.String(), "reason=\"'choices' not in llm/v1/chat response\"") || !strings.Contains(logs.String(), "route=r1") {
		t.Errorf("log: %s", logs.String())
	}
}

// An answer that arrives whole in its first read is scanned in one pass
// (answerTap.whole); the verdict, the relayed bytes, model, usage and the
// payload kept for the log must be exactly those of the stream scan fed the
// same read, whatever the answer.
func TestAnswerTapWholeMatchesStream(t *testing.T) {
	long := `"` + strings.Repeat("m", maxModelLen) + `"`
	docs := append([]string{
		fixture(t, "chat-good.json"), fixture(t, "no-choices.json"), fixture(t, "server-error.html"),
		`{"model":"a","model":"b","choices":[]}`, `{"model":"a","model":` + long + `,"choices":[]}`,
		`{"choices":false,"choices":[1]}`, `{"id":1,"choices":false}`, `{"choices":[],"usage":{"total_tokens":3},"usage":"x"}`,
		`{"usage":{"total_tokens":3,"pad":"` + strings.Repeat("p", maxUsageLen) + `"},"choices":[]}`,
		`{"m\u006fdel":"esc","choices":[]}` + "\n", `{"choices":[]}x`, `{"choices":[`, `[{"choices":[]}]`,
	}, streamDocs...)
	type result struct {
		err, relayed, model, payload string
		usage                        stats.Usage
		hasUsage, complete           bool
	}
	run := func(doc string, whole bool) (result, *answerTap) {
		setup := tapSetup{upstream: io.NopCloser(strings.NewReader(doc)), wantUsage: true, keepLog: 40}
		if whole {
			setup.size = int64(len(doc))
		}
		tap := newAnswerTap(setup)
		var res result
		if err := tap.hold(config.RouteChat); err != nil {
			res.err = err.Error()
			return res, tap
		}
		got, _ := io.ReadAll(tap)
		var o outcome
		tap.parse(&o)
		res.relayed, res.model, res.payload, res.complete = string(got), o.responseModel, string(o.responseBody), tap.queue.complete
		if o.usage != nil {
			res.usage, res.hasUsage = *o.usage, true
		}
		return res, tap
	}
	for _, doc := range docs {
		want, _ := run(doc, false)
		got, tap := run(doc, true)
		if got != want {
			t.Errorf("%.60q: whole %+v, stream %+v", doc, got, want)
		}
		if _, err := topLevel([]byte(doc), nil); err == nil && tap.scan.began {
			t.Errorf("%.60q: a whole object went through the stream scan", doc)
		}
	}
}

// pieceReader hands out its bytes at most n per Read, as a slow upstream
// delivers them.
type pieceReader struct {
	b []byte
	n int
}

func (r *pieceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), r.n)], r.b)
	r.b = r.b[k:]
	return k, nil
}

func (r *pieceReader) Close() error { return nil }

// BenchmarkAnswerTap is one non-streamed answer through the tap as a chat
// route runs it with statistics on: the hold for the verdict, the relay to
// the client, the model and usage handed to the outcome. whole is an
// answer of known length in one read (the one-pass scan), pieces the same
// answer of unknown length in 512-byte reads (the stream scan), gzip the
// answer compressed.
func BenchmarkAnswerTap(b *testing.B) {
	doc := benchAnswer()
	zipped := []byte(gzipped(string(doc)))
	for _, c := range []struct {
		name  string
		body  []byte
		size  int64
		piece int
		gz    bool
	}{
		{"whole", doc, int64(len(doc)), len(doc), false},
		{"pieces", doc, -1, 512, false},
		{"gzip", zipped, int64(len(zipped)), 512, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(doc)))
			buf := make([]byte, 32<<10)
			src := &pieceReader{}
			for b.Loop() {
				src.b, src.n = c.body, c.piece
				tap := newAnswerTap(tapSetup{upstream: src, gzip: c.gz, size: c.size, wantUsage: true})
				if err := tap.hold(config.RouteChat); err != nil {
					b.Fatal(err)
				}
				for {
					_, err := tap.Read(buf)
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				var o outcome
				tap.parse(&o)
				if o.usage == nil || o.responseModel != "gpt-4o-mini" {
					b.Fatalf("model %q usage %v", o.responseModel, o.usage)
				}
			}
		})
	}
}
