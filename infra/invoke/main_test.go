package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/edge"
)

// bootstrapEnv makes the test binary a bootstrap (see TestRunPrintsAnswer).
const bootstrapEnv = "INVOKE_TEST_AS_BOOTSTRAP"

func TestMain(m *testing.M) {
	if os.Getenv(bootstrapEnv) != "" {
		edge.Start(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			cfg, _ := os.ReadFile(os.Getenv(configFileEnv))
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("X-Config-Has-Upstream", boolString(bytes.Contains(cfg, []byte("http://upstream.test/v1/chat/completions"))))
			w.Header().Set("X-Extra", os.Getenv("EXTRA"))
			w.WriteHeader(http.StatusTeapot)
			_, _ = w.Write([]byte(r.Method + " " + r.URL.Path + " " + string(b)))
		}), edge.OptionsFromEnv(os.Getenv))
		return
	}
	os.Exit(m.Run())
}

func boolString(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func TestUpstreamConfigParses(t *testing.T) {
	b, err := UpstreamConfig("http://127.0.0.1:9/", "k")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(context.Background(), b, config.Options{})
	if err != nil {
		t.Fatalf("config.Parse: %v\n%s", err, b)
	}
	r, caps, ok := cfg.Match("POST", "", "/gpt-4o-mini/chat/completions", nil)
	if !ok || r == nil || caps["model"] != "gpt-4o-mini" {
		t.Fatalf("route match %v %v %v", r, caps, ok)
	}
	p := r.Plugin
	if p.Model.Options.UpstreamURL != "http://127.0.0.1:9/v1/chat/completions" || p.Auth.HeaderValue != "Bearer k" {
		t.Fatalf("plugin %+v", p)
	}
}

func TestEnvFlags(t *testing.T) {
	var e envFlags
	for _, bad := range []string{"", "=x", "NOEQUALS"} {
		if e.Set(bad) == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
	if err := e.Set("A=b=c"); err != nil || !e.has("A") || e.has("B") {
		t.Fatalf("Set(A=b=c): %v, %v", err, e)
	}
}

// TestRunPrintsAnswer runs the command end to end with the test binary as
// the bootstrap under the real emulator.
func TestRunPrintsAnswer(t *testing.T) {
	self, err := filepath.Abs(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(bootstrapEnv, "1") // the emulator passes its environment on
	var out, errOut bytes.Buffer
	err = run([]string{
		"-bootstrap", self, "-event", "../../events/function-url.json",
		"-upstream", "http://upstream.test", "-env", "EXTRA=extra-value",
	}, &out, &errOut)
	if err != nil {
		t.Fatalf("run: %v\nstderr: %s", err, errOut.String())
	}
	got := out.String()
	for _, want := range []string{
		"HTTP 418 I'm a teapot\n", "Content-Type: text/plain\n", "X-Config-Has-Upstream: yes\n",
		"X-Extra: extra-value\n", "(stream response)", `POST /gpt-4o-mini/chat/completions {"model":"gpt-4o-mini"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-event", "x.json"},
		{"-bootstrap", "b"},
		{"-bootstrap", "b", "-event", "../../events/function-url.json", "-stub", "-upstream", "http://x"},
		{"-bootstrap", "b", "-event", "../../events/function-url.json", "-env", "NOEQUALS"},
	} {
		var out, errOut bytes.Buffer
		if err := run(args, &out, &errOut); err == nil {
			t.Errorf("run %q succeeded", args)
		}
	}
}
