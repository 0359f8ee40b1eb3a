package stats

import (
	"io"
	"os"
	"testing"
	"time"
)

// BenchmarkObserve is the statistics cost of one request as the binary pays
// it: the line and the EMF record formatted, then handed to the sink.
// sink=pipe writes each line to a pipe (stdout on Lambda is one) with a
// reader draining it; sink=batched puts a Writer in front of that pipe, as
// the binary does.
//
//	go test -run '^$' -bench Observe -cpuprofile cpu.out ./pkg/stats
func BenchmarkObserve(b *testing.B) {
	for _, sink := range []string{"discard", "pipe", "batched"} {
		b.Run("sink="+sink, func(b *testing.B) {
			var w io.Writer = io.Discard
			switch sink {
			case "pipe":
				w = pipeSink(b)
			case "batched":
				bw := NewWriter(pipeSink(b), 0, 0)
				b.Cleanup(func() { bw.Close() })
				w = bw
			}
			r := New(Options{Out: w, EMF: w})
			rec := benchRecord()
			b.ReportAllocs()
			for b.Loop() {
				r.Observe(rec)
			}
		})
	}
}

func benchRecord() *Record {
	return &Record{Time: time.Now(), RequestID: "c0ffee00-1111-2222-3333-444455556666", Route: "default", PluginID: "default", Consumer: "team-a", Provider: "openai", Status: 200,
		RequestModel: "gpt-4o-mini", ResponseModel: "gpt-4o-mini-2024-07-18", Usage: &Usage{PromptTokens: 11, CompletionTokens: 1, TotalTokens: 12}, InputCost: 2.5, OutputCost: 10,
		Duration: 1234567 * time.Nanosecond, LLMLatency: 1100 * time.Microsecond, TimeToFirstToken: 900 * time.Microsecond, LogStatistics: true}
}

func pipeSink(b *testing.B) io.Writer {
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, r) }()
	b.Cleanup(func() { w.Close() })
	return w
}
