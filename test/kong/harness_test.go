// Package kong replays the OpenAI scenarios of Kong's own ai-proxy specs
// (Kong/kong spec/03-plugins/38-ai-proxy/: 00-config, 01-unit,
// 02-openai_integration, 08-encoding, 09-streaming) against the proxy
// handler, and asserts what each spec asserts.
//
// Each table row is one `it(...)` of a spec, named after it so that a reader
// can find it. Configurations are decK documents shaped as the spec's setup
// inserts its routes and plugins; the upstream is a mock answering as the
// spec's nginx mock does (mock_test.go), with fixtures of the same shape
// written for this package (fixtures_test.go), not copied from Kong.
//
// A row either agrees with Kong, or carries
//   - pending: a known gap someone is fixing. The row asserts Kong's
//     behaviour and must STILL FAIL: once the fix lands it turns red until
//     the pending mark is removed, so that nothing is silently skipped;
//   - deliberate: a documented difference. The row asserts our behaviour.
//
// docs/kong-conformance.md lists every row with its status;
// TestConformanceDoc keeps it in step with the tables.
package kong

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/syncbuf"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/configsource"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/proxy"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

// row is one Kong scenario.
type row struct {
	spec string // the spec file, e.g. "02-openai_integration"
	it   string // describe(...) path and it(...) name, as in the spec
	// pending names who fixes the gap and what it is; the row must fail.
	pending string
	// deliberate is the reason for a documented difference; the row
	// asserts our behaviour.
	deliberate string
	// note documents a detail that differs without changing the status
	// (e.g. a field we add).
	note string
	run  func(c *check)
}

func (r row) status() string {
	switch {
	case r.pending != "":
		return "pending"
	case r.deliberate != "":
		return "deliberate"
	}
	return "agrees"
}

// allRows collects the tables of every spec file.
func allRows() []row {
	var rows []row
	for _, t := range [][]row{configRows(), unitRows(), integrationRows(), encodingRows(), streamingRows()} {
		rows = append(rows, t...)
	}
	return rows
}

// runRows runs a table: an agreeing or deliberate row must pass; a pending
// row must fail, and its failures are only logged.
func runRows(t *testing.T, rows []row) {
	t.Helper()
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.it] {
			t.Fatalf("two rows are named %q", r.it)
		}
		seen[r.it] = true
		t.Run(r.it, func(t *testing.T) {
			if r.pending != "" && r.deliberate != "" {
				t.Fatal("a row is pending or deliberate, not both")
			}
			c := &check{t: t}
			c.do(r.run)
			switch {
			case r.pending == "" && len(c.fails) > 0:
				t.Errorf("disagrees with Kong's spec %s:\n  %s", r.spec, strings.Join(c.fails, "\n  "))
			case r.pending != "" && len(c.fails) == 0:
				t.Errorf("pending row now agrees with Kong (%s): remove its pending mark and update docs/kong-conformance.md", r.pending)
			case r.pending != "":
				t.Logf("still pending (%s):\n  %s", r.pending, strings.Join(c.fails, "\n  "))
			}
		})
	}
}

// check collects a row's failed expectations instead of failing the test,
// so that a pending row can be required to fail.
type check struct {
	t     *testing.T
	fails []string
}

type stopRow struct{}

func (c *check) errorf(format string, args ...any) {
	c.fails = append(c.fails, fmt.Sprintf(format, args...))
}

// fatalf records a failure and ends the row.
func (c *check) fatalf(format string, args ...any) {
	c.errorf(format, args...)
	panic(stopRow{})
}

func (c *check) do(f func(*check)) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(stopRow); !ok {
				c.errorf("panic: %v", r)
			}
		}
	}()
	f(c)
}

func (c *check) equal(what string, got, want any) {
	if fmt.Sprint(got) != fmt.Sprint(want) {
		c.errorf("%s = %v, want %v", what, got, want)
	}
}

// env is the proxy handler under a decK document, with the mock upstream.
type env struct {
	c       *check
	mock    *mock
	handler http.Handler
	logs    *lineBuffer
}

