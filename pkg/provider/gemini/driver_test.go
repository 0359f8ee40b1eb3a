package gemini

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/geministub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

const testKey = "AIza-test-key-0123456789"

// redirect sends every call for *.googleapis.com to the test server,
// keeping the path and query: the driver's real URLs, served locally.
type redirect struct{ to *url.URL }

func (r redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Hostname(), "googleapis.com") {
		req = req.Clone(req.Context())
		req.Header.Set("X-Original-Host", req.URL.Host)
		req.URL.Scheme, req.URL.Host, req.Host = r.to.Scheme, r.to.Host, ""
	}
	return http.DefaultTransport.RoundTrip(req)
}

type rig struct {
	stub *geministub.Server
	d    *Driver
	// report is the last embed call's provider.Report.
	report *provider.Report
}

func newRig(t *testing.T, so geministub.Options, do Options) *rig {
	t.Helper()
	stub := geministub.New(so)
	base := stub.ListenT(t)
	u, _ := url.Parse(base)
	do.Transport = redirect{u}
	return &rig{stub: stub, d: New(do)}
}

func plugin() *config.Plugin {
	return &config.Plugin{RouteType: config.RouteChat, Model: config.Model{Provider: "gemini"}}
}

// call runs Prepare and then the RoundTrip as the proxy would, the auth
// query parameter or header applied.
func (r *rig) call(t *testing.T, p *config.Plugin, model string, stream bool, body string) *http.Response {
	t.Helper()
	up, err := r.d.Prepare(&provider.Call{Plugin: p, Model: model, Stream: stream, Body: []byte(body)})
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	res, err := up.Transport.RoundTrip(proxied(context.Background(), p, up))
	if err != nil {
		t.Fatalf("round trip: %v", err)
	}
	return res
}

// proxied is the request the proxy hands the prepared call: the upstream
// URL with the auth query parameter, and the auth header.
func proxied(ctx context.Context, p *config.Plugin, up provider.Upstream) *http.Request {
	u := *up.URL
	if p.Auth.ParamLocation == "query" {
		q := u.Query()
		q.Set(p.Auth.ParamName, p.Auth.ParamValue)
		u.RawQuery = q.Encode()
	}
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	req.URL = &u
	if p.Auth.HeaderName != "" {
		req.Header.Set(p.Auth.HeaderName, p.Auth.HeaderValue)
	}
	return req
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatalf("%v (read %q)", err, b)
	}
	return string(b)
}

const hello = `{"model":"x","messages":[{"role":"user","content":"hi"}]}`

func TestDriverPublicKeyInQuery(t *testing.T) {
	r := newRig(t, geministub.Options{APIKey: testKey}, Options{})
	p := plugin()
	p.Auth = config.Auth{ParamName: "key", ParamValue: testKey, ParamLocation: "query"}
	res := r.call(t, p, "gemini-2.5-flash", false, hello)
	body := readAll(t, res)
	if res.StatusCode != 200 || !strings.Contains(body, `"content":"Hello from the Gemini stub."`) {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	last := r.stub.Last()
	if last.Path != "/v1beta/models/gemini-2.5-flash:generateContent" || last.Header.Get("X-Original-Host") != "generativelanguage.googleapis.com" || last.Stream {
		t.Fatalf("%+v", last)
	}
	if strings.Contains(body, testKey) {
		t.Fatal("key in the answer")
	}
}

func TestDriverPublicKeyInHeaderStreams(t *testing.T) {
	r := newRig(t, geministub.Options{APIKey: testKey, Lockstep: true}, Options{})
	p := plugin()
	p.Auth = config.Auth{HeaderName: "x-goog-api-key", HeaderValue: testKey}
	res := r.call(t, p, "gemini-2.5-flash", true, `{"model":"x","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}`)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%d %s", res.StatusCode, readAll(t, res))
	}
	last := r.stub.Last()
	if last.Path != "/v1beta/models/gemini-2.5-flash:streamGenerateContent" || last.Query != "alt=sse" {
		t.Fatalf("%+v", last)
	}
	// Lockstep: the stub writes event i+1 only after Step, so reading the
	// first piece before any Step proves it was relayed, not buffered.
	rd := newSSE(res.Body)
	for _, want := range geministub.TextPieces {
		ev := rd.next(t)
		if strings.Contains(ev, `"role":"assistant"`) {
			ev = rd.next(t)
		}
		if !strings.Contains(ev, `"content":`+jsonString(want)) {
			t.Fatalf("want %q, got %s", want, ev)
		}
		r.stub.Step()
	}
	if ev := rd.next(t); !strings.Contains(ev, `"finish_reason":"stop"`) {
		t.Fatal(ev)
	}
	if ev := rd.next(t); !strings.Contains(ev, `"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}`) {
		t.Fatal(ev)
	}
	if ev := rd.next(t); ev != "[DONE]" {
		t.Fatal(ev)
	}
}

