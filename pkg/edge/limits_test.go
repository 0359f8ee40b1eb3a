package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/observed"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/proxy"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

type staticSource struct{ cfg *config.Config }

func (s staticSource) Current(context.Context) (*config.Config, error) { return s.cfg, nil }

// proxied is an Edge in front of the real proxy handler and the stub
// upstream, with the statistics records it produced.
type proxied struct {
	edge *Edge
	stub *stub.Server
	recs observed.Records
}

func newProxied(t *testing.T, opts Options) *proxied {
	t.Helper()
	p := &proxied{stub: stub.New()}
	srv := httptest.NewServer(p.stub)
	t.Cleanup(srv.Close)
	cfg, err := config.Parse(context.Background(), []byte(stub.PluginConfig(srv.URL+"/v1/chat/completions", "Bearer test-key")), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := proxy.New(staticSource{cfg}, proxy.Options{Logger: slog.New(slog.DiscardHandler), Observe: p.recs.Observe})
	opts.Logger = slog.New(slog.DiscardHandler)
	p.edge = New(h, opts)
	return p
}

func (p *proxied) last(t *testing.T) *stats.Record { return p.recs.Last(t) }

// withRequest replaces an event's body and adds headers to it.
func withRequest(t *testing.T, raw []byte, body string, h map[string]string) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	ev["body"], ev["isBase64Encoded"] = b64(body), true
	if m, ok := ev["headers"].(map[string]any); ok {
		for k, v := range h {
			m[k] = v
		}
	}
	if m, ok := ev["multiValueHeaders"].(map[string]any); ok {
		for k, v := range h {
			m[k] = []any{v}
		}
	}
	return mustJSON(t, ev)
}

const plainChat = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`

// TestCutShortAnswerFails: an upstream that resets halfway through a
// non-streamed JSON answer ends as a failed stream (error trailers) on the
// streamed paths and as an OpenAI-shaped 502 on the buffered ones, and the
// statistics count a 5xx. ReverseProxy alone would end it cleanly here:
// the edge's requests carry no http.ServerContextKey.
func TestCutShortAnswerFails(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			p := newProxied(t, m.opts)
			ev := withRequest(t, m.event(t), plainChat, map[string]string{"x-stub-fail-after": "0", "x-stub-chunk-bytes": "20000"})
			res, err := p.edge.Invoke(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			a := decode(t, res)
			if m.streaming {
				var sa *StreamAbortedError
				if !errors.As(a.readErr, &sa) {
					t.Errorf("stream ended with %v, want a StreamAbortedError (error trailers)", a.readErr)
				}
			} else {
				var e struct{ Error struct{ Code, Type string } }
				if a.status != 502 || json.Unmarshal([]byte(a.body), &e) != nil || e.Error.Code != "upstream_body_error" {
					t.Errorf("answer %d %q, want an OpenAI-shaped 502", a.status, a.body)
				}
			}
			if r := p.last(t); r.Status < 500 || r.StreamError == "" {
				t.Errorf("statistics: status %d, stream error %q; want a 5xx", r.Status, r.StreamError)
			}
		})
	}
}

// TestBufferedAnswerTooLarge: an answer larger than Lambda can return
// buffered is an OpenAI-shaped 502 that names the limit.
func TestBufferedAnswerTooLarge(t *testing.T) {
	for _, m := range modes {
		if m.streaming {
			continue
		}
		t.Run(m.name, func(t *testing.T) {
			p := newProxied(t, m.opts)
			ev := withRequest(t, m.event(t), plainChat, map[string]string{"x-stub-chunks": "7", "x-stub-chunk-bytes": "1000000"})
			res, err := p.edge.Invoke(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			a := decode(t, res)
			if a.status != 502 || !strings.Contains(a.body, `"code":"response_too_large"`) || !strings.Contains(a.body, "6 MB") {
				t.Errorf("answer %d %.200q, want a 502 naming the 6 MB limit", a.status, a.body)
			}
			// Counted as the client got it, not with the upstream's 200.
			if r := p.last(t); r.Status != 502 || r.ErrorCode != "response_too_large" {
				t.Errorf("statistics: status %d, code %q; want 502 response_too_large", r.Status, r.ErrorCode)
			}
		})
	}
}

// TestRecorderHoldsNoMoreThanTheLimit writes well past the limit in
// pieces: no write may take the buffer past it.
func TestRecorderHoldsNoMoreThanTheLimit(t *testing.T) {
	rec := &recorder{header: make(map[string][]string), limit: MaxBufferedPayload - bufferedHeadroom}
	piece := bytes.Repeat([]byte("x"), 64<<10)
	var refused bool
	for range 160 { // 10 MiB
		if _, err := rec.Write(piece); err != nil {
			refused = true
		}
		if rec.body.Len() > rec.limit || rec.body.Cap() > rec.limit {
			t.Fatalf("holding %d bytes (capacity %d), limit %d", rec.body.Len(), rec.body.Cap(), rec.limit)
		}
	}
	if !refused || !rec.over {
		t.Fatal("writes past the limit were accepted")
	}
}

// A body within the byte limit whose JSON encoding is not (escapes,
// base64) is refused while it is written, so that the handler hears it.
func TestRecorderRefusesByEncodedSize(t *testing.T) {
	for name, piece := range map[string][]byte{
		"escaped": bytes.Repeat([]byte("\x01"), 64<<10), // 6 bytes each in JSON
		"base64":  bytes.Repeat([]byte{0xff, 'a', 'b'}, 20<<10),
	} {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{header: http.Header{}, limit: 1 << 20}
			var err error
			for i := 0; err == nil && i*len(piece) < rec.limit; i++ {
				_, err = rec.Write(piece)
			}
			var refused *proxy.RefusedWrite
			if !errors.As(err, &refused) || refused.Status != 502 || refused.Code != "response_too_large" {
				t.Fatalf("write error %v, want a 502 response_too_large refusal before the raw limit", err)
			}
		})
	}
}

// encodedSize never claims more than the whole body will encode to, and
// tells UTF-8 from not however the writes cut the runes.
func TestEncodedSizeAcrossWrites(t *testing.T) {
	bodies := []string{"plain text", "é日本\u2028\n\"", "a\u2028b\U0001F600c", "\xe6\x97", "ok\xffok", "\xf0\x9f\x98", "\xe2\x80\xa8\xe2\x80\xa9", "\xc3(", "\xed\xa0\x80"}
	for _, b := range bodies {
		body := []byte(b)
		for cut1 := 0; cut1 <= len(body); cut1++ {
			for cut2 := cut1; cut2 <= len(body); cut2++ {
				var s encodedSize
				s.add(body[:cut1])
				s.add(body[cut1:cut2])
				s.add(body[cut2:])
				want := encodedLen(body)
				if got := s.least(); got > want {
					t.Fatalf("%q cut at %d, %d: least %d > encoded %d", body, cut1, cut2, got, want)
				}
				if s.invalid == utf8.Valid(body) && !(len(s.tail) > 0 && !utf8.Valid(body)) {
					t.Fatalf("%q cut at %d, %d: invalid %v", body, cut1, cut2, s.invalid)
				}
			}
		}
	}
}

func TestEncodedLen(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"b\\n\n\r\t\b\f", "\x01\x1f", "<&>", "é\u2028\u2029x"} {
		var b bytes.Buffer
		e := json.NewEncoder(&b)
		e.SetEscapeHTML(false) // as aws-lambda-go encodes responses
		_ = e.Encode(s)
		if got, want := encodedLen([]byte(s)), b.Len()-1; got != want {
			t.Errorf("encodedLen(%q) = %d, want %d", s, got, want)
		}
	}
	if got := encodedLen([]byte("\xff\xfe\xfd")); got != 6 {
		t.Errorf("invalid UTF-8: %d, want base64 length 4 + quotes", got)
	}
}

// TestDeadlineEndsTheStream: shortly before the invocation's deadline the
// stream ends with an OpenAI-shaped deadline_exceeded event, the upstream
// call is cancelled, and the statistics count it. The stub writes its first
// chunk and then waits for a Step that never comes, so only the cut ends the
// stream; a second of margin leaves a loaded machine ample time to finish
// the answer before the invocation's own deadline.
func TestDeadlineEndsTheStream(t *testing.T) {
	for _, m := range modes {
		if !m.streaming {
			continue
		}
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			opts := m.opts
			opts.DeadlineMargin = time.Second
			p := newProxied(t, opts)
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
			defer cancel()
			ev := withRequest(t, m.event(t), chatBody, map[string]string{"x-stub-chunks": "100", "x-stub-lockstep": "1"})
			res, err := p.edge.Invoke(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			a := decode(t, res)
			if !strings.Contains(a.body, `"content":"tok0 "`) || strings.Contains(a.body, "tok99") ||
				!strings.Contains(a.body, `"code":"deadline_exceeded"},"usage":{`) || !strings.HasSuffix(a.body, `"estimated":true}}`+"\n\n") {
				t.Errorf("body %q: want some tokens, then a deadline_exceeded error event", a.body)
			}
			// The answer is whole with most of the margin left: the cut is
			// the margin's doing, not the invocation's deadline (which a
			// margin of zero would leave to chance). Half a second of
			// slack for a few writes after the cut.
			dl, _ := ctx.Deadline()
			if left := time.Until(dl); left < opts.DeadlineMargin/2 {
				t.Errorf("the stream ended %v before the invocation's deadline, want about the %v margin", left, opts.DeadlineMargin)
			}
			if r := p.last(t); r.ErrorCode != "deadline_exceeded" {
				t.Errorf("statistics error code %q, want deadline_exceeded", r.ErrorCode)
			}
			waitFor(t, "the upstream call to be cancelled", func() bool { return p.stub.Cancelled() > 0 })
		})
	}
}

// TestGatewayDeadlineAnswers504: on a buffered path the upstream call
// gets less time than the gateway waits, and the client an OpenAI 504.
func TestGatewayDeadlineAnswers504(t *testing.T) {
	for _, m := range modes {
		if m.streaming {
			continue
		}
		t.Run(m.name, func(t *testing.T) {
			opts := m.opts
			opts.GatewayTimeout, opts.DeadlineMargin = time.Second, 200*time.Millisecond
			p := newProxied(t, opts)
			ev := withRequest(t, m.event(t), plainChat, map[string]string{"x-stub-delay": "20s"})
			res, err := p.edge.Invoke(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			a := decode(t, res)
			if a.status != 504 || !strings.Contains(a.body, `"code":"deadline_exceeded"`) {
				t.Errorf("answer %d %q, want an OpenAI-shaped 504", a.status, a.body)
			}
			if r := p.last(t); r.ErrorCode != "deadline_exceeded" {
				t.Errorf("statistics error code %q", r.ErrorCode)
			}
		})
	}
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !f(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
