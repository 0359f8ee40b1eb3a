package lambda_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/coherestub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/lambdatest"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/ollamastub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
)

// The providers of the compat drivers (Azure, Mistral, Llama2 in Ollama's
// format, Hugging Face, Cohere), each streamed through the real bootstrap
// and the test Runtime API from a Function URL event. Each test server
// writes its event i+1 only once the Runtime API has received the chunk
// made of event i (lockstep), so a stream completes only if the chunks
// leave the function as they arrive: proven by order, not by timing. The
// statistics line the function writes before it asks for its next
// invocation shows the provider's name and its own usage.

const (
	compatAzureKey   = "azure-key-lambda-5b1f0c2e"
	compatMistralKey = "mistral-key-lambda-77aa31"
	compatHFKey      = "hf_lambda_c0ffee1234"
	compatCohereKey  = "cohere-key-lambda-9d8e7f"
	compatOllamaKey  = "ollama-key-lambda-4242"
)

// azureGate is Azure OpenAI in front of the OpenAI stub: the deployment's
// path, the api-version and the key in api-key, or Azure's 404/401.
type azureGate struct {
	next               http.Handler
	path, version, key string
}

func (g azureGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path != g.path || r.URL.Query().Get("api-version") != g.version:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":"404","message":"Resource not found"}}`))
	case r.Header.Get("api-key") != g.key || r.Header.Get("Authorization") != "":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint."}}`))
	default:
		g.next.ServeHTTP(w, r)
	}
}

// compatStream is one provider's streamed case.
type compatStream struct {
	name     string
	model    string // in the event's path and body
	config   string // the plugin config; UPSTREAM is the test server's URL
	handler  http.Handler
	headers  map[string]string // added to the event (the OpenAI stub's steering)
	path     string            // the model in the event's path, when not model
	steps    []string          // in order: once each is in the client's body, the server may write its next event
	step     func()
	stalled  func() int64       // the test server's stalls, when it counts them
	want     []string           // in the client's body
	upstream func(t *testing.T) // what the test server must have received
	prompt   float64            // the provider's prompt tokens in the statistics
}

// contentMarks are the chunks carrying pieces, as the client sees them.
func contentMarks(pieces ...string) []string {
	out := make([]string, len(pieces))
	for i, p := range pieces {
		b, _ := json.Marshal(p)
		out[i] = `"content":` + string(b)
	}
	return out
}

