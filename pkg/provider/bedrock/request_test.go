package bedrock

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

const haiku = "anthropic.claude-3-5-haiku-20241022-v1:0"

func plugin() *config.Plugin {
	return &config.Plugin{RouteType: config.RouteChat, Model: config.Model{Provider: config.ProviderBedrock}}
}

func tr(t *testing.T, model, body string, p *config.Plugin) (*converse, error) {
	t.Helper()
	if p == nil {
		p = plugin()
	}
	r, err := chat.Decode([]byte(body))
	if err != nil {
		return nil, err
	}
	return translate(r, model, p)
}

func mustTr(t *testing.T, model, body string) *converse {
	t.Helper()
	c, err := tr(t, model, body, nil)
	if err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return c
}

func text(b types.ContentBlock) string {
	if t, ok := b.(*types.ContentBlockMemberText); ok {
		return t.Value
	}
	return ""
}

func TestTranslateMessages(t *testing.T) {
	c := mustTr(t, haiku, `{"messages":[
		{"role":"system","content":"sys1"},
		{"role":"developer","content":[{"type":"text","text":"dev"},{"type":"text","text":"cached","cache_control":{"type":"ephemeral"}}]},
		{"role":"user","content":"a"},
		{"role":"user","content":[{"type":"text","text":"b"}]},
		{"role":"assistant","content":"c","tool_calls":[
			{"id":"t1","type":"function","function":{"name":"f","arguments":"{\"x\":12345678901234567890}"}},
			{"id":"t2","type":"function","function":{"name":"g","arguments":""}}]},
		{"role":"tool","tool_call_id":"t2","content":"plain text"},
		{"role":"tool","tool_call_id":"t1","content":"{\"ok\":true}"},
		{"role":"user","content":"thanks"}],
		"tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"g","description":"G","parameters":{"type":"object"}}}]}`)
	if len(c.System) != 4 {
		t.Fatalf("system %d blocks", len(c.System))
	}
	if _, ok := c.System[3].(*types.SystemContentBlockMemberCachePoint); !ok {
		t.Errorf("cache_control did not become a cachePoint: %T", c.System[3])
	}
	if len(c.Messages) != 3 {
		t.Fatalf("%d turns, want user, assistant, user", len(c.Messages))
	}
	if u := c.Messages[0]; u.Role != types.ConversationRoleUser || len(u.Content) != 2 || text(u.Content[1]) != "b" {
		t.Errorf("consecutive user messages not merged: %+v", u)
	}
	a := c.Messages[1]
	if len(a.Content) != 3 || text(a.Content[0]) != "c" {
		t.Fatalf("assistant %+v", a)
	}
	tu := a.Content[1].(*types.ContentBlockMemberToolUse).Value
	j, _ := tu.Input.MarshalSmithyDocument()
	if aws.ToString(tu.ToolUseId) != "t1" || string(j) != `{"x":12345678901234567890}` {
		t.Errorf("tool use %s %s (numbers must stay exact)", aws.ToString(tu.ToolUseId), j)
	}
	j, _ = a.Content[2].(*types.ContentBlockMemberToolUse).Value.Input.MarshalSmithyDocument()
	if string(j) != `{}` {
		t.Errorf("empty arguments became %s", j)
	}
	res := c.Messages[2]
	if len(res.Content) != 3 || text(res.Content[2]) != "thanks" {
		t.Fatalf("results turn %+v", res)
	}
	r0 := res.Content[0].(*types.ContentBlockMemberToolResult).Value
	if aws.ToString(r0.ToolUseId) != "t2" || r0.Content[0].(*types.ToolResultContentBlockMemberText).Value != "plain text" {
		t.Errorf("result 0 %+v", r0)
	}
	specs := c.ToolConfig.Tools
	if s := specs[0].(*types.ToolMemberToolSpec).Value; s.Description != nil {
		t.Errorf("empty description sent: %q", aws.ToString(s.Description))
	}
	if c.ToolConfig.ToolChoice != nil {
		t.Errorf("tool choice %T without tool_choice", c.ToolConfig.ToolChoice)
	}
}

