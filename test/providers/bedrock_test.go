package providers

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/bedrockstub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/binary"
)

// bedrockConfig is a Kong ai-proxy config for Bedrock as it moves over
// from Kong: the model from the path, the region in the options, no auth
// block (the SDK's default chain: here the environment's stub keys).
const bedrockConfig = `
route_type: llm/v1/chat
logging: {log_statistics: true, log_payloads: false}
model:
  provider: bedrock
  name: "$(uri_captures.model)"
  options:
    bedrock: {aws_region: us-east-1}
`

type bedrockEnv struct {
	stub *bedrockstub.Server
	proc *binary.Process
	base string
}

// startBedrock runs the Bedrock stub and the real binary pointed at it
// through AWS_ENDPOINT_URL_BEDROCK_RUNTIME, signing with the stub's keys
// from the environment (the SDK's default chain).
func startBedrock(t *testing.T, doc string, opts bedrockstub.Options, env ...string) *bedrockEnv {
	t.Helper()
	srv, endpoint, awsEnv := listenBedrock(t, opts)
	doc = strings.ReplaceAll(doc, "ENDPOINT", endpoint)
	p := binary.Serve(t, doc, append(awsEnv, env...)...)
	p.NeverLogs(t, srv.Options().SecretAccessKey)
	return &bedrockEnv{stub: srv, proc: p, base: "http://" + p.Addr}
}

// listenBedrock runs the Bedrock stub; awsEnv points a binary's AWS SDK
// at it (AWS_ENDPOINT_URL_BEDROCK_RUNTIME) with the stub's keys in the
// environment and no other source of credentials or retries.
func listenBedrock(t *testing.T, opts bedrockstub.Options) (srv *bedrockstub.Server, endpoint string, awsEnv []string) {
	t.Helper()
	srv = bedrockstub.New(opts)
	endpoint = srv.ListenT(t)
	return srv, endpoint, srv.Env(endpoint)
}

func (e *bedrockEnv) client(model string) openai.Client {
	return openai.NewClient(option.WithBaseURL(e.base+"/"+model), option.WithAPIKey("client-key"), option.WithMaxRetries(0))
}

func TestBedrockText(t *testing.T) {
	e := startBedrock(t, bedrockConfig, bedrockstub.Options{})
	c := e.client("anthropic.claude-3-5-haiku-20241022-v1:0")
	res, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "anthropic.claude-3-5-haiku-20241022-v1:0", Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("be brief"), openai.UserMessage("hi")},
		MaxTokens: openai.Int(100), Temperature: openai.Float(0.5),
		Stop: openai.ChatCompletionNewParamsStopUnion{OfString: openai.String("END")},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "Answer from anthropic.claude-3-5-haiku-20241022-v1:0."
	if got := res.Choices[0].Message.Content; got != want || res.Choices[0].FinishReason != "stop" {
		t.Errorf("answer %q finish %q", got, res.Choices[0].FinishReason)
	}
	if !strings.HasPrefix(res.ID, "chatcmpl-") || res.Created == 0 || res.Model != "anthropic.claude-3-5-haiku-20241022-v1:0" {
		t.Errorf("id %q created %d model %q", res.ID, res.Created, res.Model)
	}
	if res.Usage.PromptTokens != bedrockstub.InputTokens {
		t.Errorf("usage %+v", res.Usage)
	}
	last := e.stub.Last()
	if last.Operation != "Converse" || !last.Signed || last.Converse == nil {
		t.Fatalf("stub saw %+v", last)
	}
	cv := last.Converse
	if len(cv.System) != 1 || *cv.System[0].Text != "be brief" || *cv.InferenceConfig.MaxTokens != 100 ||
		*cv.InferenceConfig.Temperature != 0.5 || cv.InferenceConfig.StopSequences[0] != "END" {
		t.Errorf("converse request %s", last.Body)
	}
}