func TestCompatProvidersStreamThroughRuntimeAPI(t *testing.T) {
	// The OpenAI stub writes chunk i+1 once told after chunk i, and
	// nothing waits after its last (tok3).
	lockstep := map[string]string{"x-stub-lockstep": "1", "x-stub-chunks": "4"}
	openaiSteps := contentMarks(stub.Word(0), stub.Word(1), stub.Word(2))
	openaiWords := contentMarks(stub.Word(0), stub.Word(3))

	azureUp := stub.New()
	mistralUp := stub.New()
	hfUp := stub.New()
	ollamaUp := ollamastub.New(compatOllamaKey)
	cohereUp := coherestub.New(compatCohereKey)
	// Ollama writes line i+1 (the last one: done, with the counts) once
	// told after line i; its first line makes the role chunk and piece 0.
	ollamaSteps := contentMarks(ollamastub.Pieces...)
	// Cohere waits before each event that makes a chunk but the first
	// (message-start: the role chunk), message-end included.
	cohereSteps := append([]string{`"role":"assistant"`}, contentMarks(coherestub.Pieces...)...)

	cases := []compatStream{
		{
			name: "azure", model: "gpt-4o-mini", headers: lockstep, steps: openaiSteps,
			handler: azureGate{next: azureUp, path: "/openai/deployments/dep1/chat/completions", version: "2024-10-21", key: compatAzureKey},
			config: `route_type: llm/v1/chat
logging: {log_statistics: true}
auth: {header_name: api-key, header_value: ` + compatAzureKey + `}
model:
  provider: azure
  name: "$(uri_captures.model)"
  options: {azure_instance: my-instance, azure_deployment_id: dep1, azure_api_version: "2024-10-21", upstream_url: "UPSTREAM/openai/deployments/dep1/chat/completions"}
`,
			step: azureUp.Step, stalled: azureUp.Stalled, want: openaiWords, prompt: stub.PromptTokens,
			upstream: func(t *testing.T) {
				last := azureUp.Last()
				if last.Path != "/openai/deployments/dep1/chat/completions" || last.Query != "api-version=2024-10-21" || !bytes.Contains(last.Body, []byte(`"stream":true`)) {
					t.Errorf("Azure got %s?%s %s", last.Path, last.Query, last.Body)
				}
			},
		},
		{
			name: "mistral", model: "mistral-small-latest", headers: lockstep, steps: openaiSteps,
			handler: mistralUp,
			config: `route_type: llm/v1/chat
logging: {log_statistics: true}
auth: {header_name: Authorization, header_value: "Bearer ` + compatMistralKey + `"}
model:
  provider: mistral
  name: "$(uri_captures.model)"
  options: {mistral_format: openai, upstream_url: "UPSTREAM/v1/chat/completions"}
`,
			step: mistralUp.Step, stalled: mistralUp.Stalled, want: openaiWords, prompt: stub.PromptTokens,
			upstream: func(t *testing.T) {
				last := mistralUp.Last()
				if last.Path != "/v1/chat/completions" || last.Header.Get("Authorization") != "Bearer "+compatMistralKey ||
					!bytes.Contains(last.Body, []byte(`"model":"mistral-small-latest"`)) {
					t.Errorf("Mistral got %s %v %s", last.Path, last.Header, last.Body)
				}
			},
		},
		{
			name: "llama2 ollama", model: "llama3+lockstep", steps: ollamaSteps,
			handler: ollamaUp,
			config: `route_type: llm/v1/chat
logging: {log_statistics: true}
auth: {header_name: Authorization, header_value: "Bearer ` + compatOllamaKey + `"}
model:
  provider: llama2
  name: "$(uri_captures.model)"
  options: {llama2_format: ollama, upstream_url: "UPSTREAM/api/chat"}
`,
			step: ollamaUp.Step, want: ollamaSteps, prompt: ollamastub.PromptTokens,
			upstream: func(t *testing.T) {
				last := ollamaUp.Last()
				if last.Path != "/api/chat" || !bytes.Contains(last.Body, []byte(`"model":"llama3+lockstep"`)) {
					t.Errorf("Ollama got %s %s", last.Path, last.Body)
				}
			},
		},
		{
			name: "huggingface", model: "meta-llama/Llama-3.1-8B-Instruct", path: "huggingface", headers: lockstep, steps: openaiSteps,
			handler: hfUp,
			config: `route_type: llm/v1/chat
logging: {log_statistics: true}
auth: {header_name: Authorization, header_value: "Bearer ` + compatHFKey + `"}
model:
  provider: huggingface
  name: meta-llama/Llama-3.1-8B-Instruct
  options: {upstream_url: "UPSTREAM/v1/chat/completions"}
`,
			step: hfUp.Step, stalled: hfUp.Stalled, want: openaiWords, prompt: stub.PromptTokens,
			upstream: func(t *testing.T) {
				last := hfUp.Last()
				if last.Path != "/v1/chat/completions" || last.Header.Get("Authorization") != "Bearer "+compatHFKey ||
					!bytes.Contains(last.Body, []byte(`"model":"meta-llama/Llama-3.1-8B-Instruct"`)) {
					t.Errorf("Hugging Face got %s %v %s", last.Path, last.Header, last.Body)
				}
			},
		},
		{
			name: "cohere", model: "command-a+lockstep", steps: cohereSteps,
			handler: cohereUp,
			config: `route_type: llm/v1/chat
logging: {log_statistics: true}
auth: {header_name: Authorization, header_value: "Bearer ` + compatCohereKey + `"}
model:
  provider: cohere
  name: "$(uri_captures.model)"
  options: {upstream_url: "UPSTREAM/v2/chat"}
`,
			step: cohereUp.Step, want: cohereSteps, prompt: coherestub.BilledInput,
			upstream: func(t *testing.T) {
				last := cohereUp.Last()
				if last.Path != "/v2/chat" || !bytes.Contains(last.Body, []byte(`"model":"command-a+lockstep"`)) || !bytes.Contains(last.Body, []byte(`"stream":true`)) {
					t.Errorf("Cohere got %s %s", last.Path, last.Body)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runCompatStream(t, tc)
		})
	}
}

func runCompatStream(t *testing.T, tc compatStream) {
	srv := httptest.NewServer(tc.handler)
	t.Cleanup(srv.Close)
	file := filepath.Join(t.TempDir(), "aiproxy.yaml")
	if err := os.WriteFile(file, []byte(strings.ReplaceAll(tc.config, "UPSTREAM", srv.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	api, atNext := startLogging(t, file, "STREAM")

	path := tc.path
	if path == "" {
		path = tc.model
	}
	event := compatEvent(t, path, tc.model, tc.headers)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Once the chunk of event i has reached the Runtime API the server
	// may write event i+1: never earlier.
	var seen []byte
	next := 0
	release := func(c lambdatest.Chunk) {
		seen = append(seen, c.Data...)
		for next < len(tc.steps) && bytes.Contains(seen, []byte(tc.steps[next])) {
			next++
			tc.step()
		}
	}
	res, err := api.InvokeStream(ctx, event, release)
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != nil {
		t.Fatalf("function error %s: %s", res.Error.Type, res.Error.Body)
	}
	if res.ContentType != lambdatest.StreamingContentType {
		t.Fatalf("content type %q, want a stream", res.ContentType)
	}
	if tc.stalled != nil && tc.stalled() != 0 {
		t.Errorf("the server waited in vain for a chunk to reach the Runtime API (%d stalls): the function buffered", tc.stalled())
	}
	p, body, err := res.Stream()
	if err != nil {
		t.Fatal(err)
	}
	if p.StatusCode != 200 || res.ErrorType() != "" {
		t.Fatalf("prelude %+v, error trailer %s %s; body %s", p, res.ErrorType(), res.ErrorBody(), body)
	}
	if !strings.HasSuffix(string(body), "data: [DONE]\n\n") || !strings.Contains(string(body), `"finish_reason":"stop"`) {
		t.Errorf("body %q: want a finished stream and [DONE]", body)
	}
	for _, s := range tc.want {
		if !strings.Contains(string(body), s) {
			t.Errorf("body lacks %q:\n%s", s, body)
		}
	}
	// The function forced include_usage on for itself: the client, who did
	// not ask, gets no usage chunk.
	if strings.Contains(string(body), `"usage":{`) {
		t.Errorf("a usage chunk reached a client that did not ask: %s", body)
	}
	for _, k := range []string{compatAzureKey, compatMistralKey, compatHFKey, compatCohereKey, compatOllamaKey} {
		if strings.Contains(string(body), k) {
			t.Errorf("a key in the answer: %s", body)
		}
	}
	tc.upstream(t)

	var out string
	select {
	case out = <-atNext:
	case <-ctx.Done():
		t.Fatal("the runtime never asked for its next invocation")
	}
	line := statsLine(out)
	if line == nil {
		t.Fatalf("no statistics line on stdout when the next invocation was fetched:\n%s", out)
	}
	provider := strings.Fields(tc.name)[0]
	if got := dig(line, "ai.proxy.meta.provider_name"); got != provider {
		t.Errorf("provider_name %v, want %s: %v", got, provider, line)
	}
	if got := dig(line, "ai.proxy.usage.prompt_tokens"); got != tc.prompt {
		t.Errorf("prompt_tokens %v, want the provider's %v: %v", got, tc.prompt, line)
	}
	if got, _ := dig(line, "ai.proxy.usage.completion_tokens").(float64); got <= 0 {
		t.Errorf("no completion tokens: %v", line)
	}
	if dig(line, "ai.proxy.usage.estimated") != nil {
		t.Errorf("the usage is an estimate, not the provider's: %v", line)
	}
	if dig(line, "stream") != true {
		t.Errorf("the statistics line does not say stream: %v", line)
	}
	for _, k := range []string{compatAzureKey, compatMistralKey, compatHFKey, compatCohereKey, compatOllamaKey} {
		if strings.Contains(out, k) {
			t.Errorf("a key in the function's output:\n%s", out)
		}
	}
}

// compatEvent is the Function URL streaming event for
// /{path}/chat/completions asking for model, with headers added.
func compatEvent(t *testing.T, path, model string, headers map[string]string) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(readEvent(t, "function-url-stream.json"), &ev); err != nil {
		t.Fatal(err)
	}
	path = "/" + path + "/chat/completions"
	ev["rawPath"] = path
	ev["requestContext"].(map[string]any)["http"].(map[string]any)["path"] = path
	body, _ := json.Marshal(map[string]any{"model": model, "stream": true, "messages": []any{map[string]any{"role": "user", "content": "Say hello"}}})
	ev["body"] = string(body)
	b, _ := json.Marshal(ev)
	if headers != nil {
		b = withHeaders(t, b, headers)
	}
	return b
}

// statsLine is the last statistics line in out, decoded.
func statsLine(out string) map[string]any {
	var line map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "request" {
			line = m
		}
	}
	return line
}

// dig is a decoded line's field by its dotted path.
func dig(m map[string]any, path string) any {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}
