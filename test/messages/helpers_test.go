package messages

import (
	"io"
	"strings"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/binary"
	"net/http"
	"net/http/httptest"
	"testing"
)

func httptestServer(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// waitOutput waits for the binary's output to hold want (statistics lines
// leave in batches) and returns it.
func waitOutput(t *testing.T, p *binary.Process, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := p.Output.String()
		if strings.Contains(out, want) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s in the output:\n%s", want, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rawPost sends a Messages body with the client key and returns what
// arrived, even when the connection was aborted after an error event.
func rawPost(t *testing.T, url, body string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Api-Key", clientKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}
