package bedrock

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// benchBody is a typical agent turn: system, a few turns, two tools.
const benchBody = `{"model":"m","stream":true,"stream_options":{"include_usage":true},"max_tokens":512,"temperature":0.2,
"messages":[{"role":"system","content":"You are a helpful assistant that answers briefly."},
{"role":"user","content":"What is the weather in Paris and the time there?"},
{"role":"assistant","content":"Let me check.","tool_calls":[{"id":"t1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},{"id":"t2","type":"function","function":{"name":"get_time","arguments":"{\"tz\":\"Europe/Paris\"}"}}]},
{"role":"tool","tool_call_id":"t1","content":"18C sunny"},{"role":"tool","tool_call_id":"t2","content":"12:00"},
{"role":"user","content":"Thanks, and tomorrow?"}],
"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}},
{"type":"function","function":{"name":"get_time","description":"Time in a zone","parameters":{"type":"object","properties":{"tz":{"type":"string"}}}}}]}`

// BenchmarkRequest is Prepare: decode, translate, client lookup.
func BenchmarkRequest(b *testing.B) {
	d := New(Options{Config: aws.Config{Region: "us-east-1"}})
	p := &config.Plugin{RouteType: config.RouteChat, Model: config.Model{Provider: config.ProviderBedrock}}
	body := []byte(benchBody)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Prepare(&provider.Call{Plugin: p, Model: haiku, Stream: true, Body: body}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamChunk is one Bedrock text delta made into an OpenAI chunk.
func BenchmarkStreamChunk(b *testing.B) {
	e := newEvents(source(nil), haiku, true)
	ev := textDelta(0, "tok12 of a typical delta ")
	b.ReportAllocs()
	for b.Loop() {
		if len(e.translate(ev)) == 0 {
			b.Fatal("no chunk")
		}
	}
}

// BenchmarkStreamToolArgs is one tool-input delta.
func BenchmarkStreamToolArgs(b *testing.B) {
	e := newEvents(source(nil), haiku, true)
	e.translate(toolStart(1, "t1", "get_weather"))
	ev := &types.ConverseStreamOutputMemberContentBlockDelta{Value: types.ContentBlockDeltaEvent{ContentBlockIndex: aws.Int32(1),
		Delta: &types.ContentBlockDeltaMemberToolUse{Value: types.ToolUseBlockDelta{Input: aws.String(`"city":"Pa`)}}}}
	b.ReportAllocs()
	for b.Loop() {
		e.translate(ev)
	}
}
