package gemini

import (
	"bytes"
	"io"
	"testing"
)

func BenchmarkRequest(b *testing.B) {
	body := []byte(`{"model":"m","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"What is the weather in Paris and the time there?"}],"max_tokens":256,"temperature":0.2,"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := translate(body, "gemini-2.5-flash", nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStreamChunk(b *testing.B) {
	ev := []byte("data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\" a few words of text\"}]}}],\"usageMetadata\":{\"promptTokenCount\":11},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"abc\"}\r\n\r\n")
	stream := bytes.Repeat(ev, b.N+1)
	e := newEvents(io.NopCloser(bytes.NewReader(stream)), "m", true)
	b.ReportAllocs()
	b.SetBytes(int64(len(ev)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Next(); err != nil {
			b.Fatal(err)
		}
	}
}
