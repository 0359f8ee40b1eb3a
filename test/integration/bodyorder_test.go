package integration

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/binary"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
)

// headWait bounds the wait for an answer that must come while the body is
// unsent. The binary's body deadline is 30 s: an answer that waited for
// the body would not come sooner.
const headWait = 20 * time.Second

// raw is a client that writes exactly what the test says, when it says.
type raw struct {
	net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *raw {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &raw{Conn: c, r: bufio.NewReader(c)}
}

func (c *raw) send(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
}

// answer reads one response (100 Continue included) and its body.
func (c *raw) answer(t *testing.T, what string) (*http.Response, string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(headWait))
	res, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatalf("%s: no answer: %v", what, err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s: answer body: %v", what, err)
	}
	return res, string(b)
}

// TestLocalServerAnswersBeforeBody: the binary judges route, method,
// key-auth and the declared length from the head. Each refusal arrives
// while the body is still unsent, closes the connection, and a refused
// Expect: 100-continue request never sees 100 Continue; a request that
// passes is told to continue and answered after its body.
func TestLocalServerAnswersBeforeBody(t *testing.T) {
	bin := binary.Build(t)
	st := stub.New()
	upstream := httptest.NewServer(st)
	defer upstream.Close()
	doc := strings.Replace(strings.NewReplacer("UPSTREAM", upstream.URL, "KEY", upstreamKey).Replace(keyAuthConfig()),
		"route_type: llm/v1/chat", "route_type: llm/v1/chat\n      max_request_body_size: 4096", 1)
	cfgFile := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfgFile, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := binary.FreeAddr(t)
	p := binary.Start(t, bin, "AIPROXY_CONFIG_FILE="+cfgFile, "AIPROXY_LISTEN="+addr)
	p.WaitListening(t, addr)

	head := func(method, path, extra string) string {
		return method + " " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\n" + extra + "\r\n"
	}
	key := "apikey: " + teamKey + "\r\n"
	for _, tc := range []struct {
		name, head string
		status     int
		code       string
	}{
		{"declared far beyond max_request_body_size", head("POST", "/gpt-4o/chat/completions", key+"Content-Length: 10000000000\r\n"), 413, "request_too_large"},
		{"declared just beyond it", head("POST", "/gpt-4o/chat/completions", key+"Content-Length: 5000\r\n"), 413, "request_too_large"},
		{"expect 100-continue, no key", head("POST", "/gpt-4o/chat/completions", "Expect: 100-continue\r\nContent-Length: 100\r\n"), 401, "invalid_api_key"},
		{"expect 100-continue, wrong key", head("POST", "/gpt-4o/chat/completions", "apikey: wrong-key-0123456789\r\nExpect: 100-continue\r\nContent-Length: 100\r\n"), 401, "invalid_api_key"},
		{"no key, chunked", head("POST", "/gpt-4o/chat/completions", "Transfer-Encoding: chunked\r\n"), 401, "invalid_api_key"},
		{"no route", head("POST", "/nope/chat/completions", key+"Content-Length: 100\r\n"), 404, "route_not_found"},
		{"method not allowed", head("PUT", "/gpt-4o/chat/completions", key+"Content-Length: 100\r\n"), 405, "method_not_allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			c.send(t, tc.head)
			res, body := c.answer(t, "refusal before the body")
			if res.StatusCode != tc.status || !strings.Contains(body, `"code":"`+tc.code+`"`) {
				t.Fatalf("got %d %s, want %d %s (100 Continue is only for requests that passed)", res.StatusCode, body, tc.status, tc.code)
			}
			if !res.Close {
				t.Errorf("refusal with the body unread does not close: %v", res.Header)
			}
			_ = c.SetReadDeadline(time.Now().Add(headWait))
			rest, err := io.ReadAll(c.r)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the server kept the connection, waiting for the refused body")
			}
			if len(rest) != 0 {
				t.Errorf("more after the refusal: %q", rest)
			}
		})
	}
	if n := len(st.Requests()); n != 0 {
		t.Errorf("%d refused requests reached the upstream", n)
	}

	t.Run("expect 100-continue, valid key", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.send(t, head("POST", "/gpt-4o/chat/completions", key+"Expect: 100-continue\r\nContent-Length: "+strconv.Itoa(len(chatBody))+"\r\n"))
		if res, _ := c.answer(t, "before the body"); res.StatusCode != http.StatusContinue {
			t.Fatalf("status %d before the body, want 100 Continue", res.StatusCode)
		}
		if n := len(st.Requests()); n != 0 {
			t.Fatal("the upstream was called before the body was sent")
		}
		c.send(t, chatBody)
		res, body := c.answer(t, "after the body")
		if res.StatusCode != 200 || res.Close {
			t.Fatalf("after the body: %d close=%v %s", res.StatusCode, res.Close, body)
		}
		if v := st.Last().Header.Get("Expect"); v != "" {
			t.Errorf("the upstream was sent Expect: %s (the proxy holds the body already)", v)
		}
	})
}
