package responses

import (
	"bytes"
	"io"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

// BenchmarkRequest is the translation CPU of one Responses request of the
// size of a short conversation with a tool.
func BenchmarkRequest(b *testing.B) {
	body := []byte(`{"model":"m","instructions":"You are a helpful assistant. Answer briefly.","input":[{"role":"user","content":"The quick brown fox jumps over the lazy dog while the proxy relays every byte. The quick brown fox jumps over the lazy dog."},{"type":"function_call","call_id":"c1","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},{"type":"function_call_output","call_id":"c1","output":"18C"}],"tools":[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}],"stream":true,"max_output_tokens":256}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Request(body, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamChunk is the translation CPU per chat chunk of a text
// stream.
func BenchmarkStreamChunk(b *testing.B) {
	s := chat.NewStream("m", true)
	one := s.Content("tok ")
	var in bytes.Buffer
	in.Write(s.Role())
	const n = 1000
	for range n {
		in.Write(one)
	}
	in.Write(s.Finish(chat.FinishStop))
	in.Write(s.Usage(chat.NewUsage(10, 0, 0, n)))
	in.Write(s.Done())
	raw := in.Bytes()
	buf := make([]byte, 32<<10)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		st := NewStream(io.NopCloser(bytes.NewReader(raw)), "m", &Echo{})
		for {
			if _, err := st.Read(buf); err != nil {
				break
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n/1000, "µs/chunk")
}
