package lambda_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/rie"
)

// withHeaders adds request headers to an event, in each header map it has.
func withHeaders(t *testing.T, raw []byte, h map[string]string) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
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
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// expectation is what a sample event must produce.
type expectation struct {
	form   string // rie.Response.Form
	status int
	ctype  string   // Content-Type prefix
	body   []string // substrings of the body
}

var (
	sseOK = expectation{"stream", 200, "text/event-stream", []string{
		`"role":"assistant","content":"tok0 "`, `"content":"tok4 "`, `"finish_reason":"stop"`, "data: [DONE]\n\n"}}
	jsonOK = func(form string) expectation {
		return expectation{form, 200, "application/json", []string{`"object":"chat.completion"`, `"content":"tok0 tok1 tok2 tok3 tok4 "`}}
	}
	openAIError = func(status int) expectation {
		return expectation{"stream", status, "application/json", []string{`"error":{`, `"message":`, `"type":`}}
	}
)

// sampleEvents is what each events/*.json answers with the stub upstream
// and REST streaming on. Function URL answers always stream.
var sampleEvents = map[string]expectation{
	"function-url-stream.json": sseOK,
	"function-url.json":        jsonOK("stream"),
	"base64-body.json":         jsonOK("stream"),
	"rest-api.json":            sseOK,
	"http-api-stage.json":      jsonOK("proxy"),
	"bad-no-model.json":        openAIError(404),
	"bad-method.json":          openAIError(405),
	"bad-json.json":            openAIError(400),
}

// TestSampleEventsThroughEmulator runs every sample event through the real
// bootstrap under the Runtime Interface Emulator (built on first use).
func TestSampleEventsThroughEmulator(t *testing.T) {
	up, configFile := upstream(t)
	emu := rie.StartT(t, bootstrap, functionEnv(configFile, "STREAM"))
	files, err := filepath.Glob(filepath.Join(repoRoot, "events", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample events: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			want, ok := sampleEvents[name]
			if !ok {
				t.Fatalf("sample event %s has no expectation here: add one", name)
			}
			before := len(up.Requests())
			resp := invokeEmulator(t, emu, readEvent(t, name))
			checkAnswer(t, resp, want)
			reached := len(up.Requests()) > before
			if want.status == 200 {
				if !reached {
					t.Fatal("the upstream was not called")
				}
				last := up.Last()
				if last.Path != "/v1/chat/completions" || last.Header.Get("Authorization") != "Bearer test-key" {
					t.Errorf("upstream got %s with Authorization %q", last.Path, last.Header.Get("Authorization"))
				}
				if !strings.Contains(string(last.Body), `"model":"gpt-4o-mini"`) {
					t.Errorf("upstream body %s lacks the model", last.Body)
				}
			} else if reached {
				t.Errorf("a %d answer still called the upstream", want.status)
			}
		})
	}
}

// TestRESTBufferedThroughEmulator checks the REST event when the function
// is told its integration is buffered: a JSON proxy response, SSE inside.
func TestRESTBufferedThroughEmulator(t *testing.T) {
	_, configFile := upstream(t)
	emu := rie.StartT(t, bootstrap, functionEnv(configFile, "BUFFERED"))
	resp := invokeEmulator(t, emu, readEvent(t, "rest-api.json"))
	want := sseOK
	want.form = "proxy"
	checkAnswer(t, resp, want)
}

// TestMidStreamFailureThroughEmulator shows what the emulator makes of a
// stream the upstream cuts: it ignores the error trailers and returns the
// partial body, which ends with the proxy's SSE error event.
func TestMidStreamFailureThroughEmulator(t *testing.T) {
	_, configFile := upstream(t)
	emu := rie.StartT(t, bootstrap, functionEnv(configFile, "STREAM"))
	ev := withHeaders(t, readEvent(t, "function-url-stream.json"), map[string]string{"x-stub-fail-after": "3"})
	resp := invokeEmulator(t, emu, ev)
	if resp.Form != "stream" || resp.StatusCode != 200 {
		t.Fatalf("answer %s %d", resp.Form, resp.StatusCode)
	}
	body := string(resp.Body)
	if !strings.Contains(body, `"content":"tok2 "`) || strings.Contains(body, "tok3") || strings.Contains(body, "[DONE]") {
		t.Errorf("body %q: want tok0..tok2 and no end", body)
	}
	if !strings.Contains(body, `data: {"error":{`) {
		t.Errorf("body %q lacks the SSE error event", body)
	}
}

func invokeEmulator(t *testing.T, emu *rie.RIE, event []byte) rie.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	raw, err := emu.Invoke(ctx, event)
	if err != nil {
		t.Fatalf("invoke: %v\nanswer: %s", err, raw)
	}
	resp, err := rie.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func checkAnswer(t *testing.T, resp rie.Response, want expectation) {
	t.Helper()
	if resp.Form != want.form || resp.StatusCode != want.status {
		t.Fatalf("answer %s %d, want %s %d; body %q", resp.Form, resp.StatusCode, want.form, want.status, resp.Body)
	}
	if ct := resp.Header().Get("Content-Type"); !strings.HasPrefix(ct, want.ctype) {
		t.Errorf("Content-Type %q, want %s", ct, want.ctype)
	}
	for _, s := range want.body {
		if !strings.Contains(string(resp.Body), s) {
			t.Errorf("body lacks %q:\n%s", s, resp.Body)
		}
	}
}
