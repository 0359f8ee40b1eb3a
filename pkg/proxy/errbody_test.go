package proxy

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

// An upstream error body never hands the configured credentials to the
// client, however the upstream spells them.
func TestRedactErrorBody(t *testing.T) {
	p := &config.Plugin{Auth: config.Auth{HeaderName: "Authorization", HeaderValue: "Bearer sk-live/ab+cd", ParamName: "key", ParamValue: "q-secret 42"}}
	tests := []struct {
		name, body, encoding string
		want                 string
	}{
		{name: "header echoed", body: `{"error":{"message":"bad key Bearer sk-live/ab+cd"}}`, want: `{"error":{"message":"bad key [REDACTED]"}}`},
		{name: "token alone", body: `token sk-live/ab+cd`, want: `token [REDACTED]`},
		{name: "JSON-escaped", body: `{"m":"sk-live\/ab\u002bcd"}`, want: `{"m":"[REDACTED]"}`},
		{name: "URL-encoded param", body: `GET /v1?key=q-secret+42 and /q-secret%2042`, want: `GET /v1?key=[REDACTED] and /[REDACTED]`},
		{name: "URL-encoded token", body: `sk-live%2Fab%2Bcd`, want: `[REDACTED]`},
		{name: "gzip is decoded", body: gzipped(`key sk-live/ab+cd`), encoding: "gzip", want: `key [REDACTED]`},
		{name: "too large is replaced", body: strings.Repeat("x", maxErrorBody) + "sk-live/ab+cd",
			want: `{"error":{"message":"the upstream answered 401 with an error body larger than 65536 bytes","type":"server_error","param":null,"code":"upstream_error_unreadable"}}`},
		{name: "unknown encoding is replaced", body: "sk-live/ab+cd", encoding: "br",
			want: `{"error":{"message":"the upstream answered 401 with an error body in an encoding the proxy cannot read (\"br\")","type":"server_error","param":null,"code":"upstream_error_unreadable"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := &http.Response{StatusCode: 401, Header: http.Header{}, Body: io.NopCloser(iotest.OneByteReader(strings.NewReader(tc.body)))}
			if tc.encoding != "" {
				res.Header.Set("Content-Encoding", tc.encoding)
			}
			redactErrorBody(res, stats.SecretForms(p.Auth.Secrets()...))
			got, err := io.ReadAll(res.Body)
			if err != nil || string(got) != tc.want {
				t.Fatalf("relayed %q (%v), want %q", got, err, tc.want)
			}
			if res.ContentLength != int64(len(got)) || res.Header.Get("Content-Encoding") != "" {
				t.Errorf("Content-Length %d for %d bytes, Content-Encoding %q", res.ContentLength, len(got), res.Header.Get("Content-Encoding"))
			}
		})
	}
}

func TestRedactErrorBodyCut(t *testing.T) {
	p := &config.Plugin{Auth: config.Auth{HeaderName: "Authorization", HeaderValue: "Bearer sk-live"}}
	cut := errors.New("reset")
	res := &http.Response{StatusCode: 500, Header: http.Header{}, Body: io.NopCloser(io.MultiReader(strings.NewReader("sk-live"), iotest.ErrReader(cut)))}
	redactErrorBody(res, stats.SecretForms(p.Auth.Secrets()...))
	got, err := io.ReadAll(res.Body)
	if string(got) != "[REDACTED]" || !errors.Is(err, cut) || res.ContentLength != -1 {
		t.Errorf("got %q, %v, length %d", got, err, res.ContentLength)
	}
}

func TestRedactErrorHeaders(t *testing.T) {
	p := &config.Plugin{Auth: config.Auth{ParamName: "api-key", ParamValue: "sk-query-key", ParamLocation: "query"}}
	res := &http.Response{StatusCode: 301, Header: http.Header{"Location": {"https://up.example/v1/chat/completions?api-key=sk-query-key"}}, Body: http.NoBody}
	redactErrorBody(res, stats.SecretForms(p.Auth.Secrets()...))
	if got := res.Header.Get("Location"); got != "https://up.example/v1/chat/completions?api-key=[REDACTED]" {
		t.Errorf("Location = %q", got)
	}
}