// Streaming is proven by order: the stub writes event i+1 only after the
// client has seen the chunk of event i.
func TestBedrockStreamLockstep(t *testing.T) {
	e := startBedrock(t, bedrockConfig, bedrockstub.Options{})
	const n = 4
	model := fmt.Sprintf("stub.text.chunks-%d.lockstep", n)
	c := e.client(model)
	stream := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{Model: model, Messages: user("hi"),
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}})
	var acc openai.ChatCompletionAccumulator
	ids := map[string]bool{}
	words := 0
	sawUsage := false
	for stream.Next() {
		ch := stream.Current()
		acc.AddChunk(ch)
		ids[ch.ID] = true
		if len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != "" {
			if got := ch.Choices[0].Delta.Content; got != bedrockstub.Word(words) {
				t.Fatalf("chunk %d = %q", words, got)
			}
			words++
			if words == n {
				e.stub.Step() // contentBlockStop, which makes no chunk
				e.stub.Step() // messageStop
				continue
			}
		}
		if ch.JSON.Usage.Valid() && ch.Usage.TotalTokens > 0 {
			sawUsage = true
		}
		e.stub.Step()
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if words != n || len(ids) != 1 || !sawUsage {
		t.Errorf("words %d ids %v usage %v", words, ids, sawUsage)
	}
	if acc.Choices[0].FinishReason != "stop" || acc.Usage.PromptTokens != bedrockstub.InputTokens || acc.Usage.CompletionTokens != n {
		t.Errorf("finish %q usage %+v", acc.Choices[0].FinishReason, acc.Usage)
	}
	if e.stub.Last().Operation != "ConverseStream" {
		t.Errorf("operation %q", e.stub.Last().Operation)
	}
}

// Two parallel tool calls stream with text before them; openai-go's
// accumulator reassembles them exactly, and their results go back in one
// user turn matched by id.
func TestBedrockToolsRoundTrip(t *testing.T) {
	e := startBedrock(t, bedrockConfig, bedrockstub.Options{})
	c := e.client("stub.tools")
	tools := []openai.ChatCompletionToolUnionParam{
		openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{Name: "get_weather", Description: openai.String("weather"),
			Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}}}),
		openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{Name: "get_time",
			Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{"tz": map[string]any{"type": "string"}}}}),
	}
	params := openai.ChatCompletionNewParams{Model: "stub.tools", Messages: user("weather and time in Paris?"), Tools: tools,
		ToolChoice: openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")}}
	stream := c.Chat.Completions.NewStreaming(context.Background(), params)
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	msg := acc.Choices[0].Message
	if msg.Content != "Let me check." || acc.Choices[0].FinishReason != "tool_calls" || len(msg.ToolCalls) != 2 {
		t.Fatalf("accumulated %+v", acc.Choices[0])
	}
	want := [][3]string{{bedrockstub.ToolUseID1, "get_weather", `{"city":"Paris"}`}, {bedrockstub.ToolUseID2, "get_time", `{"tz":"Europe/Paris"}`}}
	for i, w := range want {
		tc := msg.ToolCalls[i]
		if tc.ID != w[0] || tc.Function.Name != w[1] || tc.Function.Arguments != w[2] {
			t.Errorf("tool call %d = %+v", i, tc)
		}
	}
	if tc := e.stub.Last().Converse.ToolConfig; tc == nil || len(tc.Tools) != 2 || string(tc.ToolChoice) != `{"any":{}}` || tc.Tools[1].ToolSpec.Description != "" {
		t.Errorf("toolConfig %+v", tc)
	}
	// Non-streamed, the same calls.
	res, err := c.Chat.Completions.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	if m := res.Choices[0].Message; m.Content != "Let me check." || len(m.ToolCalls) != 2 || m.ToolCalls[1].Function.Arguments != `{"tz":"Europe/Paris"}` || res.Choices[0].FinishReason != "tool_calls" {
		t.Errorf("non-streamed %+v", res.Choices[0])
	}

	// Round trip: the results, one plain text and one JSON.
	params.Messages = append(params.Messages, msg.ToParam(),
		openai.ToolMessage("18°C and sunny", bedrockstub.ToolUseID1),
		openai.ToolMessage(`{"time":"12:00"}`, bedrockstub.ToolUseID2))
	params.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{}
	params.Model = "stub.text"
	textClient := e.client("stub.text")
	_, err = textClient.Chat.Completions.New(context.Background(), params)
	if err != nil {
		var ae *openai.Error
		if errors.As(err, &ae) {
			t.Fatal(ae.RawJSON())
		}
		t.Fatal(err)
	}
	cv := e.stub.Last().Converse
	if len(cv.Messages) != 3 {
		t.Fatalf("%d messages: %s", len(cv.Messages), e.stub.Last().Body)
	}
	asst, results := cv.Messages[1], cv.Messages[2]
	if asst.Role != "assistant" || len(asst.Content) != 3 || asst.Content[0].Text == nil || asst.Content[2].ToolUse == nil ||
		asst.Content[2].ToolUse.ToolUseID != bedrockstub.ToolUseID2 || string(asst.Content[2].ToolUse.Input) != `{"tz":"Europe/Paris"}` {
		t.Errorf("assistant turn %s", e.stub.Last().Body)
	}
	if results.Role != "user" || len(results.Content) != 2 || results.Content[0].ToolResult.ToolUseID != bedrockstub.ToolUseID1 ||
		results.Content[1].ToolResult.ToolUseID != bedrockstub.ToolUseID2 {
		t.Errorf("results turn %s", e.stub.Last().Body)
	}
}

