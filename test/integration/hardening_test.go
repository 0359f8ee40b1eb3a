package integration

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/proxy"
)

// panicOnce panics on its first use, then serves cfg.
type panicOnce struct {
	cfg   *config.Config
	calls atomic.Int32
}

func (p *panicOnce) Current(context.Context) (*config.Config, error) {
	if p.calls.Add(1) == 1 {
		panic("bug in a config source")
	}
	return p.cfg, nil
}

// A panic while handling a request is a 500 in OpenAI's shape and a log
// line; the process keeps serving.
func TestPanicIs500(t *testing.T) {
	e := newEnv(t, seedConfig)
	cfg, _ := config.Parse(context.Background(), []byte(strings.NewReplacer("UPSTREAM", e.upstream.URL, "KEY", upstreamKey).Replace(seedConfig)), config.Options{})
	e.proxy.Config.Handler = proxy.New(&panicOnce{cfg: cfg}, proxy.Options{Logger: loggerTo(e.logs)})
	res, body := e.post(t, "/gpt-4o/chat/completions", chatBody)
	if res.StatusCode != 500 || !strings.Contains(body, `"code":"internal_error"`) {
		t.Fatalf("got %d %s", res.StatusCode, body)
	}
	if !strings.Contains(e.logs.String(), "request panicked") {
		t.Errorf("no log line for the panic:\n%s", e.logs)
	}
	if res, _ := e.post(t, "/gpt-4o/chat/completions", chatBody); res.StatusCode != 200 {
		t.Errorf("after the panic: %d", res.StatusCode)
	}
}

// Hop-by-hop headers, and headers a client lists in Connection, stay on the
// client's hop; Host is the upstream's.
func TestHeaderHygiene(t *testing.T) {
	e := newEnv(t, seedConfig)
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.proxy.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /gpt-4o/chat/completions HTTP/1.1\r\nHost: proxy.example\r\nContent-Length: %d\r\n"+
		"Connection: keep-alive, X-Private\r\nX-Private: 1\r\nTE: gzip\r\nUpgrade: websocket\r\nProxy-Authorization: Basic eA==\r\n"+
		"Keep-Alive: timeout=5\r\nX-Forwarded-For: 10.0.0.1\r\nOpenAI-Beta: assistants=v2\r\n\r\n%s", len(chatBody), chatBody)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	up := e.stub.Last()
	for _, h := range []string{"X-Private", "Te", "Upgrade", "Proxy-Authorization", "Keep-Alive", "X-Forwarded-For"} {
		if v := up.Header.Get(h); v != "" {
			t.Errorf("%s reached the upstream: %q", h, v)
		}
	}
	if up.Header.Get("Openai-Beta") != "assistants=v2" {
		t.Error("an ordinary client header was dropped")
	}
	u, _ := url.Parse(e.upstream.URL)
	// What the upstream received: net/http keeps Host out of the header
	// map, so only the request's Host field can show a leaked client Host.
	if up.Host != u.Host {
		t.Errorf("upstream received Host %q, want %q", up.Host, u.Host)
	}
}

func TestStreamHasNoContentLength(t *testing.T) {
	e := newEnv(t, seedConfig)
	res, body := e.post(t, "/gpt-4o/chat/completions", `{"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if res.ContentLength != -1 || res.Header.Get("Content-Length") != "" || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Errorf("stream headers: %v (length %d)", res.Header, res.ContentLength)
	}
	if res.Header.Get("Content-Encoding") != "" || !strings.HasSuffix(body, "data: [DONE]\n\n") {
		t.Errorf("stream body or encoding: %v %q", res.Header.Get("Content-Encoding"), body)
	}
}
