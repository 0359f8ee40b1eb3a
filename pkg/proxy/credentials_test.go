package proxy

import (
	"compress/gzip"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/syncbuf"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/configsource"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

// mintedToken is what mintingDriver attaches: a credential the proxy's
// configuration never held, as an Entra ID or Google access token.
const mintedToken = "ya29.minted/tok+0123456789"

// mintingDriver stands for a driver that mints its credential at run
// time: its transport adds "Authorization: Bearer <token>" to the call and
// reports it, as the Azure, Gemini and Bedrock drivers do. Mode
// "stream-error" answers a translated stream that fails with the token in
// the provider's words instead of calling; "transport-error" fails with
// an error that quotes it.
type mintingDriver struct{}

func (mintingDriver) Prepare(c *provider.Call) (provider.Upstream, error) {
	return provider.Upstream{URL: c.Upstream, Transport: mintingTransport{}}, nil
}

type mintingTransport struct{}

func (mintingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	switch r.Header.Get("X-Echo") {
	case "stream-error":
		provider.ReportCredential(r.Context(), "Bearer "+mintedToken)
		return provider.StreamResponse(r, &failAfterOne{}), nil
	case "transport-error":
		// A driver's error that quotes its request (an SDK's, say).
		provider.ReportCredential(r.Context(), "Bearer "+mintedToken)
		return nil, fmt.Errorf("request with Authorization: Bearer %s: connection refused", mintedToken)
	}
	out := r.Clone(r.Context())
	out.Header.Set("Authorization", "Bearer "+mintedToken)
	provider.ReportCredential(r.Context(), "Bearer "+mintedToken)
	return http.DefaultTransport.RoundTrip(out)
}

// failAfterOne is a translated stream: one chunk, then the provider's
// error quoting the request's Authorization header.
type failAfterOne struct{ sent bool }

func (f *failAfterOne) Next() ([]byte, error) {
	if !f.sent {
		f.sent = true
		return []byte(`data: {"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"Hi"}}]}` + "\n\n"), nil
	}
	return nil, &provider.StreamError{Message: "Gemini: invalid header Authorization: Bearer " + mintedToken, Type: provider.TypeServer, Code: "UNAUTHENTICATED",
		Cause: fmt.Errorf("the event %q", `{"error":{"message":"Bearer `+mintedToken+`"}}`)}
}
func (f *failAfterOne) Close() error { return nil }

// echoUpstream answers as an upstream that quotes the request's
// Authorization header back, in the shape X-Echo asks for.
func echoUpstream(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		tok := strings.TrimPrefix(auth, "Bearer ")
		half := len(tok) / 2
		flush := func() { http.NewResponseController(w).Flush(); time.Sleep(5 * time.Millisecond) }
		switch r.Header.Get("X-Echo") {
		case "error-json":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":{"message":"invalid header Authorization: %s","type":"invalid_request_error"}}`, auth)
		case "error-escaped":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":{"message":"token %s"}}`, uEscapeAll(tok))
		case "error-url-encoded":
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, "GET /v1?access_token=%s", url.QueryEscape(tok))
		case "error-header":
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", token="`+tok+`"`)
			w.Header().Set("X-Echo-Authorization", auth)
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"error":{"message":"forbidden"}}`)
		case "error-gzip":
			w.Header().Set("Content-Encoding", "gzip")
			w.WriteHeader(http.StatusInternalServerError)
			zw := gzip.NewWriter(w)
			fmt.Fprintf(zw, `{"error":{"message":"%s"}}`, auth)
			zw.Close()
		case "error-sse-split":
			// An error sent as an event stream, the token cut across two
			// writes the client would see as two reads.
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, `data: {"error":{"message":"bad %s`, tok[:half])
			flush()
			fmt.Fprintf(w, `%s"}}`+"\n\n", tok[half:])
		case "ok-json":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"id":"c1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"%s"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`, auth)
		case "ok-stream-split":
			// The token cut across two deltas (and two writes).
			w.Header().Set("Content-Type", "text/event-stream")
			for _, piece := range []string{tok[:half], tok[half:]} {
				fmt.Fprintf(w, `data: {"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"%s"}}]}`+"\n\n", piece)
				flush()
			}
			fmt.Fprint(w, "data: [DONE]\n\n")
		default:
			t.Errorf("echo mode %q", r.Header.Get("X-Echo"))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// uEscapeAll spells every character of s as a JSON \u escape.
func uEscapeAll(s string) string {
	var b strings.Builder
	for _, r := range s {
		fmt.Fprintf(&b, `\u%04x`, r)
	}
	return b.String()
}

// A credential the driver attached at run time never reaches the client
// in what the proxy redacts (an error answer: body, headers, an event
// stream; the event that ends a failed translated stream) nor the logs
// (payloads, the statistics line, warnings), however the upstream spells
// it. A 2xx answer's body is relayed as the upstream sent it (README,
// Security): only its logged payload is checked there.
func TestMintedCredentialRedacted(t *testing.T) {
	up := echoUpstream(t)
	cfg, err := config.Parse(context.Background(), []byte(`
route_type: llm/v1/chat
auth: {header_name: api-key, header_value: configured-key-0123}
logging: {log_statistics: true, log_payloads: true}
model: {provider: openai, name: gpt-4o, options: {upstream_url: "`+up.URL+`/v1/chat/completions"}}
`), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncbuf.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	h := New(configsource.NewStatic(cfg), Options{Logger: logger, Drivers: provider.Set{config.ProviderOpenAI: mintingDriver{}},
		Observe: stats.New(stats.Options{Logger: logger, Out: logs}).Observe})
	// What must not appear: the token, whole or in any spelling a reader
	// of the output would decode.
	leaks := func(s string) bool {
		return strings.Contains(s, "minted") || strings.Contains(s, "0123456789") || strings.Contains(s, url.QueryEscape(mintedToken))
	}
	tests := []struct {
		mode   string
		stream bool
		status int
		// relayed: the client's copy is redacted (an error answer).
		relayed bool
	}{
		{mode: "error-json", status: 400, relayed: true},
		{mode: "error-escaped", status: 401, relayed: true},
		{mode: "error-url-encoded", status: 400, relayed: true},
		{mode: "error-header", status: 403, relayed: true},
		{mode: "error-gzip", status: 500, relayed: true},
		{mode: "error-sse-split", stream: true, status: 500, relayed: true},
		{mode: "stream-error", stream: true, status: 200, relayed: true},
		{mode: "transport-error", status: 502, relayed: true},
		{mode: "ok-json", status: 200},
		{mode: "ok-stream-split", stream: true, status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			before := len(logs.String())
			body := `{"messages":[{"role":"user","content":"hi"}]}`
			if tt.stream {
				body = `{"stream":true,"messages":[{"role":"user","content":"hi"}]}`
			}
			req := httptest.NewRequest(http.MethodPost, "/gpt-4o/chat/completions", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Echo", tt.mode)
			w := httptest.NewRecorder()
			func() {
				defer func() { _ = recover() }() // a failed stream is aborted
				h.ServeHTTP(w, req)
			}()
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.relayed {
				if leaks(w.Body.String()) || !strings.Contains(w.Body.String(), "[REDACTED]") && tt.mode != "error-header" && tt.mode != "transport-error" {
					t.Errorf("relayed body %s", w.Body)
				}
				for k, vs := range w.Header() {
					if leaks(strings.Join(vs, " ")) {
						t.Errorf("relayed header %s: %q", k, vs)
					}
				}
			}
			out := logs.String()[before:]
			if !strings.Contains(out, `"msg":"request"`) {
				t.Fatalf("no statistics line in %s", out)
			}
			if leaks(out) {
				t.Errorf("logged: %s", out)
			}
			if strings.HasPrefix(tt.mode, "ok-") && !strings.Contains(out, "[REDACTED]") {
				t.Errorf("the payload log has no redacted answer: %s", out)
			}
		})
	}
}

// The configured credentials are redacted as before, on the
// byte-for-byte path, where there is no Report.
func TestCredentialFormsWithoutReport(t *testing.T) {
	pl := &plan{plugin: &config.Plugin{Auth: config.Auth{HeaderName: "Authorization", HeaderValue: "Bearer sk-conf"}}}
	o := &outcome{}
	if ctx := pl.openReport(context.Background(), o); o.report != nil || ctx != context.Background() {
		t.Fatal("a Report for the byte-for-byte path")
	}
	got := credentialForms(pl, o, "client-key")
	want := stats.SecretForms("Bearer sk-conf", "client-key")
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("forms %q, want %q", got, want)
	}
	if s := scrub(pl, o, "echo Bearer sk-conf"); s != "echo [REDACTED]" {
		t.Errorf("scrubbed %q", s)
	}
	if s := scrub(&plan{}, o, "no plan yet"); s != "no plan yet" {
		t.Errorf("scrubbed %q", s)
	}
}

// An ai-proxy-advanced chain: every attempt's driver reports into the
// request's one Report, and the answer that is relayed (the last
// target's, after a failover) is redacted of what any attempt attached.
func TestMintedCredentialRedactedAfterFailover(t *testing.T) {
	up := echoUpstream(t)
	target := func(name string) string {
		return fmt.Sprintf(`
  - route_type: llm/v1/chat
    auth: {header_name: api-key, header_value: configured-%[1]s-0123}
    logging: {log_statistics: true, log_payloads: true}
    model: {provider: openai, name: %[1]s, options: {upstream_url: "%[2]s/v1/chat/completions"}}`, name, up.URL)
	}
	cfg, err := config.Parse(context.Background(), []byte("targets:"+target("first")+target("second")+
		"\nbalancer: {algorithm: round-robin, failover_criteria: [error, http_500]}\n"), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncbuf.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	h := New(configsource.NewStatic(cfg), Options{Logger: logger, Drivers: provider.Set{config.ProviderOpenAI: mintingDriver{}},
		Observe: stats.New(stats.Options{Logger: logger, Out: logs}).Observe})
	req := httptest.NewRequest(http.MethodPost, "/m/chat/completions", strings.NewReader(`{"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Echo", "error-gzip")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "minted") || !strings.Contains(w.Body.String(), "[REDACTED]") {
		t.Errorf("relayed %d %s", w.Code, w.Body)
	}
	if out := logs.String(); !strings.Contains(out, `"attempts"`) || strings.Contains(out, "minted") {
		t.Errorf("logged: %s", out)
	}
}
