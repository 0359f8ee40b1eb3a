package localguard

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"
)

// judge decides from the head alone, as the proxy does: route, key, the
// declared length; only then does it read the body.
var judge = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path != "/ok":
		http.Error(w, "no route", http.StatusNotFound)
	case r.Header.Get("Authorization") != "Bearer good":
		http.Error(w, "no key", http.StatusUnauthorized)
	case r.ContentLength > 1000:
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
	default:
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "read %d", len(b))
	}
})

// answerWait bounds how long a test waits for an answer that must come
// while the body is still unsent. It only has to be shorter than the
// server's body timeout (a minute here): an answer that waited for the
// body would come after that, or never.
const answerWait = 20 * time.Second

func serveJudge(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(ln.Addr().String(), judge, Options{BodyTimeout: time.Minute}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// rawConn is a client that writes exactly what a test says, when it says.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{Conn: c, r: bufio.NewReader(c)}
}

func (c *rawConn) send(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
}

// answer reads one response (a 100 Continue included) with its body.
func (c *rawConn) answer(t *testing.T) (*http.Response, string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(answerWait))
	res, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatalf("no answer while the body was unsent: %v", err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("answer body: %v", err)
	}
	return res, string(b)
}

// closed reports whether the server closed the connection, with nothing
// more sent, before the body was.
func (c *rawConn) closed(t *testing.T) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(answerWait))
	b, err := io.ReadAll(c.r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server kept the connection open, waiting for a body it had refused")
	}
	if len(b) != 0 {
		t.Fatalf("more after the answer: %q", b)
	}
}

// TestRefusedBeforeBody: a request refused on its head (route, key,
// declared length, Host) is answered while its body is unsent, the answer
// says Connection: close and the server closes without reading the body.
// An Expect: 100-continue request that is refused never sees 100 Continue.
func TestRefusedBeforeBody(t *testing.T) {
	addr := serveJudge(t)
	for _, tc := range []struct {
		name, head string
		want       int
	}{
		{"no route", "POST /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n", 404},
		{"no key", "POST /ok HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n", 401},
		{"no key, chunked", "POST /ok HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n", 401},
		{"no key, expect", "POST /ok HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\nContent-Length: 100\r\n\r\n", 401},
		{"declared too large", "POST /ok HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer good\r\nContent-Length: 2000\r\n\r\n", 413},
		{"declared huge", "POST /ok HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer good\r\nContent-Length: 10000000000\r\n\r\n", 413},
		{"declared huge, expect", "POST /ok HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer good\r\nExpect: 100-continue\r\nContent-Length: 10000000000\r\n\r\n", 413},
		{"foreign host", "POST /ok HTTP/1.1\r\nHost: evil.example\r\nAuthorization: Bearer good\r\nContent-Length: 100\r\n\r\n", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			c.send(t, tc.head)
			res, _ := c.answer(t)
			if res.StatusCode != tc.want {
				t.Fatalf("status %d, want %d (100 Continue is for requests that passed)", res.StatusCode, tc.want)
			}
			if !res.Close {
				t.Errorf("a refusal with its body unread must close the connection: %v", res.Header)
			}
			c.closed(t)
		})
	}
}

// TestPassedGetsContinue: a request that passes is told to continue,
// answered after its body, and its connection stays open for the next.
func TestPassedGetsContinue(t *testing.T) {
	addr := serveJudge(t)
	c := dialRaw(t, addr)
	c.send(t, "POST /ok HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer good\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	if res, _ := c.answer(t); res.StatusCode != http.StatusContinue {
		t.Fatalf("status %d before the body, want 100", res.StatusCode)
	}
	c.send(t, "hello")
	res, body := c.answer(t)
	if res.StatusCode != 200 || body != "read 5" || res.Close {
		t.Fatalf("after the body: %d %q close=%v", res.StatusCode, body, res.Close)
	}
	c.send(t, "POST /ok HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer good\r\nContent-Length: 3\r\n\r\nabc")
	if res, body := c.answer(t); res.StatusCode != 200 || body != "read 3" {
		t.Fatalf("second request on the connection: %d %q", res.StatusCode, body)
	}
	// A refusal after a body that was sent whole still closes: the
	// server did not read it.
	c.send(t, "POST /ok HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\nabc")
	if res, _ := c.answer(t); res.StatusCode != 401 || !res.Close {
		t.Fatalf("refusal: %d close=%v", res.StatusCode, res.Close)
	}
}