const pngDataURL = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

func TestBedrockImagesAndDocuments(t *testing.T) {
	e := startBedrock(t, bedrockConfig, bedrockstub.Options{})
	c := e.client("stub.text")
	parts := []openai.ChatCompletionContentPartUnionParam{
		openai.TextContentPart("what is this?"),
		openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: pngDataURL}),
		openai.FileContentPart(openai.ChatCompletionContentPartFileFileParam{FileData: openai.String("data:application/pdf;base64,JVBERi0xLjQK"), Filename: openai.String("Q3 report.v2.pdf")}),
	}
	_, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "stub.text",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(parts)}})
	if err != nil {
		t.Fatal(err)
	}
	blocks := e.stub.Last().Converse.Messages[0].Content
	if len(blocks) != 3 || blocks[1].Image == nil || blocks[1].Image.Format != "png" || blocks[2].Document == nil ||
		blocks[2].Document.Format != "pdf" || blocks[2].Document.Name != "Q3 report v2" {
		t.Errorf("blocks %s", e.stub.Last().Body)
	}
	// An image URL is a clear 400: the function fetches nothing for a client.
	_, err = c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "stub.text",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
			openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: "https://example.com/cat.png"})})}})
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Param != "messages[0].content[0].image_url.url" {
		t.Errorf("image URL: %v", err)
	}
}

