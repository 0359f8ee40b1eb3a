package bedrock

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/bedrockstub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

const fuzzSecret = "fuzz-secret-never-shown"

func FuzzRequest(f *testing.F) {
	for _, s := range []string{
		`{"messages":[{"role":"user","content":"hi"}]}`,
		`{"messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]}],"max_tokens":5,"stop":"x"}`,
		`{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":null,"tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},{"role":"tool","tool_call_id":"1","content":"r"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":"required"}`,
		`{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b","reasoning_content":"r","thinking_blocks":[{"type":"thinking","signature":"s"}]}],"reasoning_effort":"high"}`,
		`{"messages":[{"role":"user","content":[{"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERg==","filename":"a.pdf"}}]}],"response_format":{"type":"json_schema","json_schema":{"name":"n","schema":{}}}}`,
	} {
		f.Add(s, "us.anthropic.claude-sonnet-4-20250514-v1:0")
	}
	f.Fuzz(func(t *testing.T, body, model string) {
		r, err := chat.Decode([]byte(body))
		if err != nil {
			return
		}
		p := plugin()
		p.Auth.AWSSecretAccessKey = fuzzSecret
		_, err = translate(r, model, p)
		var pe *provider.Error
		if err != nil && (!errors.As(err, &pe) || pe.Status != 400 || strings.Contains(pe.Message, fuzzSecret)) {
			t.Fatalf("refusal %v", err)
		}
	})
}

// FuzzAnswer feeds Converse answers through the SDK's own deserializer
// and the translation.
func FuzzAnswer(f *testing.F) {
	f.Add(bedrockstub.ConverseAnswer(bedrockstub.New(bedrockstub.Options{}).ScenarioFor("stub.tools")))
	f.Add(bedrockstub.ConverseAnswer(bedrockstub.New(bedrockstub.Options{}).ScenarioFor("stub.reasoning")))
	f.Add(bedrockstub.ConverseAnswer(bedrockstub.New(bedrockstub.Options{}).ScenarioFor("stub.cache")))
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	c := bedrockruntime.New(bedrockruntime.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Retryer: aws.NopRetryer{},
		Credentials: credentials.NewStaticCredentialsProvider("a", fuzzSecret, "")})
	f.Fuzz(func(t *testing.T, b []byte) {
		body = b
		out, err := c.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String("m"), Messages: []types.Message{
			{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "x"}}}}})
		if err != nil {
			return
		}
		a := answer(out, "m")
		if !json.Valid(a) || len(a) > 4*len(b)+1024 || strings.Contains(string(a), fuzzSecret) {
			t.Fatalf("answer %s", a)
		}
	})
}

// FuzzStream drives the event translation with events made from the
// input: each byte picks an event, strings come from the input.
func FuzzStream(f *testing.F) {
	f.Add([]byte{0, 1, 1, 2, 3, 4, 5, 6}, "tok0 ", `{"a":1}`)
	f.Add([]byte{0, 2, 3, 3, 4, 2, 3, 4, 5, 6}, "x", `{"ci`)
	f.Add([]byte{0, 7, 8, 1, 5}, "why", "sig")
	f.Fuzz(func(t *testing.T, ops []byte, s1, s2 string) {
		var evs []types.ConverseStreamOutput
		for i, op := range ops {
			idx := int32(i % 3)
			switch op % 9 {
			case 0:
				evs = append(evs, start())
			case 1:
				evs = append(evs, textDelta(idx, s1))
			case 2:
				evs = append(evs, toolStart(idx, s1, s2))
			case 3:
				evs = append(evs, toolDelta(idx, s2))
			case 4:
				evs = append(evs, blockStop(idx))
			case 5:
				evs = append(evs, msgStop(types.StopReason(s1)))
			case 6:
				evs = append(evs, metadata(int32(len(s1)), int32(len(s2)), 1, 1))
			case 7:
				evs = append(evs, &types.ConverseStreamOutputMemberContentBlockDelta{Value: types.ContentBlockDeltaEvent{ContentBlockIndex: aws.Int32(idx),
					Delta: &types.ContentBlockDeltaMemberReasoningContent{Value: &types.ReasoningContentBlockDeltaMemberText{Value: s1}}}})
			case 8:
				evs = append(evs, &types.ConverseStreamOutputMemberContentBlockDelta{Value: types.ContentBlockDeltaEvent{ContentBlockIndex: aws.Int32(idx),
					Delta: &types.ContentBlockDeltaMemberReasoningContent{Value: &types.ReasoningContentBlockDeltaMemberSignature{Value: s2}}}})
			}
		}
		ev := newEvents(source(nil, evs...), "m", true)
		total, done := 0, false
		var all strings.Builder
		for {
			b, err := ev.Next()
			total += len(b)
			all.Write(b)
			for _, e := range strings.SplitAfter(string(b), "\n\n") {
				if e == "" {
					continue
				}
				p, ok := strings.CutPrefix(e, "data: ")
				p, ok2 := strings.CutSuffix(p, "\n\n")
				if !ok || !ok2 || (p != "[DONE]" && !json.Valid([]byte(p))) {
					t.Fatalf("bad event %q", e)
				}
				done = done || p == "[DONE]"
			}
			if err == io.EOF {
				if !done {
					t.Fatal("EOF without [DONE]")
				}
				break
			}
			if err != nil {
				var se *provider.StreamError
				if !errors.As(err, &se) || done {
					t.Fatalf("end %v (done %v)", err, done)
				}
				break
			}
		}
		if total > (len(ops)+2)*(2*len(s1)+2*len(s2)+600) || strings.Contains(all.String(), fuzzSecret) {
			t.Fatalf("%d bytes for %d events", total, len(ops))
		}
	})
}

// FuzzEmbedAnswer: Titan's and Cohere's embeddings answers, read and
// rendered as OpenAI's list (floats and base64): no panic, valid JSON,
// bounded output.
func FuzzEmbedAnswer(f *testing.F) {
	v, _ := json.Marshal(bedrockstub.EmbeddingVector("seed", 4))
	for _, s := range []string{`{"embedding":` + string(v) + `,"embeddingsByType":{"float":` + string(v) + `},"inputTextTokenCount":3}`,
		`{"id":"e","response_type":"embeddings_floats","embeddings":[` + string(v) + `,[1,2]],"texts":["a","b"]}`,
		`{"id":"e","response_type":"embeddings_by_type","embeddings":{"float":[` + string(v) + `]},"texts":["a"]}`} {
		f.Add(true, []byte(s))
		f.Add(false, []byte(s))
	}
	f.Fuzz(func(t *testing.T, titan bool, b []byte) {
		read := cohereAnswer
		if titan {
			read = titanAnswer
		}
		vectors, n, err := read(b)
		if err != nil {
			return
		}
		for _, b64 := range []bool{false, true} {
			out := provider.EmbeddingsJSON("m", vectors, n, b64)
			if !json.Valid(out) || len(out) > 16*len(b)+4096 || strings.Contains(string(out), fuzzSecret) {
				t.Fatalf("bad output %d bytes for %d: %.200s", len(out), len(b), out)
			}
		}
	})
}
