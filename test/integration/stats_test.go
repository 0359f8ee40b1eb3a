package integration

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

const costConfig = `
route_type: llm/v1/chat
auth: {header_name: Authorization, header_value: Bearer KEY}
logging: {log_statistics: true, log_payloads: true}
model:
  provider: openai
  name: "$(uri_captures.model)"
  options: {upstream_url: UPSTREAM/v1/chat/completions, input_cost: 2.5, output_cost: 10}
`

// A streamed and a non-streamed request each produce a statistics line with
// the upstream's real token counts (Kong logs zeros for streams) and an EMF
// record.
func TestStatisticsForStreamAndNonStream(t *testing.T) {
	e := newEnv(t, costConfig)
	client := e.client("gpt-4o", option.WithHeader("X-Stub-Chunks", "7"))
	if _, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: userMessage("secret-free prompt")}); err != nil {
		t.Fatal(err)
	}
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: userMessage("hi")})
	for stream.Next() {
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}

	reqs := waitLines(t, e.logs, "request", 2)
	if len(reqs) != 2 {
		t.Fatalf("%d request lines, want 2:\n%s", len(reqs), e.logs)
	}
	for i, l := range reqs {
		wantStream := i == 1
		if l["stream"] != wantStream || l["status"] != 200.0 || l["route"] != "default" {
			t.Errorf("line %d: %v", i, l)
		}
		checks := map[string]any{
			"ai.proxy.meta.plugin_id":          "default",
			"ai.proxy.meta.provider_name":      "openai",
			"ai.proxy.meta.request_model":      "gpt-4o",
			"ai.proxy.meta.response_model":     "gpt-4o",
			"ai.proxy.usage.prompt_tokens":     float64(stub.PromptTokens),
			"ai.proxy.usage.completion_tokens": 7.0,
			"ai.proxy.usage.total_tokens":      float64(stub.PromptTokens + 7),
			"ai.proxy.usage.cost":              (float64(stub.PromptTokens)*2.5 + 7*10) / 1e6,
		}
		for p, want := range checks {
			if got := path(l, p); got != want {
				t.Errorf("line %d (stream=%v): %s = %v, want %v", i, wantStream, p, got, want)
			}
		}
		if path(l, "ai.proxy.meta.llm_latency") == nil || path(l, "ai.proxy.meta.time_to_first_token") == nil {
			t.Errorf("line %d: no latency fields: %v", i, l)
		}
		if !strings.Contains(path(l, "ai.proxy.payload.request").(string), "messages") {
			t.Errorf("line %d: log_payloads without the request payload", i)
		}
	}
	if resp := path(reqs[0], "ai.proxy.payload.response").(string); !strings.Contains(resp, stub.Word(6)) {
		t.Errorf("non-streamed response payload = %q", resp)
	}

	emf := waitLines(t, e.emf, "", 2)
	if len(emf) != 2 {
		t.Fatalf("%d EMF records, want 2", len(emf))
	}
	for i, m := range emf {
		ns := path(m, "_aws.CloudWatchMetrics").([]any)[0].(map[string]any)["Namespace"]
		if ns != "Test" || m["Route"] != "default" || m["Model"] != "gpt-4o" || m["Requests"] != 1.0 ||
			m["PromptTokens"] != float64(stub.PromptTokens) || m["CompletionTokens"] != 7.0 || m["Errors4xx"] != 0.0 ||
			m["Cost"] != (float64(stub.PromptTokens)*2.5+7*10)/1e6 {
			t.Errorf("EMF %d: %v", i, m)
		}
	}
}

func TestStatisticsForErrors(t *testing.T) {
	e := newEnv(t, seedConfig)
	_, _ = e.post(t, "/gpt-4o/chat/completions", `{"model":"o1","messages":[{"role":"user","content":"x"}]}`)
	_, _ = e.post(t, "/gpt-4o/chat/completions", chatBody, "X-Stub-Status", "500")
	reqs := waitLines(t, e.logs, "request", 2)
	if len(reqs) != 2 || reqs[0]["status"] != 400.0 || reqs[0]["error_code"] != "model_mismatch" || reqs[1]["status"] != 500.0 {
		t.Fatalf("request lines: %v", reqs)
	}
	emf := waitLines(t, e.emf, "", 2)
	if emf[0]["Errors4xx"] != 1.0 || emf[1]["Errors5xx"] != 1.0 {
		t.Errorf("EMF error classes: %v / %v", emf[0], emf[1])
	}
}

// The invented-model attack of the trust issue: 3000 model names on the
// seed's route (the model comes from the path), against the stub, which
// accepts and echoes any model. The EMF Model dimension stays bounded.
func TestMetricModelDimensionBounded(t *testing.T) {
	e := newEnv(t, seedConfig)
	const n = 3000
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				res, _ := e.post(t, fmt.Sprintf("/invented-%04d/chat/completions", i), chatBody)
				if res.StatusCode != 200 {
					t.Errorf("status %d", res.StatusCode)
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	emf := waitLines(t, e.emf, "", n)
	models := map[any]int{}
	for _, m := range emf {
		models[m["Model"]]++
	}
	if len(models) > stats.DefaultMaxModels+1 || models[stats.OtherModel] < n-stats.DefaultMaxModels {
		t.Errorf("%d distinct Model values for %d invented names (bound %d + %q); %d as %q",
			len(models), n, stats.DefaultMaxModels, stats.OtherModel, models[stats.OtherModel], stats.OtherModel)
	}
	// The statistics line still names the model the client asked for.
	if reqs := lines(t, e.logs, "request"); len(reqs) != n || !strings.HasPrefix(path(reqs[n-1], "ai.proxy.meta.request_model").(string), "invented-") {
		t.Errorf("%d request lines", len(reqs))
	}
}

// Consumer is a dimension only for a request a configured consumer made:
// a wrong key (whatever it claims) adds no Consumer value.
func TestMetricConsumerDimension(t *testing.T) {
	e := newEnv(t, keyAuthConfig())
	_, _ = e.post(t, "/gpt-4o/chat/completions", chatBody, "apikey", teamKey)
	_, _ = e.post(t, "/gpt-4o/chat/completions", chatBody, "apikey", "team-c-invented-key")
	emf := waitLines(t, e.emf, "", 2)
	dims := func(m map[string]any) string {
		return fmt.Sprint(path(m, "_aws.CloudWatchMetrics").([]any)[0].(map[string]any)["Dimensions"])
	}
	if emf[0]["Consumer"] != "team-a" || dims(emf[0]) != "[[Route Model] [Route] [Consumer]]" {
		t.Errorf("authenticated request: Consumer %v, dimensions %s", emf[0]["Consumer"], dims(emf[0]))
	}
	if emf[1]["Consumer"] != nil || dims(emf[1]) != "[[Route Model] [Route]]" || emf[1]["Errors4xx"] != 1.0 {
		t.Errorf("refused request: Consumer %v, dimensions %s", emf[1]["Consumer"], dims(emf[1]))
	}
}

// Payload logs never show a stranger's request (one that failed key-auth,
// here with the key in the body, so the body was read), and blank the
// client's key however the JSON spells it.
func TestPayloadLogsAndKeyAuth(t *testing.T) {
	cfg := strings.Replace(keyAuthConfig(), "config: {key_names: [apikey]}", "config: {key_names: [apikey], key_in_body: true}", 1)
	e := newEnv(t, cfg)
	res, _ := e.post(t, "/gpt-4o/chat/completions", `{"apikey":"team-c-invented-key","messages":[{"role":"user","content":"stranger-canary"}]}`)
	if res.StatusCode != 401 {
		t.Fatalf("status %d, want 401", res.StatusCode)
	}
	// The client's own key, spelled with JSON escapes inside its message.
	escaped := `te\u0061m-a-key-01234\u0035678\u0039`
	res, _ = e.post(t, "/gpt-4o/chat/completions", `{"apikey":"`+teamKey+`","messages":[{"role":"user","content":"my key is `+escaped+`"}]}`)
	if res.StatusCode != 200 {
		t.Fatalf("status %d, want 200", res.StatusCode)
	}
	reqs := waitLines(t, e.logs, "request", 2)
	if reqs[0]["status"] != 401.0 || path(reqs[0], "ai.proxy.payload") != nil || strings.Contains(e.logs.String(), "stranger-canary") {
		t.Errorf("a refused request's payload is logged: %v", reqs[0])
	}
	payload, _ := path(reqs[1], "ai.proxy.payload.request").(string)
	if !strings.Contains(payload, "my key is [REDACTED]") || strings.Contains(payload, "01234") {
		t.Errorf("client key not blanked in its escaped form: %q", payload)
	}
}
