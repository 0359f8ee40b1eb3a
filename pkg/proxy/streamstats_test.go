package proxy

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

// Kong's token estimate for a stream without usage: the prompt's words x
// 1.8, rounded, and the stripped answer's bytes / 4, rounded up.
func TestEstimateUsage(t *testing.T) {
	kongChat := `{"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"What is 1 + 1?"}],"stream":true}`
	tests := []struct {
		name, body string
		texts      []string
		prompt     int
		completion int
	}{
		// Kong's 09-streaming spec: prompt_tokens 18. Its completion_tokens
		// 13 counts the text twice (Kong buffers each frame twice); the
		// formula on the text the client got gives 7.
		{name: "Kong's good-stream", body: kongChat, texts: []string{"", "The ", "answer ", "to 1 + ", "1 is ", "2."}, prompt: 18, completion: 7},
		{name: "multi-modal counts text parts", body: `{"messages":[{"role":"user","content":[{"type":"text","text":"What's in this image?"},{"type":"image_url","image_url":{"url":"https://x/y.jpg"}}]}]}`,
			texts: []string{"  a\n"}, prompt: 7, completion: 1},
		{name: "completions prompt", body: `{"prompt":"What are you?"}`, texts: []string{"x"}, prompt: 5, completion: 1},
		{name: "prompt list with token ids", body: `{"prompt":["a b",7,[1,2,3]]}`, prompt: 8}, // 2 x 1.8 + 1 + 3
		{name: "white space only", body: `{"prompt":" \t\v "}`, texts: []string{" \n", "\t"}, prompt: 0, completion: 0},
		{name: "unreadable body", body: `not json`, texts: []string{"abcde"}, prompt: 0, completion: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &streamCollect{}
			for _, s := range tc.texts {
				c.add(s)
			}
			u := estimateUsage([]byte(tc.body), c)
			if u.PromptTokens != tc.prompt || u.CompletionTokens != tc.completion || u.TotalTokens != tc.prompt+tc.completion || !u.Estimated {
				t.Errorf("usage %+v, want prompt %d completion %d, estimated", *u, tc.prompt, tc.completion)
			}
		})
	}
}

// The relay assembles the text of the first choice of each chunk, chat or
// text completion, keeping no more of it than the payload log needs.
func TestSSERelayCollectsText(t *testing.T) {
	kongChunks := []string{
		`data: {    "choices": [        {            "delta": {                "content": "",                "role": "assistant"            },            "finish_reason": null,            "index": 0,            "logprobs": null        }    ],    "model": "gpt-4-0613",    "object": "chat.completion.chunk"}` + "\n\n",
		`data: {"choices":[{"delta":{"content":"The "},"finish_reason":null,"index":0}],"model":"gpt-4-0613"}` + "\n\n" + `data: {"choices":[{"delta":{"content":"answer "},"index":0}]}` + "\n\n",
		`data: {"choices":[{"text":"to 1 + 1 is 2."}]}` + "\n\n",
		`data: {"choices":[{"delta":{},"finish_reason":"stop","index":0}]}` + "\n\n",
		done,
	}
	for _, keep := range []int{0, 5, 1 << 10} {
		o := &outcome{}
		r := newSSERelay(context.Background(), &pieces{parts: append([]string(nil), kongChunks...), err: io.EOF}, o, false)
		r.collect = &streamCollect{keep: keep}
		if _, err := io.ReadAll(r); err != nil {
			t.Fatal(err)
		}
		full := "The answer to 1 + 1 is 2."
		if got := string(r.collect.text); got != full[:min(keep, len(full))] || r.collect.length.len() != len(full) || r.collect.finish != "stop" {
			t.Errorf("keep %d: text %q, length %d, finish %q", keep, got, r.collect.length.len(), r.collect.finish)
		}
		if o.responseModel != "gpt-4-0613" {
			t.Errorf("model %q", o.responseModel)
		}
	}
}

func TestStreamPayload(t *testing.T) {
	c := &streamCollect{keep: 100, finish: "stop"}
	c.add("Hi there")
	var doc struct {
		Choices []struct {
			FinishReason string `json:"finish_reason"`
			Message      struct{ Role, Content string }
		}
		Object string
		Usage  map[string]int
	}
	b := streamPayload(c, &stats.Usage{PromptTokens: 2, CompletionTokens: 2, TotalTokens: 4, Estimated: true})
	if err := json.Unmarshal(b, &doc); err != nil || len(doc.Choices) != 1 || doc.Choices[0].Message.Content != "Hi there" ||
		doc.Choices[0].FinishReason != "stop" || doc.Object != "chat.completion" || doc.Usage["total_tokens"] != 4 || strings.Contains(string(b), "Estimated") {
		t.Errorf("payload %s", b)
	}
}

func TestReadChunk(t *testing.T) {
	tests := []struct {
		data                 string
		model, text, finish  string
		choices, usage, fail bool
	}{
		{data: `{"model":"m","choices":[{"delta":{"content":"a\"b"},"finish_reason":null}],"usage":null}`, model: "m", text: `a"b`, choices: true},
		{data: `{"choices":[],"usage":{"total_tokens":3}}`, usage: true},
		{data: `{"choices":[{"text":"t","finish_reason":"length"}, {"text":"second"}]}`, text: "t", finish: "length", choices: true},
		{data: `{"choices":[{"delta":{"content":null,"tool_calls":[]}}]}`, choices: true},
		{data: `{"model":"m\u00e9","choices":null}`, model: "mé"},
		{data: `{"choices":[1]}`, choices: true},
		{data: `{"choices":[{"delta":{}}`, fail: true},
	}
	for _, tc := range tests {
		c, ok := readChunk([]byte(tc.data))
		if !ok != tc.fail {
			t.Errorf("%s: ok = %v", tc.data, ok)
			continue
		}
		if c.model != tc.model || jsonString(c.text) != tc.text || jsonString(c.finish) != tc.finish || c.choices != tc.choices || (decodeUsage(c.usage) != nil) != tc.usage {
			t.Errorf("%s: %+v", tc.data, c)
		}
	}
}