func TestTranslateToolChoice(t *testing.T) {
	tools := `"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]`
	user := `"messages":[{"role":"user","content":"hi"}]`
	history := `"messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"a","content":"r"}]`
	cases := []struct {
		name, body string
		want       any // nil: no toolConfig; "keep": tools, no choice
	}{
		{"auto", `{` + user + `,` + tools + `,"tool_choice":"auto"}`, &types.ToolChoiceMemberAuto{}},
		{"required", `{` + user + `,` + tools + `,"tool_choice":"required"}`, &types.ToolChoiceMemberAny{}},
		{"named", `{` + user + `,` + tools + `,"tool_choice":{"type":"function","function":{"name":"f"}}}`, &types.ToolChoiceMemberTool{}},
		{"none drops tools", `{` + user + `,` + tools + `,"tool_choice":"none"}`, nil},
		{"none with history keeps them", `{` + history + `,` + tools + `,"tool_choice":"none"}`, "keep"},
	}
	for _, tc := range cases {
		c := mustTr(t, haiku, tc.body)
		switch w := tc.want.(type) {
		case nil:
			if c.ToolConfig != nil {
				t.Errorf("%s: toolConfig %+v", tc.name, c.ToolConfig)
			}
		case string:
			if c.ToolConfig == nil || c.ToolConfig.ToolChoice != nil {
				t.Errorf("%s: toolConfig %+v", tc.name, c.ToolConfig)
			}
		default:
			if c.ToolConfig == nil || c.ToolConfig.ToolChoice == nil || typeName(c.ToolConfig.ToolChoice) != typeName(w) {
				t.Errorf("%s: choice %+v", tc.name, c.ToolConfig)
			}
		}
	}
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }

func TestTranslateInference(t *testing.T) {
	p := plugin()
	k := 40
	p.Model.Options.TopK = &k
	p.Model.Options.Bedrock = &config.BedrockOptions{PerformanceConfigLatency: "optimized"}
	c, err := tr(t, haiku, `{"messages":[{"role":"user","content":"hi"}],"max_completion_tokens":50,"temperature":0.3,"top_p":0.9,"stop":["x","y"],"stream_options":{"include_usage":true},"n":1,"metadata":{"team":"a"},"user":"u1"}`, p)
	if err != nil {
		t.Fatal(err)
	}
	ic := c.Inference
	if aws.ToInt32(ic.MaxTokens) != 50 || aws.ToFloat32(ic.Temperature) != 0.3 || aws.ToFloat32(ic.TopP) != 0.9 || len(ic.StopSequences) != 2 {
		t.Errorf("inference %+v", ic)
	}
	if c.Additional["top_k"] != 40 || c.Performance == nil || c.Performance.Latency != "optimized" || c.RequestMetadata["team"] != "a" {
		t.Errorf("additional %v performance %+v metadata %v", c.Additional, c.Performance, c.RequestMetadata)
	}
	// top_k for a model that is not Anthropic's is refused, not dropped.
	if _, err := tr(t, "amazon.nova-lite-v1:0", `{"messages":[{"role":"user","content":"hi"}]}`, p); !isParam(err, "top_k") {
		t.Errorf("top_k on Nova: %v", err)
	}
	c = mustTr(t, haiku, `{"messages":[{"role":"user","content":"hi"}],"stop":"END"}`)
	if c.Inference.StopSequences[0] != "END" || c.Additional != nil {
		t.Errorf("stop string %+v", c.Inference)
	}
}