// newEnv parses doc, in which MOCK stands for the mock upstream's base URL,
// and builds the handler. Requests to api.openai.com (a config without
// upstream_url) reach the mock too, as Kong's specs arrange with a DNS mock.
func newEnv(c *check, doc string) *env {
	m := newMock()
	srv := httptest.NewServer(m)
	c.t.Cleanup(srv.Close)
	base, _ := url.Parse(srv.URL)
	doc = strings.ReplaceAll(doc, "MOCK", srv.URL)
	cfg, err := config.Parse(context.Background(), []byte(doc), config.Options{})
	if err != nil {
		c.fatalf("the spec's configuration does not load: %v", err)
	}
	logs := &lineBuffer{}
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	rec := stats.New(stats.Options{Logger: logger, Out: logs})
	h := proxy.New(configsource.NewStatic(cfg), proxy.Options{
		Logger:    logger,
		Observe:   rec.Observe,
		Transport: &redirect{base: proxy.NewTransport(0, 0), to: base, mock: m},
	})
	return &env{c: c, mock: m, handler: h, logs: logs}
}

// redirect sends every upstream request to the mock, and lets the mock
// record the URL the proxy meant to reach.
type redirect struct {
	base http.RoundTripper
	to   *url.URL
	mock *mock
}

func (r *redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	orig := *req.URL
	out.URL.Scheme, out.URL.Host = r.to.Scheme, r.to.Host
	r.mock.target(&orig)
	return r.base.RoundTrip(out)
}

// exchange is one request through the handler, as the client saw it.
type exchange struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the response body, or ends the row.
func (x *exchange) json(c *check) map[string]any {
	var m map[string]any
	if err := json.Unmarshal(x.body, &m); err != nil {
		c.fatalf("response body is not a JSON object (%v): %.300q", err, x.body)
	}
	return m
}

// send runs one request through the handler. hdr holds name/value pairs.
// Kong's specs send their bodies with GET, as these rows do.
func (e *env) send(method, target, body string, hdr ...string) *exchange {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	func() {
		// A stream the proxy aborts ends with http.ErrAbortHandler, which
		// net/http would swallow; so does the harness.
		defer func() {
			if r := recover(); r != nil && r != http.ErrAbortHandler {
				panic(r)
			}
		}()
		e.handler.ServeHTTP(w, req)
	}()
	res := w.Result()
	b, _ := io.ReadAll(res.Body)
	return &exchange{status: res.StatusCode, header: res.Header, body: b}
}

// get sends a JSON body with GET, as the specs' client:get does.
func (e *env) get(target, body string, hdr ...string) *exchange {
	return e.send(http.MethodGet, target, body, hdr...)
}

// statsLine returns the last statistics line ("msg":"request"). The
// handler writes it before ServeHTTP returns.
func (e *env) statsLine() map[string]any {
	lines := e.logs.lines()
	for i := len(lines) - 1; i >= 0; i-- {
		var m map[string]any
		if err := json.Unmarshal(lines[i], &m); err != nil {
			e.c.fatalf("log line is not JSON: %v", err)
		}
		if m["msg"] == "request" {
			return m
		}
	}
	e.c.fatalf("no statistics line was written")
	return nil
}

// lineBuffer keeps the statistics lines written to it.
type lineBuffer struct{ syncbuf.Buffer }

func (b *lineBuffer) lines() [][]byte {
	var out [][]byte
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, []byte(l))
		}
	}
	return out
}

// at reads a nested value such as "ai.proxy.usage.total_tokens" or
// "choices.0.message".
func at(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		switch t := v.(type) {
		case map[string]any:
			v = t[k]
		case []any:
			var i int
			if _, err := fmt.Sscan(k, &i); err != nil || i < 0 || i >= len(t) {
				return nil
			}
			v = t[i]
		default:
			return nil
		}
	}
	return v
}

func TestKongSpecs(t *testing.T) {
	for _, spec := range []struct {
		name string
		rows []row
	}{
		{"00-config", configRows()},
		{"01-unit", unitRows()},
		{"02-openai_integration", integrationRows()},
		{"08-encoding", encodingRows()},
		{"09-streaming", streamingRows()},
	} {
		t.Run(spec.name, func(t *testing.T) { runRows(t, spec.rows) })
	}
}

// overHTTP2 sends a GET with a JSON body to the handler over TLS and
// HTTP/2, as the spec's curl does, and returns the exchange and protocol.
func (e *env) overHTTP2(c *check, target, body string) (*exchange, string) {
	srv := httptest.NewUnstartedServer(e.handler)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	c.t.Cleanup(srv.Close)
	req, err := http.NewRequest(http.MethodGet, srv.URL+target, strings.NewReader(body))
	if err != nil {
		c.fatalf("request: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := srv.Client().Do(req)
	if err != nil {
		c.fatalf("HTTP/2 request: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &exchange{status: res.StatusCode, header: res.Header, body: b}, res.Proto
}
