package proxy

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/configsource"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

const stubKey = "Bearer sk-upstream-secret"

// stubProxy is the handler in front of the stub with the seed's plugin plus
// extra YAML, and the records it observed.
type stubProxy struct {
	h    *Handler
	mu   sync.Mutex
	recs []*stats.Record
}

func newStubProxy(t *testing.T, extra string) *stubProxy {
	t.Helper()
	up := httptest.NewServer(stub.New())
	t.Cleanup(up.Close)
	cfg, err := config.Parse(context.Background(), []byte(stub.PluginConfig(up.URL+"/v1/chat/completions", stubKey)+extra), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := &stubProxy{}
	p.h = New(configsource.NewStatic(cfg), Options{Logger: discardLogger, Observe: func(r *stats.Record) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.recs = append(p.recs, r)
	}})
	return p
}

// serve posts body with the stub's steering headers (name, value pairs).
func (p *stubProxy) serve(ctx context.Context, body string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/gpt-4o/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	func() {
		defer func() { _ = recover() }() // an aborted answer panics with http.ErrAbortHandler
		p.h.ServeHTTP(w, req)
	}()
	return w
}

func (p *stubProxy) last(t *testing.T) *stats.Record {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.recs) == 0 {
		t.Fatal("no statistics recorded")
	}
	return p.recs[len(p.recs)-1]
}

// An upstream error sent as an event stream is an error body, not a stream:
// it is redacted like a JSON one.
func TestUpstreamErrorEventStreamRedacted(t *testing.T) {
	p := newStubProxy(t, "")
	w := p.serve(context.Background(), `{"stream":true,"messages":[{"role":"user","content":"hi"}]}`, "X-Stub-Answer", "echo-auth-sse")
	body := w.Body.Bytes()
	if w.Code != http.StatusUnauthorized || bytes.Contains(body, []byte("sk-upstream-secret")) || !bytes.Contains(body, []byte("[REDACTED]")) {
		t.Errorf("relayed %d %q", w.Code, body)
	}
	if r := p.last(t); r.Status != http.StatusUnauthorized {
		t.Errorf("statistics status %d", r.Status)
	}
}
