package providers

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/binary"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/geministub"
)

const geminiKey = "AIza-e2e-gemini-key"

// geminiEnv runs the binary with the gemini provider pointed at a Gemini
// test server (upstream_url, the key in the key query parameter as
// Kong's configs put it) and returns an OpenAI client for it.
func geminiEnv(t *testing.T, lockstep bool) (*geministub.Server, openai.Client, *binary.Process) {
	t.Helper()
	stub := geministub.New(geministub.Options{APIKey: geminiKey, Lockstep: lockstep})
	base := stub.ListenT(t)
	cfg := `
route_type: llm/v1/chat
auth: {param_name: key, param_value: ` + geminiKey + `, param_location: query}
logging: {log_statistics: true}
model:
  provider: gemini
  name: gemini-2.5-flash
  options: {upstream_url: "` + base + `/v1beta/models/gemini-2.5-flash:generateContent"}
`
	p := binary.Serve(t, cfg)
	client := openai.NewClient(option.WithBaseURL("http://"+p.Addr+"/gemini-2.5-flash"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	return stub, client, p
}

func TestGeminiChat(t *testing.T) {
	stub, client, p := geminiEnv(t, false)
	ctx := context.Background()
	c, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gemini-2.5-flash", Messages: user("hi")})
	if err != nil {
		t.Fatal(err)
	}
	if c.Choices[0].Message.Content != strings.Join(geministub.TextPieces, "") || c.Choices[0].FinishReason != "stop" || c.Usage.PromptTokens != 11 || c.Usage.CompletionTokens != 7 {
		t.Fatalf("%+v", c)
	}
	last := stub.Last()
	if !strings.Contains(last.Query, "key="+geminiKey) || last.Path != "/v1beta/models/gemini-2.5-flash:generateContent" {
		t.Fatalf("%+v", last)
	}
	// The statistics line carries Gemini's real usage.
	waitOutput(t, p, `"prompt_tokens":11`)
	if strings.Contains(p.Output.String(), geminiKey) {
		t.Fatal("the key is in the logs")
	}

	// An image as a data URL goes as inlineData.
	_, err = client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gemini-2.5-flash", Messages: []openai.ChatCompletionMessageParamUnion{
		openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{openai.TextContentPart("what is it?"),
			openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: "data:image/png;base64,iVBORw0KGgo="})})}})
	if err != nil {
		t.Fatal(err)
	}
	parts := stub.Last().Decoded.Contents[0].Parts
	if len(parts) != 2 || parts[1].InlineData == nil || parts[1].InlineData.MIMEType != "image/png" {
		t.Fatalf("%+v", parts)
	}
	// An http image URL is refused before any call.
	n := len(stub.Requests())
	_, err = client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gemini-2.5-flash", Messages: []openai.ChatCompletionMessageParamUnion{
		openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: "https://example.com/a.png"})})}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || len(stub.Requests()) != n {
		t.Fatalf("%v", err)
	}
}

func TestGeminiStreamLockstep(t *testing.T) {
	stub, client, _ := geminiEnv(t, true)
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{Model: "gemini-2.5-flash", Messages: user("hi"),
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}})
	var got []string
	var usage openai.CompletionUsage
	for stream.Next() {
		ch := stream.Current()
		if len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != "" {
			got = append(got, ch.Choices[0].Delta.Content)
			// The stub writes the next event only now: this piece
			// reached the client before the next one existed.
			stub.Step()
		}
		if ch.Usage.TotalTokens > 0 {
			usage = ch.Usage
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "|") != strings.Join(geministub.TextPieces, "|") || usage.PromptTokens != 11 || usage.CompletionTokens != 7 {
		t.Fatalf("%q %+v", got, usage)
	}
}