func TestBedrockReasoningReplayAndCache(t *testing.T) {
	e := startBedrock(t, bedrockConfig, bedrockstub.Options{})
	model := "us.anthropic.claude-sonnet-4-20250514-v1:0"
	e.stub.Script(func(r bedrockstub.Request) *bedrockstub.Scenario {
		sc := e.stub.ScenarioFor("stub.reasoning")
		return &sc
	})
	c := e.client(model)
	params := openai.ChatCompletionNewParams{Model: model, Messages: user("think"), ReasoningEffort: "low", Temperature: openai.Float(0.2)}
	stream := c.Chat.Completions.NewStreaming(context.Background(), params)
	var reasoning, sig strings.Builder
	for stream.Next() {
		ch := stream.Current()
		if len(ch.Choices) == 0 {
			continue
		}
		var d struct {
			ReasoningContent string `json:"reasoning_content"`
			ThinkingBlocks   []struct {
				Signature string `json:"signature"`
			} `json:"thinking_blocks"`
		}
		_ = json.Unmarshal([]byte(ch.Choices[0].Delta.RawJSON()), &d)
		reasoning.WriteString(d.ReasoningContent)
		for _, b := range d.ThinkingBlocks {
			sig.WriteString(b.Signature)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if reasoning.String() != "The user wants words; answer briefly." || sig.String() != bedrockstub.ReasoningSignature {
		t.Errorf("reasoning %q signature %q", reasoning.String(), sig.String())
	}
	var sent struct {
		AdditionalModelRequestFields struct {
			Thinking struct {
				Type   string `json:"type"`
				Budget int    `json:"budget_tokens"`
			} `json:"thinking"`
		} `json:"additionalModelRequestFields"`
		InferenceConfig map[string]any `json:"inferenceConfig"`
	}
	_ = json.Unmarshal(e.stub.Last().Body, &sent)
	if th := sent.AdditionalModelRequestFields.Thinking; th.Type != "enabled" || th.Budget != 1024 || sent.InferenceConfig["temperature"] != nil ||
		sent.InferenceConfig["maxTokens"].(float64) <= 1024 {
		t.Errorf("thinking request %s", e.stub.Last().Body)
	}

	// Replay: the assistant turn carries reasoning_content and the signed block.
	asst := openai.AssistantMessage("tok0")
	asst.OfAssistant.SetExtraFields(map[string]any{"reasoning_content": reasoning.String(),
		"thinking_blocks": []map[string]string{{"type": "thinking", "signature": sig.String()}}})
	params.Messages = append(params.Messages, asst, openai.UserMessage("more"))
	if _, err := c.Chat.Completions.New(context.Background(), params); err != nil {
		t.Fatal(err)
	}
	var replay struct {
		Messages []struct {
			Content []struct {
				ReasoningContent *struct {
					ReasoningText struct{ Text, Signature string } `json:"reasoningText"`
				} `json:"reasoningContent"`
				Text *string `json:"text"`
			} `json:"content"`
		} `json:"messages"`
	}
	_ = json.Unmarshal(e.stub.Last().Body, &replay)
	if len(replay.Messages) != 3 || replay.Messages[1].Content[0].ReasoningContent == nil ||
		replay.Messages[1].Content[0].ReasoningContent.ReasoningText.Signature != bedrockstub.ReasoningSignature ||
		replay.Messages[1].Content[0].ReasoningContent.ReasoningText.Text != reasoning.String() || *replay.Messages[1].Content[1].Text != "tok0" {
		t.Errorf("replay %s", e.stub.Last().Body)
	}
}

// Usage follows Bedrock's arithmetic, and the statistics line shows it.
func TestBedrockCacheUsageInStatistics(t *testing.T) {
	e := startBedrock(t, bedrockConfig, bedrockstub.Options{})
	c := e.client("stub.cache")
	res, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "stub.cache", Messages: user("hi")})
	if err != nil {
		t.Fatal(err)
	}
	prompt := int64(bedrockstub.InputTokens + 100 + 50)
	if res.Usage.PromptTokens != prompt || res.Usage.PromptTokensDetails.CachedTokens != 100 || res.Usage.TotalTokens != prompt+5 {
		t.Errorf("usage %s", res.Usage.RawJSON())
	}
	stream := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{Model: "stub.cache", Messages: user("hi")})
	for stream.Next() {
		if ch := stream.Current(); ch.JSON.Usage.Valid() && ch.Usage.TotalTokens > 0 {
			t.Errorf("a usage chunk the client did not ask for: %s", ch.RawJSON())
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	lines := bedrockStatLines(t, e.proc, 2)
	for i, l := range lines {
		u := l["ai"].(map[string]any)["proxy"].(map[string]any)["usage"].(map[string]any)
		if u["prompt_tokens"] != float64(prompt) || u["completion_tokens"] != 5.0 || u["total_tokens"] != float64(prompt+5) {
			t.Errorf("statistics line %d usage %v", i, u)
		}
	}
}

// bedrockStatLines waits for n statistics lines in the binary's output.
func bedrockStatLines(t *testing.T, p *binary.Process, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var out []map[string]any
		sc := bufio.NewScanner(strings.NewReader(p.Output.String()))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				if ai, ok := m["ai"].(map[string]any); ok && ai["proxy"] != nil {
					out = append(out, m)
				}
			}
		}
		if len(out) >= n || time.Now().After(deadline) {
			if len(out) < n {
				t.Fatalf("%d statistics lines, want %d:\n%s", len(out), n, p.Output)
			}
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestBedrockErrorsBeforeFirstByte(t *testing.T) {
	e := startBedrock(t, bedrockConfig, bedrockstub.Options{})
	cases := []struct {
		model  string
		status int
		typ    string
	}{
		{"stub.error-validation", 400, "invalid_request_error"},
		{"stub.error-access", 403, "permission_error"},
		{"stub.error-notfound", 404, "not_found_error"},
		{"stub.error-throttle", 429, "rate_limit_error"},
		{"stub.error-notready", 503, "server_error"},
		{"stub.error-timeout", 504, "server_error"},
		{"stub.error-unavailable", 503, "server_error"},
		{"stub.error-internal", 500, "server_error"},
	}
	for _, tc := range cases {
		for _, streamed := range []bool{false, true} {
			c := e.client(tc.model)
			params := openai.ChatCompletionNewParams{Model: tc.model, Messages: user("hi")}
			var err error
			if streamed {
				s := c.Chat.Completions.NewStreaming(context.Background(), params)
				for s.Next() {
					t.Errorf("%s: a chunk before the error", tc.model)
				}
				err = s.Err()
			} else {
				_, err = c.Chat.Completions.New(context.Background(), params)
			}
			var ae *openai.Error
			if !errors.As(err, &ae) || ae.StatusCode != tc.status || ae.Type != tc.typ || !strings.Contains(ae.Message, "Bedrock") {
				t.Errorf("%s (stream %v): %v", tc.model, streamed, err)
			}
		}
	}
}

// After the first byte, a Bedrock exception or a cut stream is an error
// event and no [DONE], never a clean end.
func TestBedrockErrorsAfterFirstByte(t *testing.T) {
	e := startBedrock(t, bedrockConfig, bedrockstub.Options{})
	for _, model := range []string{"stub.error-midstream", "stub.cut"} {
		status, s := postJSON(t, e.base+"/"+model+"/chat/completions", `{"model":"`+model+`","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		if status != 200 || !strings.Contains(s, bedrockstub.Word(0)) || !strings.Contains(s, `"error"`) || strings.Contains(s, "[DONE]") {
			t.Errorf("%s: %d\n%s", model, status, s)
		}
		// The SDK sees it too.
		c := e.client(model)
		st := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{Model: model, Messages: user("hi")})
		for st.Next() {
		}
		if st.Err() == nil {
			t.Errorf("%s: the SDK saw a clean end", model)
		}
	}
}

// A wrongly signed call fails: the configured secret is wrong, Bedrock
// refuses the signature, the client gets a 403 that never shows the secret.
func TestBedrockWrongSecret(t *testing.T) {
	doc := strings.Replace(bedrockConfig, "route_type: llm/v1/chat", "route_type: llm/v1/chat\nauth: {aws_access_key_id: AKIDBEDROCKSTUB, aws_secret_access_key: not-the-secret}", 1)
	e := startBedrock(t, doc, bedrockstub.Options{})
	c := e.client("stub.text")
	_, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "stub.text", Messages: user("hi")})
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != 403 || strings.Contains(ae.RawJSON(), "not-the-secret") {
		t.Fatalf("wrong secret: %v", err)
	}
	if e.stub.Refused() != 1 || e.stub.Signed() != 0 {
		t.Errorf("signed %d refused %d", e.stub.Signed(), e.stub.Refused())
	}
}

// Parallel streams on one cached client (run with -race).
func TestBedrockParallelStreams(t *testing.T) {
	e := startBedrock(t, bedrockConfig, bedrockstub.Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			model := "stub.text.chunks-20"
			c := e.client(model)
			s := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{Model: model, Messages: user("hi")})
			var b strings.Builder
			for s.Next() {
				if ch := s.Current(); len(ch.Choices) > 0 {
					b.WriteString(ch.Choices[0].Delta.Content)
				}
			}
			if s.Err() != nil || !strings.HasPrefix(b.String(), "tok0 tok1") || !strings.HasSuffix(b.String(), "tok19 ") {
				errs <- fmt.Errorf("stream: %v %q", s.Err(), b.String())
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Refusals happen before any call: what cannot be mapped is a 400 naming
// the field.
func TestBedrockRefusals(t *testing.T) {
	e := startBedrock(t, bedrockConfig, bedrockstub.Options{})
	cases := map[string]string{
		`{"messages":[{"role":"user","content":"hi"}],"n":2}`:                                                        "n",
		`{"messages":[{"role":"user","content":"hi"}],"logprobs":true}`:                                              "logprobs",
		`{"messages":[{"role":"user","content":"hi"}],"seed":1}`:                                                     "seed",
		`{"messages":[{"role":"user","content":"hi"}],"reasoning_effort":"high"}`:                                    "reasoning_effort",
		`{"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_object"}}`:                     "response_format",
		`{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"","format":"wav"}}]}]}`: "messages[0].content[0].type",
		`{"messages":[{"role":"user","content":"hi"},{"role":"tool","tool_call_id":"nope","content":"x"}]}`:          "messages[1].tool_call_id",
	}
	for body, param := range cases {
		res, err := http.Post(e.base+"/amazon.nova-lite-v1:0/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var er struct {
			Error struct{ Param string } `json:"error"`
		}
		_ = json.Unmarshal(b, &er)
		if res.StatusCode != 400 || er.Error.Param != param {
			t.Errorf("%s: %d %s", body, res.StatusCode, b)
		}
	}
	for _, model := range []string{".", ".."} {
		res, err := http.Post(e.base+"/"+model+"/chat/completions", "application/json", strings.NewReader(`{"messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode < 400 {
			t.Errorf("model %q: %d", model, res.StatusCode)
		}
	}
	if n := len(e.stub.Requests()); n != 0 {
		t.Errorf("%d calls reached Bedrock", n)
	}
}