func TestDriverStreamToolsKeepIndexAndIDs(t *testing.T) {
	r := newRig(t, geministub.Options{}, Options{})
	res := r.call(t, plugin(), "gemini-3-pro-preview.stub.tools", true, `{"model":"x","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"get_weather"}},{"type":"function","function":{"name":"get_time"}}]}`)
	body := readAll(t, res)
	for _, want := range []string{`"content":"Let me check both."`, `"tool_calls":[{"index":0,"id":"call_`, `"name":"get_weather"`, `{"index":0,"function":{"arguments":"{\"city\":\"Paris\",\"unit\":\"celsius\"}"}}`,
		`"tool_calls":[{"index":1,"id":"call_`, `"name":"get_time"`, `"finish_reason":"tool_calls"`, "data: [DONE]"} {
		if !strings.Contains(body, want) {
			t.Fatalf("missing %s in\n%s", want, body)
		}
	}
	if strings.Contains(body, `"usage"`) {
		t.Fatal("usage chunk without include_usage")
	}
	// The first call's id carries its signature; replaying the round trip
	// passes Gemini 3's signature check.
	i := strings.Index(body, `"id":"call_`)
	id := body[i+6 : i+6+strings.Index(body[i+6:], `"`)]
	if !strings.Contains(id, thoughtSep) {
		t.Fatalf("no signature in %s", id)
	}
	replay := `{"model":"x","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"Let me check both.","tool_calls":[{"id":"` + id + `","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},{"id":"call_b","type":"function","function":{"name":"get_time","arguments":"{}"}}]},{"role":"tool","tool_call_id":"` + id + `","content":"sunny"},{"role":"tool","tool_call_id":"call_b","content":"noon"}]}`
	res = r.call(t, plugin(), "gemini-3-pro-preview", false, replay)
	if b := readAll(t, res); res.StatusCode != 200 {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	// Without the signature the stub refuses as Gemini 3 does... unless
	// the driver sends the documented skip value, which it does.
	res = r.call(t, plugin(), "gemini-3-pro-preview", false, strings.ReplaceAll(replay, id, "call_a"))
	if b := readAll(t, res); res.StatusCode != 200 {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
}

func TestDriverErrors(t *testing.T) {
	r := newRig(t, geministub.Options{APIKey: testKey}, Options{})
	p := plugin()
	p.Auth = config.Auth{ParamName: "key", ParamValue: "wrong", ParamLocation: "query"}
	res := r.call(t, p, "gemini-2.5-flash", false, hello)
	if b := readAll(t, res); res.StatusCode != 400 || !strings.Contains(b, `"code":"INVALID_ARGUMENT"`) || !strings.Contains(b, "API key not valid") {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	p.Auth.ParamValue = testKey
	for _, c := range []struct {
		model  string
		stream bool
		status int
		want   string
	}{
		{"stub.error-429", false, 429, `"type":"rate_limit_error","param":null,"code":"RESOURCE_EXHAUSTED"`},
		{"stub.error-429", true, 429, `"code":"RESOURCE_EXHAUSTED"`},
		{"stub.error-500", true, 500, `"type":"server_error"`},
		{"stub.error-401", false, 401, `"type":"authentication_error"`},
		{"stub.blocked", true, 400, `"code":"content_filter"`},
		{"stub.blocked", false, 400, `Gemini blocked the prompt: SAFETY: The prompt was blocked.`},
	} {
		res := r.call(t, p, c.model, c.stream, hello)
		b := readAll(t, res)
		if res.StatusCode != c.status || !strings.Contains(b, c.want) {
			t.Errorf("%s stream=%v: %d %s", c.model, c.stream, res.StatusCode, b)
		}
		if c.status == 429 && res.Header.Get("Retry-After") != "17" {
			t.Errorf("Retry-After %q", res.Header.Get("Retry-After"))
		}
	}
}

func TestDriverStreamFailures(t *testing.T) {
	r := newRig(t, geministub.Options{}, Options{})
	for model, want := range map[string]string{"stub.error-midstream": "The model is overloaded", "stub.cut": "ended before its last event"} {
		res := r.call(t, plugin(), model, true, hello)
		b, err := io.ReadAll(res.Body)
		var se *provider.StreamError
		if !errorsAs(err, &se) || !strings.Contains(se.Error(), want) || !strings.Contains(string(b), `"content":"Hello"`) || strings.Contains(string(b), "[DONE]") {
			t.Errorf("%s: %v\n%s", model, err, b)
		}
	}
}

func TestDriverStreamEventTooLarge(t *testing.T) {
	big := strings.Repeat("a", maxEvent)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"ok\"}]}}]}\n\n")
		io.WriteString(w, "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\""+big+"\"}]}}]}\n\n")
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	d := New(Options{Transport: redirect{u}})
	rg := &rig{d: d}
	res := rg.call(t, plugin(), "m", true, hello)
	_, err := io.ReadAll(res.Body)
	var se *provider.StreamError
	if !errorsAs(err, &se) || !strings.Contains(se.Error(), "larger than 1 MiB") {
		t.Fatalf("%v", err)
	}
}

func TestDriverVertexURLAndRefusals(t *testing.T) {
	r := newRig(t, geministub.Options{}, Options{})
	p := plugin()
	p.Model.Options.Gemini = &config.GeminiOptions{APIEndpoint: "us-central1-aiplatform.googleapis.com", ProjectID: "proj", LocationID: "us-central1"}
	res := r.call(t, p, "gemini-2.5-pro", true, hello)
	readAll(t, res)
	last := r.stub.Last()
	if last.Path != "/v1/projects/proj/locations/us-central1/publishers/google/models/gemini-2.5-pro:streamGenerateContent" || last.Header.Get("X-Original-Host") != "us-central1-aiplatform.googleapis.com" || !last.Vertex {
		t.Fatalf("%+v", last)
	}
	// upstream_url as it is, its operation following the stream flag.
	up, _ := url.Parse("https://example.test/custom/models/m:generateContent?x=1")
	p.Model.Options.Gemini = nil
	u, err := r.d.Prepare(&provider.Call{Plugin: p, Model: "m", Stream: true, Upstream: up, Body: []byte(hello)})
	if err != nil || u.URL.String() != "https://example.test/custom/models/m:streamGenerateContent?alt=sse&x=1" {
		t.Fatalf("%v %v", u.URL, err)
	}
	for _, c := range []struct {
		p     *config.Plugin
		model string
	}{
		{&config.Plugin{RouteType: config.RouteCompletions}, "gemini-2.5-pro"},
		{plugin(), "claude-sonnet-4"},
	} {
		if _, err := r.d.Prepare(&provider.Call{Plugin: c.p, Model: c.model, Body: []byte(hello)}); err == nil {
			t.Errorf("%s %s: no refusal", c.p.RouteType, c.model)
		}
	}
}

// sse reads whole SSE events.
type sse struct {
	buf *bytes.Buffer
	r   io.Reader
}

func newSSE(r io.Reader) *sse { return &sse{buf: &bytes.Buffer{}, r: r} }

func (s *sse) next(t *testing.T) string {
	t.Helper()
	for {
		if i := bytes.Index(s.buf.Bytes(), []byte("\n\n")); i >= 0 {
			ev := string(s.buf.Next(i + 2))
			return strings.TrimPrefix(strings.TrimSpace(ev), "data: ")
		}
		p := make([]byte, 4096)
		n, err := s.r.Read(p)
		s.buf.Write(p[:n])
		if err != nil && n == 0 {
			t.Fatalf("stream ended: %v (%q)", err, s.buf.String())
		}
	}
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }
