package failover

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/bedrockstub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/binary"
)

// throttleInStream is a Bedrock model id the stub (scripted below)
// answers with a 200 event stream whose first event after messageStart is
// a ThrottlingException: no content reached the client yet.
const throttleInStream = "stub.throttle-in-stream"

// mixedConfig has one route per case, each an ai-proxy-advanced whose
// targets are the OpenAI stub and the real Bedrock driver (priority: the
// first listed is the heavier, tried first). The Bedrock model id picks
// the stub's behaviour; the OpenAI model name the OpenAI stub's (SetFault).
func mixedConfig(openaiURL string) string {
	openai := func(model string, weight int) string {
		return fmt.Sprintf(`
      - route_type: llm/v1/chat
        weight: %d
        auth: {header_name: Authorization, header_value: "Bearer sk-%s"}
        logging: {log_statistics: true}
        model: {provider: openai, name: %s, options: {upstream_url: "%s/v1/chat/completions"}}`, weight, model, model, openaiURL)
	}
	bedrock := func(model string, weight int) string {
		return fmt.Sprintf(`
      - route_type: llm/v1/chat
        weight: %d
        logging: {log_statistics: true}
        model: {provider: bedrock, name: "%s", options: {bedrock: {aws_region: us-east-1}}}`, weight, model)
	}
	doc := "_format_version: \"3.0\"\nroutes:\n"
	var plugins string
	for _, r := range []struct{ name, targets string }{
		{"openai-first", openai("primary", 100) + bedrock("stub.text", 1)},
		{"bedrock-throttled", bedrock("stub.error-throttle", 100) + openai("secondary", 1)},
		{"bedrock-unavailable", bedrock("stub.error-unavailable", 100) + openai("secondary", 1)},
		{"bedrock-stream-throttled", bedrock(throttleInStream, 100) + openai("secondary", 1)},
		{"bedrock-midstream", bedrock("stub.error-midstream", 100) + openai("secondary", 1)},
	} {
		doc += "  - {name: " + r.name + ", paths: [/" + r.name + "]}\n"
		plugins += `  - name: ai-proxy-advanced
    route: ` + r.name + `
    config:
      balancer: {algorithm: priority, failover_criteria: ` + criteria + `}
      targets:` + r.targets + "\n"
	}
	return doc + "plugins:\n" + plugins
}