func TestGeminiToolRoundTrip(t *testing.T) {
	stub, client, _ := geminiEnv(t, false)
	ctx := context.Background()
	tools := []openai.ChatCompletionToolUnionParam{
		openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{Name: "get_weather", Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "additionalProperties": false}}),
		openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{Name: "get_time"}),
	}
	stub.Next(geministub.ToolsScenario())
	params := openai.ChatCompletionNewParams{Model: "gemini-2.5-flash", Messages: user("weather and time in Paris?"), Tools: tools}
	stream := client.Chat.Completions.NewStreaming(ctx, params)
	acc := openai.ChatCompletionAccumulator{}
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	m := acc.Choices[0].Message
	if len(m.ToolCalls) != 2 || acc.Choices[0].FinishReason != "tool_calls" || m.Content != "Let me check both." {
		t.Fatalf("%+v", acc.ChatCompletion)
	}
	a, b := m.ToolCalls[0], m.ToolCalls[1]
	if a.Function.Name != "get_weather" || a.Function.Arguments != `{"city":"Paris","unit":"celsius"}` || b.Function.Name != "get_time" || b.Function.Arguments != `{"tz":"Europe/Paris"}` || a.ID == b.ID || !strings.HasPrefix(b.ID, "call_") {
		t.Fatalf("%+v", m.ToolCalls)
	}
	params.Messages = append(params.Messages, m.ToParam(), openai.ToolMessage("sunny, 20C", a.ID), openai.ToolMessage(`{"time":"12:00"}`, b.ID))
	c, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if c.Choices[0].Message.Content == "" {
		t.Fatalf("%+v", c)
	}
	d := stub.Last().Decoded
	model, results := d.Contents[1], d.Contents[2]
	if model.Role != "model" || len(model.Parts) != 3 || string(model.Parts[1].ThoughtSignature) != string(geministub.ToolSignature) ||
		len(results.Parts) != 2 || results.Parts[0].FunctionResponse.Name != "get_weather" || results.Parts[0].FunctionResponse.Response["result"] != "sunny, 20C" ||
		results.Parts[1].FunctionResponse.Response["time"] != "12:00" {
		t.Fatalf("replayed turn: %s", stub.Last().Body)
	}
	if d.Tools[0].FunctionDeclarations[0].ParametersJsonSchema == nil {
		t.Fatalf("%s", stub.Last().Body)
	}
}

func TestGeminiErrors(t *testing.T) {
	stub, client, _ := geminiEnv(t, false)
	ctx := context.Background()
	stub.Next(geministub.ScenarioFor("stub.error-429"))
	_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gemini-2.5-flash", Messages: user("hi")})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Code != "RESOURCE_EXHAUSTED" || apiErr.Response.Header.Get("Retry-After") != "17" {
		t.Fatalf("%v", err)
	}
	stub.Next(geministub.ScenarioFor("stub.error-500"))
	stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "gemini-2.5-flash", Messages: user("hi")})
	for stream.Next() {
	}
	if !errors.As(stream.Err(), &apiErr) || apiErr.StatusCode != 500 {
		t.Fatalf("%v", stream.Err())
	}
	stub.Next(geministub.ScenarioFor("stub.error-midstream"))
	stream = client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "gemini-2.5-flash", Messages: user("hi")})
	var text string
	for stream.Next() {
		if ch := stream.Current(); len(ch.Choices) > 0 {
			text += ch.Choices[0].Delta.Content
		}
	}
	if stream.Err() == nil || text != "Hello from" {
		t.Fatalf("%q %v", text, stream.Err())
	}
}

// waitOutput waits until the binary's output holds s (or it exits).
func waitOutput(t *testing.T, p *binary.Process, s string) {
	t.Helper()
	for i := 0; i < 500 && !strings.Contains(p.Output.String(), s); i++ {
		select {
		case err := <-p.Done:
			t.Fatalf("exited: %v\n%s", err, p.Output)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if !strings.Contains(p.Output.String(), s) {
		t.Fatalf("no %s in\n%s", s, p.Output)
	}
}
