package apis

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/bedrockstub"
	testbinary "github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/binary"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stubcore"
)

// bedrockConfig serves the Responses API from Bedrock, which has no such
// API: every request goes through the chat hub, statelessly. The model
// comes from the body.
const bedrockConfig = `
_format_version: "3.0"
routes:
  - name: responses
    paths: [/v1/responses]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/responses
          logging: {log_statistics: true}
          model: {provider: bedrock, options: {max_tokens: 512, bedrock: {aws_region: us-east-1}}}
`

type bedrockEnv struct {
	stub *bedrockstub.Server
	proc *testbinary.Process
	base string
}

// startBedrock runs the Bedrock stub and the binary serving doc pointed at
// it, signing with the stub's keys; the test fails if the AWS secret
// appears in the binary's output.
func startBedrock(t *testing.T, doc string) *bedrockEnv {
	t.Helper()
	srv := bedrockstub.New(bedrockstub.Options{})
	endpoint := srv.ListenT(t)
	p := testbinary.Serve(t, doc, srv.Env(endpoint)...)
	p.NeverLogs(t, srv.Options().SecretAccessKey)
	return &bedrockEnv{stub: srv, proc: p, base: "http://" + p.Addr}
}

func (e *bedrockEnv) client() openai.Client {
	return openai.NewClient(option.WithBaseURL(e.base+"/v1"), option.WithAPIKey("client-key"), option.WithMaxRetries(0))
}

func TestBedrockResponses(t *testing.T) {
	e := startBedrock(t, bedrockConfig)
	c := e.client()
	res, err := c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "stub.text.chunks-3",
		Instructions: openai.String("be brief"), Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")},
		MaxOutputTokens: openai.Int(1000), Store: openai.Bool(false)})
	if err != nil {
		t.Fatal(err)
	}
	if res.OutputText() != stubcore.Text(3) || res.Status != "completed" || res.Usage.InputTokens != bedrockstub.InputTokens || res.Usage.OutputTokens != 3 ||
		!strings.HasPrefix(res.ID, "resp_") || res.Object != "response" {
		t.Errorf("response %s", res.RawJSON())
	}
	cv := e.stub.Last().Converse
	if cv == nil || len(cv.System) != 1 || *cv.System[0].Text != "be brief" || *cv.InferenceConfig.MaxTokens != 512 {
		t.Errorf("converse %s", e.stub.Last().Body)
	}
}

