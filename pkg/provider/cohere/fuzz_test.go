package cohere

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/drivercheck"
)

const fuzzKey = "cohere-secret-key-never-out"

var seedStream = "event: message-start\ndata: {\"type\":\"message-start\",\"id\":\"x\",\"delta\":{\"message\":{\"role\":\"assistant\",\"content\":[],\"tool_calls\":[]}}}\n\n" +
	"data: {\"type\":\"tool-plan-delta\",\"delta\":{\"message\":{\"tool_plan\":\"I will\"}}}\n\n" +
	"data: {\"type\":\"tool-call-start\",\"index\":0,\"delta\":{\"message\":{\"tool_calls\":{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"\"}}}}}\n\n" +
	"data: {\"type\":\"tool-call-delta\",\"index\":0,\"delta\":{\"message\":{\"tool_calls\":{\"function\":{\"arguments\":\"{}\"}}}}}\n\n" +
	"data: {\"type\":\"content-delta\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"text\":\"hi\"}}}}\n\n" +
	"data: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"TOOL_CALL\",\"usage\":{\"billed_units\":{\"input_tokens\":1,\"output_tokens\":2}}}}\n\n"

func FuzzStream(f *testing.F) {
	f.Add(seedStream)
	f.Add(strings.ReplaceAll(seedStream, "\n\n", "\n"))
	f.Add("data: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"ERROR\",\"error\":\"x\"}}\n\n")
	f.Fuzz(func(t *testing.T, in string) {
		ev := NewEvents(io.NopCloser(strings.NewReader(in)), "m", true)
		drivercheck.Stream(t, ev, len(in), 8)
	})
}

func FuzzAnswer(f *testing.F) {
	f.Add(`{"id":"x","finish_reason":"TOOL_CALL","message":{"role":"assistant","tool_plan":"p","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},"usage":{"billed_units":{"input_tokens":1,"output_tokens":2}}}`)
	f.Add(`{"id":"x","finish_reason":"COMPLETE","message":{"role":"assistant","content":[{"type":"text","text":"hi"},{"type":"thinking","thinking":"t"}]}}`)
	f.Fuzz(func(t *testing.T, in string) {
		drivercheck.Completion(t, in, ToCompletion)
	})
}

func FuzzRequest(f *testing.F) {
	f.Add(`{"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]},{"role":"assistant","content":"p","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"r"}],"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"tool_choice":{"type":"function","function":{"name":"f"}},"response_format":{"type":"json_schema","json_schema":{"name":"n","schema":{}}}}`)
	f.Fuzz(func(t *testing.T, in string) {
		if b := drivercheck.Request(t, in, Translate); bytes.Contains(b, []byte(fuzzKey)) {
			t.Fatalf("the key in %s", b)
		}
	})
}
