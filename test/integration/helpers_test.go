// Package integration runs the proxy handler over real HTTP against the stub
// upstream, with the official openai-go SDK as the client.
package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/syncbuf"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/configsource"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/proxy"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

// upstreamKey is the key the proxy holds; clients never send it.
const upstreamKey = "sk-upstream-canary-7f3a"

type env struct {
	stub     *stub.Server
	upstream *httptest.Server
	proxy    *httptest.Server
	logs     *syncbuf.Buffer
	emf      *syncbuf.Buffer
}

// newEnv starts the stub and the proxy. doc is a config document in which
// UPSTREAM stands for the stub's chat URL base and KEY for upstreamKey.
func newEnv(t *testing.T, doc string, opts ...func(*proxy.Options)) *env {
	t.Helper()
	e := &env{stub: stub.New(), logs: &syncbuf.Buffer{}, emf: &syncbuf.Buffer{}}
	e.upstream = httptest.NewServer(e.stub)
	t.Cleanup(e.upstream.Close)
	doc = strings.NewReplacer("UPSTREAM", e.upstream.URL, "KEY", upstreamKey).Replace(doc)
	cfg, err := config.Parse(context.Background(), []byte(doc), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	logger := loggerTo(e.logs)
	o := proxy.Options{Logger: logger, Observe: stats.New(stats.Options{Logger: logger, Out: e.logs, EMF: e.emf, Namespace: "Test"}).Observe}
	for _, f := range opts {
		f(&o)
	}
	e.proxy = httptest.NewServer(proxy.New(configsource.NewStatic(cfg), o))
	t.Cleanup(func() {
		e.proxy.Close()
		if strings.Contains(e.logs.String()+e.emf.String(), upstreamKey) {
			t.Errorf("the upstream key appears in the logs:\n%s", e.logs)
		}
	})
	return e
}

// seedConfig is the seed's plugin with the stub as upstream; newEnv fills
// in UPSTREAM and KEY.
var seedConfig = stub.PluginConfig("UPSTREAM/v1/chat/completions", "Bearer KEY")

func (e *env) client(model string, opts ...option.RequestOption) openai.Client {
	return e.clientWithKey(model, "client-key-not-for-upstream", opts...)
}

// clientWithKey is an SDK client whose api_key is key, as a user's would be.
func (e *env) clientWithKey(model, key string, opts ...option.RequestOption) openai.Client {
	return openai.NewClient(append([]option.RequestOption{
		option.WithBaseURL(e.proxy.URL + "/" + model),
		option.WithAPIKey(key),
		option.WithMaxRetries(0),
	}, opts...)...)
}

func (e *env) post(t *testing.T, path, body string, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.proxy.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func userMessage(text string) []openai.ChatCompletionMessageParamUnion {
	return []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lines returns the JSON lines of a buffer that have msg (or all, if "").
func lines(t *testing.T, b *syncbuf.Buffer, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON line: %q", l)
		}
		if msg == "" || m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// path reads a nested value such as "ai.proxy.usage.total_tokens".
func path(m map[string]any, p string) any {
	var v any = m
	for _, k := range strings.Split(p, ".") {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// waitLines waits until a buffer holds n JSON lines with msg: statistics are
// written after the response has reached the client.
func waitLines(t *testing.T, b *syncbuf.Buffer, msg string, n int) []map[string]any {
	t.Helper()
	var got []map[string]any
	eventually(t, fmt.Sprintf("%d %q lines", n, msg), func() bool {
		got = lines(t, b, msg)
		return len(got) >= n
	})
	return got
}

func loggerTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
