package integration

import (
	"bytes"
	"context"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/binary"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/motoserver"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
)

func TestMain(m *testing.M) {
	code := m.Run()
	binary.Cleanup()
	os.Exit(code)
}

// The binary as `make run` starts it: plain HTTP, config from a file, JSON
// logs, and the key nowhere in its output.
func TestLocalServerBinary(t *testing.T) {
	bin := binary.Build(t)
	st := stub.New()
	upstream := httptest.NewServer(st)
	defer upstream.Close()
	cfgFile := filepath.Join(t.TempDir(), "config.yaml")
	doc := stub.PluginConfig(upstream.URL+"/v1/chat/completions", `Bearer ${{ env "DECK_OPENAI_API_KEY" }}`)
	if err := os.WriteFile(cfgFile, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := binary.FreeAddr(t)
	p := binary.Start(t, bin, "AIPROXY_CONFIG_FILE="+cfgFile, "AIPROXY_LISTEN="+addr, "DECK_OPENAI_API_KEY="+upstreamKey)
	p.WaitListening(t, addr)

	client := openai.NewClient(option.WithBaseURL("http://"+addr+"/gpt-4o-mini"), option.WithAPIKey("client"), option.WithMaxRetries(0),
		option.WithHeader("X-Stub-Chunks", "10"), option.WithHeader("X-Stub-Lockstep", "1"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: userMessage("hi")})
	var text strings.Builder
	for stream.Next() {
		c := stream.Current()
		if len(c.Choices) > 0 && c.Choices[0].Delta.Content != "" {
			text.WriteString(c.Choices[0].Delta.Content)
			st.Step() // the stub writes the next chunk only now: order, not timing
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(text.String(), stub.Word(0)+stub.Word(1)) || st.Stalled() != 0 {
		t.Errorf("streamed %q with %d stalls (a chunk the client never saw until the end)", text.String(), st.Stalled())
	}
	if got := st.Last().Header.Get("Authorization"); got != "Bearer "+upstreamKey {
		t.Errorf("upstream Authorization = %q", got)
	}
	refusesBrowsers(t, addr, st)
	_ = p.Cmd.Process.Signal(os.Interrupt)
	<-p.Done
	out := p.Output.String()
	if !strings.Contains(out, `"msg":"listening"`) {
		t.Errorf("no JSON listening line in output:\n%s", out)
	}
	if strings.Contains(out, upstreamKey) {
		t.Errorf("the key appears in the process output:\n%s", out)
	}
}

// refusesBrowsers: a web page's cross-site text/plain POST (no CORS
// preflight needed) and a DNS-rebound Host get a 403 from the local
// binary, and nothing reaches the upstream.
func refusesBrowsers(t *testing.T, addr string, st *stub.Server) {
	t.Helper()
	before := len(st.Requests())
	for name, set := range map[string]func(*http.Request){
		"cross-site": func(r *http.Request) {
			r.Header.Set("Origin", "https://evil.example")
			r.Header.Set("Sec-Fetch-Site", "cross-site")
		},
		"rebinding": func(r *http.Request) { r.Host = "evil.example:" + strings.Split(addr, ":")[1] },
	} {
		r, _ := http.NewRequest("POST", "http://"+addr+"/gpt-4o-mini/chat/completions", strings.NewReader(chatBody))
		r.Header.Set("Content-Type", "text/plain")
		set(r)
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("%s browser request: status %d, want 403", name, res.StatusCode)
		}
	}
	if n := len(st.Requests()) - before; n != 0 {
		t.Errorf("%d browser requests reached the upstream", n)
	}
}

// With no config file the embedded default (the seed's route) is used, and
// it says plainly when OPENAI_API_KEY is missing.
func TestLocalServerEmbeddedDefault(t *testing.T) {
	bin := binary.Build(t)
	p := binary.Start(t, bin, "AIPROXY_LISTEN="+binary.FreeAddr(t))
	select {
	case err := <-p.Done:
		if err == nil || !strings.Contains(p.Output.String(), "OPENAI_API_KEY is not set") {
			t.Errorf("exit %v, output:\n%s", err, p.Output)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("started without a key")
	}

	addr := binary.FreeAddr(t)
	p = binary.Start(t, bin, "AIPROXY_LISTEN="+addr, "OPENAI_API_KEY="+upstreamKey)
	p.WaitListening(t, addr)
	res, err := http.Post("http://"+addr+"/chat/completions", "application/json", bytes.NewReader([]byte(chatBody)))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("seed route: /chat/completions gave %d, want 404", res.StatusCode)
	}
	if strings.Contains(p.Output.String(), upstreamKey) {
		t.Errorf("the key appears in the process output")
	}
}

// The local server runs from SSM-held config and key as the function does.
func TestLocalServerFromSSM(t *testing.T) {
	bin := binary.Build(t)
	st := stub.New()
	upstream := httptest.NewServer(st)
	defer upstream.Close()
	moto := motoserver.Start(t)
	moto.Put(t, "/aiproxy/openai-api-key", upstreamKey, true)
	moto.Put(t, "/aiproxy/config", stub.PluginConfig(upstream.URL+"/v1/chat/completions", "Bearer {vault://ssm/aiproxy/openai-api-key}"), false)
	addr := binary.FreeAddr(t)
	p := binary.Start(t, bin, append(moto.Environ(), "AIPROXY_CONFIG_PARAMETER=/aiproxy/config", "AIPROXY_LISTEN="+addr)...)
	p.WaitListening(t, addr)
	client := openai.NewClient(option.WithBaseURL("http://"+addr+"/gpt-4o"), option.WithAPIKey("client"), option.WithMaxRetries(0))
	if _, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: userMessage("hi")}); err != nil {
		t.Fatal(err)
	}
	if got := st.Last().Header.Get("Authorization"); got != "Bearer "+upstreamKey {
		t.Errorf("upstream Authorization = %q", got)
	}
	if strings.Contains(p.Output.String(), upstreamKey) {
		t.Errorf("the key appears in the process output")
	}
}
