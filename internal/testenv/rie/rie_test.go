package rie

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/edge"
)

// bootstrapEnv, when set, makes the test binary a Lambda bootstrap serving
// echoHandler through pkg/edge: the emulator execs it like any bootstrap.
const bootstrapEnv = "RIE_TEST_AS_BOOTSTRAP"

func TestMain(m *testing.M) {
	if os.Getenv(bootstrapEnv) != "" {
		edge.Start(echoHandler(), edge.OptionsFromEnv(os.Getenv))
		return
	}
	os.Exit(m.Run())
}

// echoHandler answers with the method, path and body it got, and a cookie.
func echoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Echo-Env", os.Getenv("RIE_TEST_MARKER"))
		http.SetCookie(w, &http.Cookie{Name: "seen", Value: "1"})
		w.WriteHeader(http.StatusAccepted)
		for i := range 3 {
			_, _ = fmt.Fprintf(w, "%s %s %s #%d\n", r.Method, r.URL.Path, b, i)
			_ = http.NewResponseController(w).Flush()
			time.Sleep(5 * time.Millisecond)
		}
	})
}

func selfBootstrap(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const furlEvent = `{"version":"2.0","rawPath":"/m/chat/completions","rawQueryString":"","headers":{"content-type":"application/json"},
 "requestContext":{"domainName":"abc.lambda-url.us-east-1.on.aws","http":{"method":"POST","path":"/m/chat/completions","sourceIp":"127.0.0.1"}},
 "body":"hi","isBase64Encoded":false}`

const httpAPIEvent = `{"version":"2.0","rawPath":"/m/chat/completions","rawQueryString":"","headers":{"content-type":"application/json"},
 "requestContext":{"domainName":"abc.execute-api.us-east-1.amazonaws.com","stage":"$default","http":{"method":"POST","path":"/m/chat/completions","sourceIp":"127.0.0.1"}},
 "body":"aGk=","isBase64Encoded":true}`

// TestEmulatorRunsBootstrap builds the pinned emulator (if not cached), runs
// the test binary as a bootstrap under it and decodes a streamed and a
// buffered answer. It must not skip: an emulator that cannot be built is
// a failure.
func TestEmulatorRunsBootstrap(t *testing.T) {
	r := StartT(t, selfBootstrap(t), []string{bootstrapEnv + "=1", "RIE_TEST_MARKER=passed-through"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	want := "POST /m/chat/completions hi #0\nPOST /m/chat/completions hi #1\nPOST /m/chat/completions hi #2\n"
	tests := []struct {
		name     string
		event    string
		wantForm string
	}{
		{"function url streams", furlEvent, "stream"},
		{"http api buffers", httpAPIEvent, "proxy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := r.Invoke(ctx, []byte(tt.event))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Form != tt.wantForm || resp.StatusCode != http.StatusAccepted || string(resp.Body) != want {
				t.Fatalf("got %s %d %q, want %s 202 %q (raw %q)", resp.Form, resp.StatusCode, resp.Body, tt.wantForm, want, raw)
			}
			h := resp.Header()
			if h.Get("X-Echo-Env") != "passed-through" {
				t.Errorf("env not passed to the bootstrap: %v", h)
			}
			if !strings.HasPrefix(h.Get("Set-Cookie"), "seen=1") {
				t.Errorf("Set-Cookie %q", h.Get("Set-Cookie"))
			}
		})
	}

	// A function error: the emulator still answers 200, with the error JSON.
	raw, err := r.Invoke(ctx, []byte(`{"Records":[]}`))
	if err != nil {
		var ie *InvokeError
		if !errors.As(err, &ie) {
			t.Fatal(err)
		}
	}
	if !strings.Contains(string(raw), "unsupported event") || !strings.Contains(string(raw), `"errorType":"UnsupportedEventError"`) {
		t.Errorf("function error answer %q", raw)
	}
}

func TestEnsureInstalledIsPinned(t *testing.T) {
	root, err := FindRepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := EnsureInstalled(root)
	if err != nil {
		t.Fatal(err)
	}
	want, err := pinnedVersion(root)
	if err != nil {
		t.Fatal(err)
	}
	if got := installedVersion(bin); got == "" || got != want {
		t.Fatalf("%s is version %q, want go.mod's %q", bin, got, want)
	}
}

func TestDecode(t *testing.T) {
	nul := "\x00\x00\x00\x00\x00\x00\x00\x00"
	tests := []struct {
		name, raw  string
		form       string
		status     int
		body       string
		wantHeader string
	}{
		{"stream", `{"statusCode":200,"headers":{"Content-Type":"text/event-stream"},"cookies":["a=1"]}` + nul + "data: x\n\n", "stream", 200, "data: x\n\n", "text/event-stream"},
		{"rest json", `{"statusCode":404,"headers":null,"multiValueHeaders":{"Content-Type":["application/json"]},"body":"{\"error\":{}}"}`, "proxy", 404, `{"error":{}}`, "application/json"},
		{"http api base64", `{"statusCode":200,"headers":{"Content-Type":"application/json"},"body":"aGk=","isBase64Encoded":true,"cookies":[]}`, "proxy", 200, "hi", "application/json"},
		{"function error", `{"errorMessage":"boom","errorType":"Fail"}`, "raw", 0, `{"errorMessage":"boom","errorType":"Fail"}`, ""},
		{"not json", "Task timed out after 3.00 seconds", "raw", 0, "Task timed out after 3.00 seconds", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Decode([]byte(tt.raw))
			if err != nil {
				t.Fatal(err)
			}
			if r.Form != tt.form || r.StatusCode != tt.status || string(r.Body) != tt.body || r.Header().Get("Content-Type") != tt.wantHeader {
				t.Fatalf("got %+v", r)
			}
			if s := DecodeStreaming([]byte(tt.raw)); tt.form != "stream" && (s.Form != "raw" || string(s.Body) != tt.raw) {
				t.Errorf("DecodeStreaming changed a non-stream answer: %+v", s)
			}
		})
	}
}