// Without input_cost/output_cost in the config, a Bedrock model is costed
// at the driver's list prices, and the statistics line shows that cost.
func TestBedrockListPriceInStatistics(t *testing.T) {
	e := startBedrock(t, bedrockConfig, bedrockstub.Options{})
	const model = "anthropic.claude-3-5-haiku-20241022-v1:0"
	c := e.client(model)
	res, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: model, Messages: user("hi")})
	if err != nil {
		t.Fatal(err)
	}
	want := (float64(res.Usage.PromptTokens)*0.80 + float64(res.Usage.CompletionTokens)*4.00) / 1e6
	u := bedrockStatLines(t, e.proc, 1)[0]["ai"].(map[string]any)["proxy"].(map[string]any)["usage"].(map[string]any)
	if got, _ := u["cost"].(float64); want == 0 || got < want*0.999 || got > want*1.001 {
		t.Errorf("statistics cost = %v, want %v (list price of %s)", u["cost"], want, model)
	}
}

// bedrockSlashConfig is the route of docs/providers/bedrock.md for model
// ids with '/' (inference-profile ARNs): the capture takes slashes.
const bedrockSlashConfig = `
_format_version: "3.0"
routes:
- name: bedrock-any
  paths: ["~/(?<model>.+)/chat/completions$"]
  plugins:
  - name: ai-proxy
    config:
      route_type: llm/v1/chat
      model:
        provider: bedrock
        name: "$(uri_captures.model)"
        options:
          bedrock: {aws_region: us-east-1}
`