func TestTranslateThinking(t *testing.T) {
	sonnet := "us.anthropic.claude-sonnet-4-20250514-v1:0"
	cases := []struct {
		body             string
		budget, maxToken int
	}{
		{`{"messages":[{"role":"user","content":"hi"}],"reasoning_effort":"low","temperature":0.2,"top_p":0.5}`, 1024, 1024 + defaultAnswerTokens},
		{`{"messages":[{"role":"user","content":"hi"}],"reasoning_effort":"high","max_tokens":1000}`, 4096, 5096},
		{`{"messages":[{"role":"user","content":"hi"}],"reasoning_effort":"medium","max_tokens":9000}`, 2048, 9000},
	}
	for _, tc := range cases {
		c := mustTr(t, sonnet, tc.body)
		th, _ := c.Additional["thinking"].(map[string]any)
		if th["budget_tokens"] != tc.budget || th["type"] != "enabled" || aws.ToInt32(c.Inference.MaxTokens) != int32(tc.maxToken) ||
			c.Inference.Temperature != nil || c.Inference.TopP != nil {
			t.Errorf("%s: thinking %v inference %+v", tc.body, th, c.Inference)
		}
	}
	c := mustTr(t, sonnet, `{"messages":[{"role":"user","content":"hi"}],"reasoning_effort":"none"}`)
	if c.Additional != nil {
		t.Errorf("none: %v", c.Additional)
	}
	if _, err := tr(t, haiku, `{"messages":[{"role":"user","content":"hi"}],"reasoning_effort":"low"}`, nil); !isParam(err, "reasoning_effort") {
		t.Errorf("haiku 3.5 has no thinking: %v", err)
	}
	c = mustTr(t, "openai.gpt-oss-120b-1:0", `{"messages":[{"role":"user","content":"hi"}],"reasoning_effort":"high"}`)
	if c.Additional["reasoning_effort"] != "high" {
		t.Errorf("gpt-oss %v", c.Additional)
	}
	mustTr(t, "us.deepseek.r1-v1:0", `{"messages":[{"role":"user","content":"hi"}],"reasoning_effort":"high"}`)

	// Replay: signed blocks before the text; reasoning_content alone only
	// for a model that takes unsigned reasoning.
	replay := `{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"ans","reasoning_content":"why",
		"thinking_blocks":[{"type":"thinking","signature":"sig"},{"type":"redacted_thinking","data":"AAE="}]},{"role":"user","content":"more"}]}`
	c = mustTr(t, sonnet, replay)
	a := c.Messages[1].Content
	if len(a) != 3 || text(a[2]) != "ans" {
		t.Fatalf("replayed %+v", a)
	}
	rt := a[0].(*types.ContentBlockMemberReasoningContent).Value.(*types.ReasoningContentBlockMemberReasoningText).Value
	if aws.ToString(rt.Signature) != "sig" || aws.ToString(rt.Text) != "" {
		t.Errorf("signed block %+v", rt)
	}
	if rc := a[1].(*types.ContentBlockMemberReasoningContent).Value.(*types.ReasoningContentBlockMemberRedactedContent); string(rc.Value) != "\x00\x01" {
		t.Errorf("redacted %v", rc.Value)
	}
	unsigned := `{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"ans","reasoning_content":"why"},{"role":"user","content":"more"}]}`
	if a := mustTr(t, sonnet, unsigned).Messages[1].Content; len(a) != 1 {
		t.Errorf("Claude got unsigned reasoning: %+v", a)
	}
	if a := mustTr(t, "us.deepseek.r1-v1:0", unsigned).Messages[1].Content; len(a) != 2 {
		t.Errorf("DeepSeek lost the reasoning: %+v", a)
	}
}

func TestTranslateMedia(t *testing.T) {
	c := mustTr(t, haiku, `{"messages":[{"role":"user","content":[
		{"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/"}},
		{"type":"file","file":{"file_data":"data:text/csv;base64,YSxiCg==","filename":"../../etc/pass wd!!.csv"}},
		{"type":"file","file":{"file_data":"data:text/csv;base64,YSxiCg==","filename":"../../etc/pass wd!!.csv"}}]}]}`)
	b := c.Messages[0].Content
	if len(b) != 4 || text(b[3]) == "" {
		t.Fatalf("blocks %+v (a document needs a text block beside it)", b)
	}
	if img := b[0].(*types.ContentBlockMemberImage).Value; img.Format != types.ImageFormatJpeg {
		t.Errorf("image %+v", img)
	}
	d1, d2 := b[1].(*types.ContentBlockMemberDocument).Value, b[2].(*types.ContentBlockMemberDocument).Value
	if aws.ToString(d1.Name) != "etc pass wd" || aws.ToString(d2.Name) != "etc pass wd (2)" || d1.Format != types.DocumentFormatCsv {
		t.Errorf("names %q %q format %s", aws.ToString(d1.Name), aws.ToString(d2.Name), d1.Format)
	}
}

func TestTranslateRefusals(t *testing.T) {
	u := `"messages":[{"role":"user","content":"hi"}]`
	cases := map[string]string{
		`{` + u + `,"n":3}`:                                    "n",
		`{` + u + `,"logprobs":true}`:                          "logprobs",
		`{` + u + `,"seed":7}`:                                 "seed",
		`{` + u + `,"presence_penalty":0.5}`:                   "presence_penalty",
		`{` + u + `,"frequency_penalty":0.5}`:                  "frequency_penalty",
		`{` + u + `,"parallel_tool_calls":false}`:              "parallel_tool_calls",
		`{` + u + `,"stop":["a","b","c","d","e"]}`:             "stop",
		`{` + u + `,"response_format":{"type":"json_object"}}`: "response_format",
		`{` + u + `,"service_tier":"scale"}`:                   "service_tier",
		`{` + u + `,"tool_choice":"required"}`:                 "tool_choice",
		`{` + u + `,"unknown_field":1}`:                        "unknown_field",
		`{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://x/y.png"}}]}]}`:                                                                                                                                       "messages[0].content[0].image_url.url",
		`{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/bmp;base64,AA=="}}]}]}`:                                                                                                                           "messages[0].content[0].image_url.url",
		`{"messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-1"}}]}]}`:                                                                                                                                                     "messages[0].content[0].file.file_id",
		`{"messages":[{"role":"user","content":[{"type":"file","file":{"file_data":"data:application/zip;base64,AA=="}}]}]}`:                                                                                                                         "messages[0].content[0].file.file_data",
		`{"messages":[{"role":"user","content":"a"},{"role":"tool","tool_call_id":"x","content":"r"}]}`:                                                                                                                                              "messages[1].tool_call_id",
		`{"messages":[{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"user","content":"b"}],"tools":[{"type":"function","function":{"name":"f"}}]}`: "messages[1]",
		`{"messages":[{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`:                                                                                    "messages[1].tool_calls[0].function.arguments",
		`{"messages":[{"role":"user","content":""}]}`: "messages[0].content",
	}
	for body, param := range cases {
		if _, err := tr(t, haiku, body, nil); !isParam(err, param) {
			t.Errorf("%s: %v, want a 400 naming %s", body, err, param)
		}
	}
	// response_format json_schema maps onto outputConfig.
	c := mustTr(t, haiku, `{`+u+`,"response_format":{"type":"json_schema","json_schema":{"name":"n","schema":{"type":"object"}}}}`)
	if c.Output == nil || c.Output.TextFormat.Type != types.OutputFormatTypeJsonSchema {
		t.Errorf("json_schema %+v", c.Output)
	}
}

