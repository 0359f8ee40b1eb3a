package gemini

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

func decodeCompletion(t *testing.T, b []byte) chat.Completion {
	t.Helper()
	var c chat.Completion
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return c
}

// Kong's fixtures (spec/fixtures/ai-proxy/gemini/llm-v1-chat/responses).
func TestAnswerKongFixtures(t *testing.T) {
	good, _ := os.ReadFile("testdata/kong/good.json")
	b, pe := answer(good, "gemini-1.5-pro")
	if pe != nil {
		t.Fatal(pe)
	}
	c := decodeCompletion(t, b)
	m := c.Choices[0].Message
	if c.Model != "gemini-1.5-pro" || c.Object != "chat.completion" || !strings.HasPrefix(c.ID, "chatcmpl-") || c.Created == 0 ||
		*m.Content != "Everything is okay." || c.Choices[0].FinishReason != "stop" {
		t.Fatalf("good: %s", b)
	}
	if u := c.Usage; u.PromptTokens != 2 || u.CompletionTokens != 11 || u.TotalTokens != 13 {
		t.Fatalf("usage (Kong's _EXPECTED_CHAT_STATS 2/11/13): %+v", u)
	}
	bad, _ := os.ReadFile("testdata/kong/fails_safety.json")
	b, pe = answer(bad, "gemini-1.5-pro")
	if pe != nil {
		t.Fatal(pe)
	}
	c = decodeCompletion(t, b)
	if c.Choices[0].FinishReason != "content_filter" || *c.Choices[0].Message.Content != "" || c.Usage.PromptTokens != 319 {
		t.Fatalf("fails_safety: %s", b)
	}
}

func TestAnswer(t *testing.T) {
	cases := []struct {
		name, in string
		check    func(t *testing.T, c chat.Completion)
	}{
		{"text parts joined with nothing between", `{"candidates":[{"content":{"role":"model","parts":[{"text":"a"},{"text":"b"}]},"finishReason":"STOP"}]}`,
			func(t *testing.T, c chat.Completion) {
				if *c.Choices[0].Message.Content != "ab" {
					t.Fatal(*c.Choices[0].Message.Content)
				}
			}},
		{"tool calls", `{"candidates":[{"content":{"parts":[{"text":"x"},{"functionCall":{"name":"f","args":{"a":1}},"thoughtSignature":"c2ln"},{"functionCall":{"name":"g"}}]},"finishReason":"STOP"}]}`,
			func(t *testing.T, c chat.Completion) {
				m := c.Choices[0].Message
				if len(m.ToolCalls) != 2 || c.Choices[0].FinishReason != "tool_calls" || *m.Content != "x" {
					t.Fatalf("%+v", c)
				}
				a, b := m.ToolCalls[0], m.ToolCalls[1]
				if !strings.HasPrefix(a.ID, "call_") || !strings.HasSuffix(a.ID, thoughtSep+"c2ln") || a.Type != "function" || a.Function.Arguments != `{"a":1}` {
					t.Fatalf("%+v", a)
				}
				if strings.Contains(b.ID, thoughtSep) || b.Function.Arguments != "{}" || a.ID == b.ID {
					t.Fatalf("%+v", b)
				}
			}},
		{"tool call cut short", `{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{}}}]},"finishReason":"MAX_TOKENS"}]}`,
			func(t *testing.T, c chat.Completion) {
				if c.Choices[0].FinishReason != "length" || c.Choices[0].Message.Content != nil {
					t.Fatalf("%+v", c.Choices[0])
				}
			}},
		{"reasoning and usage", `{"candidates":[{"content":{"parts":[{"text":"hmm","thought":true},{"text":"42"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":30,"cachedContentTokenCount":10,"candidatesTokenCount":5,"thoughtsTokenCount":50,"totalTokenCount":85}}`,
			func(t *testing.T, c chat.Completion) {
				u := c.Usage
				if c.Choices[0].Message.ReasoningContent != "hmm" || *c.Choices[0].Message.Content != "42" ||
					u.PromptTokens != 30 || u.CompletionTokens != 55 || u.TotalTokens != 85 || u.PromptTokensDetails.CachedTokens != 10 || u.CompletionTokensDetails.ReasoningTokens != 50 {
					t.Fatalf("%+v %+v", c.Choices[0].Message, u)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, pe := answer([]byte(c.in), "m")
			if pe != nil {
				t.Fatal(pe)
			}
			c.check(t, decodeCompletion(t, b))
		})
	}
}

func TestFinish(t *testing.T) {
	for in, want := range map[string]string{"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter", "RECITATION": "content_filter",
		"BLOCKLIST": "content_filter", "PROHIBITED_CONTENT": "content_filter", "SPII": "content_filter", "OTHER": "stop", "MALFORMED_FUNCTION_CALL": "stop", "": "stop"} {
		if got := finish(in, false); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
	if finish("STOP", true) != "tool_calls" || finish("MAX_TOKENS", true) != "length" {
		t.Error("tool calls")
	}
}

func TestAnswerErrors(t *testing.T) {
	cases := []struct {
		in     string
		status int
		code   string
	}{
		{`{"promptFeedback":{"blockReason":"SAFETY","blockReasonMessage":"no"}}`, 400, "content_filter"},
		{`{"candidates":[]}`, 502, "no_candidates"},
		{`not json`, 502, "bad_upstream_response"},
	}
	for _, c := range cases {
		_, pe := answer([]byte(c.in), "m")
		if pe == nil || pe.Status != c.status || pe.Code != c.code {
			t.Errorf("%s: %+v", c.in, pe)
		}
	}
}

func TestUpstreamError(t *testing.T) {
	body := `{"error":{"code":429,"message":"You exceeded your current quota.","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"16.2s"}]}}`
	res := &http.Response{StatusCode: 429, Status: "429 Too Many Requests", Header: http.Header{}, Body: ioNop(body)}
	e := upstreamError(res)
	if e.Status != 429 || e.Type != "rate_limit_error" || e.Code != "RESOURCE_EXHAUSTED" || e.Message != "You exceeded your current quota." || e.Header.Get("Retry-After") != "17" {
		t.Fatalf("%+v", e)
	}
	res = &http.Response{StatusCode: 503, Status: "503 Service Unavailable", Header: http.Header{"Retry-After": {"5"}}, Body: ioNop("<html>")}
	e = upstreamError(res)
	if e.Status != 503 || e.Type != "server_error" || e.Header.Get("Retry-After") != "5" || !strings.Contains(e.Message, "503") {
		t.Fatalf("%+v", e)
	}
	res = &http.Response{StatusCode: 400, Status: "400", Header: http.Header{}, Body: ioNop(`[{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}]`)}
	if e = upstreamError(res); e.Code != "INVALID_ARGUMENT" || e.Message != "bad" {
		t.Fatalf("%+v", e)
	}
}