// Model ids with ':' and inference-profile ARNs with '/' work in the path
// and through the template, escaped or not: through openai-go's base URL
// and through a raw HTTP request, Bedrock is asked for exactly that id.
func TestBedrockARNInPath(t *testing.T) {
	e := startBedrock(t, bedrockSlashConfig, bedrockstub.Options{})
	const arn = "arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.amazon.nova-lite-v1:0"
	const haiku = "anthropic.claude-3-5-haiku-20241022-v1:0"
	escaped := func(s string) string {
		return strings.NewReplacer(":", "%3A", "/", "%2F").Replace(s)
	}
	for _, tc := range []struct {
		name, model, path string
	}{
		{"arn plain", arn, arn},
		{"arn escaped", arn, escaped(arn)},
		{"arn slash escaped", arn, strings.ReplaceAll(arn, "/", "%2F")},
		{"arn colons escaped", arn, strings.ReplaceAll(arn, ":", "%3A")},
		{"model id plain", haiku, haiku},
		{"model id escaped", haiku, escaped(haiku)},
	} {
		t.Run(tc.name+" sdk", func(t *testing.T) {
			c := openai.NewClient(option.WithBaseURL(e.base+"/"+tc.path), option.WithAPIKey("client-key"), option.WithMaxRetries(0))
			res, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: tc.model, Messages: user("hi")})
			if err != nil {
				t.Fatal(err)
			}
			if got := e.stub.Last().ModelID; got != tc.model {
				t.Errorf("Bedrock was asked for %q (sent as %s), want %q", got, e.stub.Last().RawPath, tc.model)
			}
			if res.Model != tc.model {
				t.Errorf("answer model %q", res.Model)
			}
			// Escaped in Bedrock's own path: one path segment.
			if raw := e.stub.Last().RawPath; strings.Count(raw, "/") != 3 {
				t.Errorf("Bedrock's path %s is not /model/{escaped id}/converse", raw)
			}
		})
		t.Run(tc.name+" raw", func(t *testing.T) {
			// No model in the body: the path alone names it.
			if status, body := postJSON(t, e.base+"/"+tc.path+"/chat/completions", `{"messages":[{"role":"user","content":"hi"}]}`); status != 200 {
				t.Fatalf("%d %s", status, body)
			}
			if got := e.stub.Last().ModelID; got != tc.model {
				t.Errorf("Bedrock was asked for %q (sent as %s), want %q", got, e.stub.Last().RawPath, tc.model)
			}
		})
	}
}