// Streamed, proven by order: the Bedrock stub writes its event i+1 only
// after the client has seen the Responses event event i made.
func TestBedrockResponsesStreamLockstep(t *testing.T) {
	e := startBedrock(t, bedrockConfig)
	const n = 4
	c := e.client()
	stream := c.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{Model: "stub.text.chunks-4.lockstep",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}})
	var types []string
	deltas := 0
	var final responses.Response
	for stream.Next() {
		ev := stream.Current()
		types = append(types, ev.Type)
		switch ev.Type {
		case "response.in_progress":
			e.stub.Step() // messageStart made no event; release the first delta
		case "response.output_text.delta":
			if ev.Delta != bedrockstub.Word(deltas) {
				t.Fatalf("delta %d = %q", deltas, ev.Delta)
			}
			deltas++
			e.stub.Step()
			if deltas == n { // contentBlockStop released; messageStop, metadata
				e.stub.Step()
				e.stub.Step()
			}
		case "response.completed":
			final = ev.Response
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	want := "response.created,response.in_progress,response.output_item.added,response.content_part.added," +
		strings.Repeat("response.output_text.delta,", n) +
		"response.output_text.done,response.content_part.done,response.output_item.done,response.completed"
	if strings.Join(types, ",") != want {
		t.Errorf("events %v", types)
	}
	if final.OutputText() != stubcore.Text(n) || final.Usage.InputTokens != bedrockstub.InputTokens || final.Usage.OutputTokens != n {
		t.Errorf("final %s", final.RawJSON())
	}
	if e.stub.Stalled() != 0 {
		t.Error("a lockstep stream stalled: something buffered")
	}
}

// The function-call round trip through Converse: two parallel calls
// streamed with text before them, then their outputs sent back.
func TestBedrockResponsesFunctionCalls(t *testing.T) {
	e := startBedrock(t, bedrockConfig)
	c := e.client()
	tools := []responses.ToolUnionParam{
		responses.ToolParamOfFunction("get_weather", map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}}, false),
		responses.ToolParamOfFunction("get_time", map[string]any{"type": "object", "properties": map[string]any{"tz": map[string]any{"type": "string"}}}, false),
	}
	input := responses.ResponseInputParam{responses.ResponseInputItemParamOfMessage("weather and time in Paris?", responses.EasyInputMessageRoleUser)}
	stream := c.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{Model: "stub.tools", Tools: tools,
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: input}})
	var final responses.Response
	args := map[string]string{}
	for stream.Next() {
		ev := stream.Current()
		switch ev.Type {
		case "response.function_call_arguments.delta":
			args[ev.ItemID] += ev.Delta
		case "response.completed":
			final = ev.Response
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(final.Output) != 3 || final.Output[0].Type != "message" {
		t.Fatalf("output %s", final.RawJSON())
	}
	want := [][3]string{{bedrockstub.ToolUseID1, "get_weather", `{"city":"Paris"}`}, {bedrockstub.ToolUseID2, "get_time", `{"tz":"Europe/Paris"}`}}
	for i, w := range want {
		call := final.Output[i+1].AsFunctionCall()
		if call.CallID != w[0] || call.Name != w[1] || call.Arguments != w[2] || args[call.ID] != w[2] {
			t.Errorf("call %d = %+v (deltas %q)", i, call, args[call.ID])
		}
		input = append(input, responses.ResponseInputItemParamOfFunctionCall(call.Arguments, call.CallID, call.Name))
	}
	for i, out := range []string{"18°C and sunny", `{"time":"12:00"}`} {
		item := responses.ResponseInputItemParamOfFunctionCallOutput(out)
		item.OfFunctionCallOutput.CallID = openai.String(want[i][0])
		input = append(input, item)
	}
	res, err := c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "stub.text", Tools: tools,
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: input}})
	if err != nil {
		t.Fatal(err)
	}
	if res.OutputText() == "" {
		t.Errorf("second turn %s", res.RawJSON())
	}
	cv := e.stub.Last().Converse
	if len(cv.Messages) != 3 || cv.Messages[1].Role != "assistant" || len(cv.Messages[2].Content) != 2 ||
		cv.Messages[2].Content[1].ToolResult == nil || cv.Messages[2].Content[1].ToolResult.ToolUseID != bedrockstub.ToolUseID2 {
		t.Errorf("converse %s", e.stub.Last().Body)
	}
}

// A token limit makes the response incomplete, streamed or not.
func TestBedrockResponsesIncomplete(t *testing.T) {
	e := startBedrock(t, bedrockConfig)
	c := e.client()
	res, err := c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "stub.length",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}, MaxOutputTokens: openai.Int(5)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "incomplete" || res.IncompleteDetails.Reason != "max_output_tokens" {
		t.Errorf("response %s", res.RawJSON())
	}
	stream := c.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{Model: "stub.length",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}})
	last := ""
	for stream.Next() {
		last = stream.Current().Type
	}
	if last != "response.incomplete" || stream.Err() != nil {
		t.Errorf("last event %q, err %v", last, stream.Err())
	}
}

func TestBedrockResponsesErrors(t *testing.T) {
	e := startBedrock(t, bedrockConfig)
	c := e.client()
	var ae *openai.Error
	_, err := c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "stub.text",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}, PreviousResponseID: openai.String("resp_1")})
	if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Param != "previous_response_id" {
		t.Errorf("previous_response_id: %v", err)
	}
	_, err = c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "stub.text",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}, Store: openai.Bool(true)})
	if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Param != "store" {
		t.Errorf("store: %v", err)
	}
	_, err = c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "stub.error-throttle",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}})
	if !errors.As(err, &ae) || ae.StatusCode != 429 {
		t.Errorf("throttle: %v", err)
	}
	// Failing after the first byte: response.failed, then the stream ends.
	stream := c.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{Model: "stub.error-midstream",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}})
	var types []string
	var failed responses.Response
	for stream.Next() {
		ev := stream.Current()
		types = append(types, ev.Type)
		if ev.Type == "response.failed" {
			failed = ev.Response
		}
	}
	if len(types) == 0 || types[len(types)-1] != "response.failed" || failed.Error.Message == "" || failed.Status != "failed" {
		t.Errorf("events %v, failed %s", types, failed.RawJSON())
	}
}