func isParam(err error, param string) bool {
	var pe *provider.Error
	return errors.As(err, &pe) && pe.Status == 400 && pe.Param == param
}

func TestPrepare(t *testing.T) {
	d := New(Options{})
	call := func(model string, p *config.Plugin) error {
		_, err := d.Prepare(&provider.Call{Plugin: p, Model: model, Body: []byte(`{"messages":[{"role":"user","content":"hi"}]}`)})
		return err
	}
	p := plugin()
	if err := call(haiku, p); err == nil || !strings.Contains(err.Error(), "AWS region not specified anywhere") {
		t.Errorf("no region: %v", err)
	}
	p.Model.Options.Bedrock = &config.BedrockOptions{AWSRegion: "eu-west-1"}
	for _, m := range []string{"", ".", ".."} {
		if err := call(m, p); !isParam(err, "model") {
			t.Errorf("model %q: %v", m, err)
		}
	}
	up, err := d.Prepare(&provider.Call{Plugin: p, Model: "arn:aws:bedrock:eu-west-1:1:inference-profile/eu.amazon.nova-lite-v1:0", Stream: true, Body: []byte(`{"messages":[{"role":"user","content":"hi"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if got := up.URL.String(); got != "https://bedrock-runtime.eu-west-1.amazonaws.com/model/arn:aws:bedrock:eu-west-1:1:inference-profile%2Feu.amazon.nova-lite-v1:0/converse-stream" {
		t.Errorf("url %s", got)
	}
	p.RouteType = config.RouteCompletions
	if err := call(haiku, p); err == nil {
		t.Error("llm/v1/completions accepted")
	}
	// Env region, when the SDK's config has none.
	d = New(Options{Getenv: func(k string) string {
		if k == "AWS_DEFAULT_REGION" {
			return "ap-south-1"
		}
		return ""
	}})
	if err := call(haiku, plugin()); err != nil {
		t.Errorf("AWS_DEFAULT_REGION: %v", err)
	}
}

func TestClientCacheBounded(t *testing.T) {
	d := New(Options{MaxClients: 3})
	p := plugin()
	for i := 0; i < 10; i++ {
		d.client(p, "us-east-1", "http://127.0.0.1:"+string(rune('0'+i)))
	}
	if n := d.Clients(); n != 3 {
		t.Errorf("%d clients cached, bound 3", n)
	}
	a := d.client(p, "us-east-1", "")
	if b := d.client(p, "us-east-1", ""); a != b {
		t.Error("the same source got two clients")
	}
	p2 := plugin()
	p2.Auth.AWSAccessKeyID, p2.Auth.AWSSecretAccessKey = "AKID", "s"
	if c := d.client(p2, "us-east-1", ""); c == a {
		t.Error("static keys share the default chain's client")
	}
}

func TestBaseEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:9/": "http://127.0.0.1:9",
		"https://vpce-1.bedrock-runtime.us-east-1.vpce.amazonaws.com":          "https://vpce-1.bedrock-runtime.us-east-1.vpce.amazonaws.com",
		"https://bedrock-runtime.us-east-1.amazonaws.com/model/x/converse?a=1": "https://bedrock-runtime.us-east-1.amazonaws.com",
		"http://gw.local/bedrock/": "http://gw.local/bedrock",
	} {
		u, _ := url.Parse(in)
		if got := baseEndpoint(u); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
