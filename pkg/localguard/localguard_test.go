package localguard

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// echo reads the body, then streams three parts with pauses that add up
// to longer than the body timeout used in the tests.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "body: "+err.Error(), http.StatusRequestTimeout)
		return
	}
	for i := range 3 {
		if i > 0 {
			select {
			case <-time.After(250 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
		fmt.Fprintf(w, "part%d:%d\n", i, len(b))
		_ = http.NewResponseController(w).Flush()
	}
})

func serve(t *testing.T, opts Options) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(ln.Addr().String(), echo, opts, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// closedBy reads from conn until the server closes it, failing if that
// takes longer than limit: a stalled client must not hold it forever.
func closedBy(t *testing.T, conn net.Conn, limit time.Duration) string {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(limit))
	b, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server still held the connection after %v (read %q)", limit, b)
	}
	return string(b)
}

// TestStalledClientsAreCut: a client that sends headers and part of a
// body, or part of its headers, then goes silent has its connection
// closed; a slow answer after a complete body is not cut.
func TestStalledClientsAreCut(t *testing.T) {
	addr := serve(t, Options{HeaderTimeout: 300 * time.Millisecond, BodyTimeout: 300 * time.Millisecond})
	for _, tc := range []struct{ name, send string }{
		{"partial body", "POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n0123456789"},
		{"partial headers", "POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, tc.send); err != nil {
				t.Fatal(err)
			}
			closedBy(t, conn, 5*time.Second)
		})
	}
	t.Run("slow answer survives", func(t *testing.T) {
		res, err := http.Post("http://"+addr+"/x", "application/json", strings.NewReader(`{"a":1}`))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if string(b) != "part0:7\npart1:7\npart2:7\n" {
			t.Fatalf("answer %q: a stream outlasting the body timeout was cut", b)
		}
	})
}

// TestBrowserRequestsRefused: cross-origin browser requests and Host
// names that are not the server's (DNS rebinding) get an OpenAI-shaped
// 403 unless configured; SDK-style requests pass.
func TestBrowserRequestsRefused(t *testing.T) {
	for _, tc := range []struct {
		name    string
		listen  string
		opts    Options
		host    string
		headers map[string]string
		want    int
		code    string
	}{
		{"sdk", "127.0.0.1:8080", Options{}, "127.0.0.1:8080", nil, 200, ""},
		{"localhost on another port", "127.0.0.1:8080", Options{}, "localhost:9000", nil, 200, ""},
		{"ipv6 loopback", "[::1]:8080", Options{}, "[::1]:8080", nil, 200, ""},
		{"cross-site text/plain POST", "127.0.0.1:8080", Options{}, "127.0.0.1:8080",
			map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"}, 403, "cross_origin_refused"},
		{"old browser, Origin only", "127.0.0.1:8080", Options{}, "127.0.0.1:8080",
			map[string]string{"Origin": "https://evil.example"}, 403, "cross_origin_refused"},
		{"same-site is not same-origin", "127.0.0.1:8080", Options{}, "localhost:8080",
			map[string]string{"Origin": "http://localhost:3000", "Sec-Fetch-Site": "same-site"}, 403, "cross_origin_refused"},
		{"allowed origin", "127.0.0.1:8080", Options{AllowedOrigins: []string{"http://localhost:3000"}}, "localhost:8080",
			map[string]string{"Origin": "http://localhost:3000", "Sec-Fetch-Site": "same-site"}, 200, ""},
		{"same-origin page", "127.0.0.1:8080", Options{}, "127.0.0.1:8080",
			map[string]string{"Origin": "http://127.0.0.1:8080", "Sec-Fetch-Site": "same-origin"}, 200, ""},
		{"DNS rebinding", "127.0.0.1:8080", Options{}, "evil.example:8080",
			map[string]string{"Origin": "http://evil.example:8080", "Sec-Fetch-Site": "same-origin"}, 403, "host_not_allowed"},
		{"LAN address not configured", "0.0.0.0:8080", Options{}, "10.0.0.5:8080", nil, 403, "host_not_allowed"},
		{"LAN name configured", "0.0.0.0:8080", Options{AllowedHosts: []string{"proxy.lan"}}, "PROXY.lan:8080", nil, 200, ""},
		{"host:port configured, other port", "0.0.0.0:8080", Options{AllowedHosts: []string{"proxy.lan:8080"}}, "proxy.lan:9090", nil, 403, "host_not_allowed"},
		{"listen host is ours", "192.168.1.9:8080", Options{}, "192.168.1.9:8080", nil, 200, ""},
		{"any host", "0.0.0.0:8080", Options{AllowedHosts: []string{"*"}}, "whatever.example", nil, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Guard(tc.listen, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("POST", "/gpt-4o/chat/completions", strings.NewReader(`{}`))
			r.Host = tc.host
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			g.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d (%s)", w.Code, tc.want, w.Body)
			}
			if tc.code != "" && (!strings.Contains(w.Body.String(), `"code":"`+tc.code+`"`) || w.Header().Get("Content-Type") != "application/json") {
				t.Errorf("body %s: want an OpenAI error with code %s", w.Body, tc.code)
			}
		})
	}
	if _, err := Guard("127.0.0.1:0", echo, Options{AllowedOrigins: []string{"not an origin"}}); err == nil {
		t.Error("an invalid allowed origin was accepted")
	}
}
