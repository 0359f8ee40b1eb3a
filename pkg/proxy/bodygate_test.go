package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/configsource"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/localguard"
)

const gateKey = "gate-key-0123456789"

// gatedProxy is the handler in front of the stub with gate, and with
// key-auth (key_in_body allowed) when keyAuth is set.
func gatedProxy(t *testing.T, gate *BodyGate, keyAuth bool, extra string) *Handler {
	t.Helper()
	up := httptest.NewServer(stub.New())
	t.Cleanup(up.Close)
	doc := stub.PluginConfig(up.URL+"/v1/chat/completions", stubKey) + extra
	if keyAuth {
		doc = fmt.Sprintf(`_format_version: "3.0"
plugins:
  - name: key-auth
    config: {key_names: [apikey], key_in_body: true}
  - name: ai-proxy
    config: {route_type: llm/v1/chat, auth: {header_name: Authorization, header_value: %q}, model: {provider: openai, name: "$(uri_captures.model)", options: {upstream_url: %q}}}
consumers:
  - username: team
    keyauth_credentials: [{key: %s}]
`, stubKey, up.URL+"/v1/chat/completions", gateKey)
	}
	cfg, err := config.Parse(context.Background(), []byte(doc), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return New(configsource.NewStatic(cfg), Options{Logger: discardLogger, BodyGate: gate})
}

// watchedBody records whether anything read it.
type watchedBody struct {
	io.Reader
	read atomic.Bool
}

func (b *watchedBody) Read(p []byte) (int, error) { b.read.Store(true); return b.Reader.Read(p) }
func (b *watchedBody) Close() error               { return nil }

// TestBodyGate: while the gate is full, an unauthenticated body (here a
// key_in_body request) is refused with 503 server_busy and not read; a
// request whose header key passed, and one refused on its declared
// length, do not need a slot.
func TestBodyGate(t *testing.T) {
	gate := NewBodyGate(1, 0)
	h := gatedProxy(t, gate, true, "")
	post := func(body io.Reader, length int64, hdr ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/gpt-4o/chat/completions", body)
		r.ContentLength = length
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	chat := `{"messages":[{"role":"user","content":"hi"}]`

	// The first key_in_body request holds the only slot while its body
	// trickles in.
	pr, pw := io.Pipe()
	first := make(chan *httptest.ResponseRecorder, 1)
	go func() { first <- post(pr, -1) }()
	deadline := time.Now().Add(10 * time.Second)
	for len(gate.slots) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the key_in_body read took no slot")
		}
		time.Sleep(time.Millisecond)
	}

	b := &watchedBody{Reader: strings.NewReader(chat + `,"apikey":"` + gateKey + `"}`)}
	w := post(b, -1)
	if w.Code != 503 || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), `"code":"server_busy"`) || !strings.Contains(w.Body.String(), `"type":"server_error"`) {
		t.Fatalf("full gate: %d %v %s", w.Code, w.Header(), w.Body)
	}
	if b.read.Load() {
		t.Error("a body was read while the gate was full")
	}
	if w := post(strings.NewReader(chat+"}"), 10<<30); w.Code != 413 {
		t.Errorf("declared too large, gate full: %d %s", w.Code, w.Body)
	}
	if w := post(strings.NewReader(chat+"}"), int64(len(chat)+1), "apikey", gateKey); w.Code != 200 {
		t.Errorf("header key, gate full: %d %s", w.Code, w.Body)
	}
	if w := post(strings.NewReader(chat+"}"), int64(len(chat)+1), "apikey", "wrong-key-0123456789"); w.Code != 401 {
		t.Errorf("wrong header key: %d %s", w.Code, w.Body)
	}

	go func() {
		_, _ = io.WriteString(pw, chat+`,"apikey":"`+gateKey+`"}`)
		_ = pw.Close()
	}()
	if w := <-first; w.Code != 200 {
		t.Fatalf("first request: %d %s", w.Code, w.Body)
	}
	if len(gate.slots) != 0 {
		t.Error("the slot was not given back")
	}
	if w := post(strings.NewReader(chat+`,"apikey":"`+gateKey+`"}`), -1); w.Code != 200 {
		t.Errorf("after the slot was freed: %d %s", w.Code, w.Body)
	}
}

// countingListener counts, per remote address, the bytes the server has
// taken off each connection.
type countingListener struct {
	net.Listener
	mu   sync.Mutex
	read map[string]*atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n := new(atomic.Int64)
	l.mu.Lock()
	l.read[c.RemoteAddr().String()] = n
	l.mu.Unlock()
	return &countingConn{Conn: c, n: n}, nil
}

func (l *countingListener) bytes(remote string) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := l.read[remote]; n != nil {
		return n.Load()
	}
	return -1
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestSlowBodyFloodMemoryFlat: a few hundred clients on an open route
// (no key-auth: every body is unauthenticated) each declare a body of the
// route's maximum and send all of it but the last byte. The heap is
// measured once every connection has settled: the server has taken every
// byte its client sent, or has answered it (or dropped it). Without a
// gate each handler holds a body buffer, clients × size in all; with one
// only the gate's few do.
func TestSlowBodyFloodMemoryFlat(t *testing.T) {
	const (
		clients = 256
		size    = 256 << 10
		slots   = 4
		bound   = 24 << 20 // the gate's bodies, and every connection's own buffers
	)
	h := gatedProxy(t, NewBodyGate(slots, 0), false, fmt.Sprintf("max_request_body_size: %d\n", size))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln, read: map[string]*atomic.Int64{}}
	srv, err := localguard.NewServer(ln.Addr().String(), h, localguard.Options{BodyTimeout: 5 * time.Minute}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(cl) }()
	defer srv.Close()

	before := heapInuse()
	head := fmt.Sprintf("POST /gpt-4o/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", size)
	payload := make([]byte, size-1)
	type client struct {
		local   string
		written atomic.Int64
		sent    atomic.Bool // the write loop ended
		ended   atomic.Bool // an answer came, or the connection ended
		status  atomic.Int32
	}
	cs := make([]*client, clients)
	for i := range cs {
		c := &client{}
		cs[i] = c
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		c.local = conn.LocalAddr().String()
		go func() {
			defer c.sent.Store(true)
			n, err := io.WriteString(conn, head)
			c.written.Add(int64(n))
			if err != nil {
				return
			}
			for off := 0; off < len(payload); off += 16 << 10 { // dribbled in 16 KiB pieces
				n, err := conn.Write(payload[off:min(off+16<<10, len(payload))])
				c.written.Add(int64(n))
				if err != nil {
					return
				}
			}
		}()
		go func() {
			defer c.ended.Store(true)
			if res, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil {
				c.status.Store(int32(res.StatusCode))
			}
		}()
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		settled, answered := 0, 0
		for _, c := range cs {
			switch {
			case c.ended.Load():
				settled++
				answered++
			case c.sent.Load() && cl.bytes(c.local) == c.written.Load():
				settled++
			}
		}
		if settled == clients {
			t.Logf("%d connections answered or dropped, %d hold a slot", answered, clients-answered)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d connections settled", settled, clients)
		}
		time.Sleep(10 * time.Millisecond)
	}
	after := heapInuse()
	t.Logf("heap in use: %d MiB before, %d MiB with %d slow bodies", before>>20, after>>20, clients)
	if after > before+bound {
		t.Errorf("heap grew by %d MiB under the flood, bound %d MiB", (after-before)>>20, bound>>20)
	}
	for _, c := range cs {
		if s := c.status.Load(); s != 0 && s != 503 {
			t.Errorf("a flood client got %d, want 503 or nothing yet", s)
			break
		}
	}
}

func heapInuse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