// Issue 23's done-criterion: a config with OpenAI and Bedrock targets
// keeps answering openai-go while either fails, streamed and not; after
// content has reached the client, a failure is an error event, never a
// second answer spliced in.
func TestOpenAIAndBedrock(t *testing.T) {
	up, url := upstream(t)
	br := bedrockstub.New(bedrockstub.Options{})
	br.Script(func(r bedrockstub.Request) *bedrockstub.Scenario {
		if r.ModelID != throttleInStream {
			return nil
		}
		// Non-streamed, Converse answers the throttle as its status.
		sc := bedrockstub.Scenario{Error: bedrockstub.ErrThrottling("Too many tokens, please wait before trying again.")}
		if r.Operation == "ConverseStream" {
			sc = bedrockstub.Scenario{StreamError: sc.Error}
		}
		return &sc
	})
	endpoint := br.ListenT(t)
	// The SDK keeps its default retries here (the stub's environment
	// turns them off): a chain attempt must make one call all the same.
	var env []string
	for _, e := range br.Env(endpoint) {
		if !strings.HasPrefix(e, "AWS_MAX_ATTEMPTS=") {
			env = append(env, e)
		}
	}
	p := binary.Serve(t, mixedConfig(url), env...)
	p.NeverLogs(t, br.Options().SecretAccessKey)
	routeClient := func(route string) openai.Client {
		return openai.NewClient(option.WithBaseURL("http://"+p.Addr+"/"+route), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	}
	words := "tok0 tok1 tok2 tok3 tok4 "
	// ask asks route once non-streamed and once streamed and checks that
	// target (provider/model) answered both, with the whole text.
	ask := func(t *testing.T, route, target string) {
		t.Helper()
		c := routeClient(route)
		var res *http.Response
		// The model every SDK sends: each target's own replaces it.
		params := openai.ChatCompletionNewParams{Model: "gpt-4.1-mini", Messages: msgs()}
		cc, err := c.Chat.Completions.New(context.Background(), params, option.WithResponseInto(&res))
		if err != nil {
			t.Fatalf("non-streamed: %v", err)
		}
		if got := res.Header.Get("X-Kong-LLM-Model"); got != target || cc.Choices[0].Message.Content != words || cc.Choices[0].FinishReason != "stop" {
			t.Fatalf("non-streamed: answered by %q: %q %q", got, cc.Choices[0].Message.Content, cc.Choices[0].FinishReason)
		}
		stream := c.Chat.Completions.NewStreaming(context.Background(), params, option.WithResponseInto(&res))
		var acc openai.ChatCompletionAccumulator
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil {
			t.Fatalf("streamed: %v", err)
		}
		if got := res.Header.Get("X-Kong-LLM-Model"); got != target || acc.Choices[0].Message.Content != words || acc.Choices[0].FinishReason != "stop" {
			t.Fatalf("streamed: answered by %q: %q %q", got, acc.Choices[0].Message.Content, acc.Choices[0].FinishReason)
		}
	}
	// attempts waits for n statistics lines naming target as the answer
	// after a failed attempt on first (with its status).
	attempts := func(t *testing.T, target, first string, status, n int) {
		t.Helper()
		waitOutput(t, p, fmt.Sprintf(`"target":%q,"attempts":[{"target":%q,"status":%d`, target, first, status), n)
	}

	t.Run("openai 429 and 503, bedrock answers", func(t *testing.T) {
		ask(t, "openai-first", "openai/primary") // healthy: the primary
		for _, fault := range []string{"fault-429", "fault-503"} {
			up.SetFault("primary", fault)
			ask(t, "openai-first", "bedrock/stub.text")
			status := 429
			if fault == "fault-503" {
				status = 503
			}
			attempts(t, "1:bedrock/stub.text", "0:openai/primary", status, 2)
		}
		up.SetFault("primary", "")
		ask(t, "openai-first", "openai/primary")
	})
	t.Run("bedrock throttled or unavailable, openai answers", func(t *testing.T) {
		ask(t, "bedrock-throttled", "openai/secondary")
		attempts(t, "1:openai/secondary", "0:bedrock/stub.error-throttle", 429, 2)
		// One call per attempt: the SDK retried nothing behind the chain.
		if n := calls(br, "stub.error-throttle"); n != 2 {
			t.Fatalf("the throttled Bedrock was called %d times for two requests", n)
		}
		ask(t, "bedrock-unavailable", "openai/secondary")
		attempts(t, "1:openai/secondary", "0:bedrock/stub.error-unavailable", 503, 2)
	})
	t.Run("bedrock throttled inside the stream before content", func(t *testing.T) {
		ask(t, "bedrock-stream-throttled", "openai/secondary")
		// Non-streamed, Converse's 429; streamed, the stream's
		// ThrottlingException before content: a throttle too (http_429),
		// so that failover_criteria without "error" still fail over.
		attempts(t, "1:openai/secondary", "0:bedrock/"+throttleInStream, 429, 2)
		waitOutput(t, p, `"attempts":[{"target":"0:bedrock/`+throttleInStream+`","status":429,"outcome":"http_429"`, 2)
	})
	t.Run("bedrock fails after content: an error event, no splice", func(t *testing.T) {
		before := up.Hits("secondary")
		req, _ := http.NewRequest(http.MethodPost, "http://"+p.Addr+"/bedrock-midstream/chat/completions",
			strings.NewReader(`{"stream":true,"messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		s := string(body)
		if res.StatusCode != 200 || res.Header.Get("X-Kong-LLM-Model") != "bedrock/stub.error-midstream" ||
			!strings.Contains(s, `"content":"tok0 "`) || !strings.Contains(s, `data: {"error":`) || strings.Contains(s, "[DONE]") {
			t.Fatalf("%d %s\n%s", res.StatusCode, res.Header.Get("X-Kong-LLM-Model"), s)
		}
		if n := up.Hits("secondary") - before; n != 0 {
			t.Fatalf("the secondary was asked %d times after content had been sent", n)
		}
		// openai-go sees the text, then the provider's error.
		mid := routeClient("bedrock-midstream")
		stream := mid.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{Messages: msgs()})
		var text string
		for stream.Next() {
			if ch := stream.Current(); len(ch.Choices) > 0 {
				text += ch.Choices[0].Delta.Content
			}
		}
		if stream.Err() == nil || !strings.HasPrefix(text, "tok0 ") {
			t.Fatalf("text %q then %v", text, stream.Err())
		}
	})
}

// calls counts the requests the Bedrock stub had for model.
func calls(br *bedrockstub.Server, model string) int {
	n := 0
	for _, r := range br.Requests() {
		if r.ModelID == model {
			n++
		}
	}
	return n
}

func msgs() []openai.ChatCompletionMessageParamUnion {
	return []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}
}
