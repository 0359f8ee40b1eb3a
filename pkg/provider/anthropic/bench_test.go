package anthropic

import (
	"io"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// BenchmarkRequest is the translation of a typical chat request: decode,
// check, map, encode.
func BenchmarkRequest(b *testing.B) {
	body := []byte(`{"model":"claude-sonnet-4-5","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"What is the weather in Paris and in Tokyo today? Answer briefly."}],"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],"max_tokens":512,"temperature":0.2,"stream":true,"stream_options":{"include_usage":true}}`)
	p := plugin()
	d := &Driver{}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Prepare(&provider.Call{Plugin: p, Model: "claude-sonnet-4-5", Stream: true, Body: body}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamChunk is the translation of one text delta event into
// one OpenAI chunk.
func BenchmarkStreamChunk(b *testing.B) {
	ev := []byte("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello there, this is a token or two\"}}\n\n")
	e := newEvents(io.NopCloser(&cycle{ev: ev}), "m", true)
	e.blocks[0] = &open{kind: "text"}
	b.ReportAllocs()
	b.SetBytes(int64(len(ev)))
	for b.Loop() {
		if _, err := e.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

// cycle repeats one event forever.
type cycle struct {
	ev  []byte
	off int
}

func (c *cycle) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], c.ev[c.off:])
		n += k
		c.off = (c.off + k) % len(c.ev)
	}
	return n, nil
}
