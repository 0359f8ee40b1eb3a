package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/observed"
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
	recs observed.Records
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
	p.h = New(configsource.NewStatic(cfg), Options{Logger: discardLogger, Observe: p.recs.Observe})
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

func (p *stubProxy) last(t *testing.T) *stats.Record { return p.recs.Last(t) }

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

// A stream the deadline cuts ends with an OpenAI-shaped error event that
// carries the usage so far (Kong's estimate: the stub sends usage last),
// and is counted as a deadline_exceeded 504 with that usage.
func TestDeadlineStreamCarriesUsage(t *testing.T) {
	p := newStubProxy(t, "")
	ctx, cancel := context.WithDeadlineCause(context.Background(), time.Now().Add(300*time.Millisecond), ErrDeadline)
	defer cancel()
	w := p.serve(ctx, `{"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"one two three"}]}`,
		"X-Stub-Chunks", "1000", "X-Stub-Interval", "10ms")
	events := strings.Split(strings.TrimSpace(w.Body.String()), "\n\n")
	var last struct {
		Error struct{ Code string }
		Usage *struct {
			PromptTokens     int  `json:"prompt_tokens"`
			CompletionTokens int  `json:"completion_tokens"`
			TotalTokens      int  `json:"total_tokens"`
			Estimated        bool `json:"estimated"`
		}
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(events[len(events)-1], "data: ")), &last); err != nil || last.Error.Code != codeDeadline {
		t.Fatalf("last event %q (%v), want a deadline_exceeded error", events[len(events)-1], err)
	}
	// Each content chunk is "tokN ": the text relayed is 5 bytes or more a chunk.
	chunks := len(events) - 1
	u := last.Usage
	if u == nil || !u.Estimated || u.PromptTokens != 5 || u.CompletionTokens < chunks*5/4-1 || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
		t.Fatalf("usage %+v after %d chunks, want Kong's estimate (3 words x 1.8 = 5 prompt tokens)", u, chunks)
	}
	r := p.last(t)
	if r.Status != http.StatusGatewayTimeout || r.ErrorCode != codeDeadline || r.Usage == nil || !r.Usage.Estimated || r.Usage.CompletionTokens != u.CompletionTokens {
		t.Errorf("statistics: status %d, code %q, usage %+v", r.Status, r.ErrorCode, r.Usage)
	}
}

// The deadline's event carries the upstream's own usage when it came
// before the cut, unmarked.
func TestStreamFailureUsage(t *testing.T) {
	ctx, cancel := context.WithDeadlineCause(context.Background(), time.Now(), ErrDeadline)
	defer cancel()
	<-ctx.Done()
	estimate := func() *stats.Usage {
		return &stats.Usage{PromptTokens: 2, CompletionTokens: 3, TotalTokens: 5, Estimated: true}
	}
	tests := []struct {
		name  string
		ctx   context.Context
		usage *stats.Usage
		want  string
	}{
		{"deadline, estimate", ctx, nil, `"usage":{"prompt_tokens":2,"completion_tokens":3,"total_tokens":5,"estimated":true}}`},
		{"deadline, real usage", ctx, &stats.Usage{PromptTokens: 7, CompletionTokens: 1, TotalTokens: 8}, `"code":"deadline_exceeded"},"usage":{"prompt_tokens":7,"completion_tokens":1,"total_tokens":8}}`},
		{"upstream failure", context.Background(), nil, `"code":"upstream_stream_error"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := &outcome{usage: tc.usage}
			got := streamFailure(tc.ctx, o, io.ErrUnexpectedEOF, estimate)
			if !strings.HasSuffix(string(got), tc.want) || !json.Valid(got) {
				t.Errorf("event %s, want it to end %s", got, tc.want)
			}
		})
	}
}

// A JSON answer without usage is counted as Kong counts it: the prompt
// estimated (words x 1.0), no completion, marked estimated.
func TestJSONAnswerWithoutUsageEstimated(t *testing.T) {
	p := newStubProxy(t, "")
	w := p.serve(context.Background(), `{"messages":[{"role":"user","content":"one two three"}]}`, "X-Stub-Answer", "no-usage")
	if w.Code != http.StatusOK {
		t.Fatalf("answer %d %s", w.Code, w.Body)
	}
	if u := p.last(t).Usage; u == nil || *u != (stats.Usage{PromptTokens: 3, TotalTokens: 3, Estimated: true}) {
		t.Errorf("usage %+v, want Kong's estimate of the prompt", u)
	}
}
