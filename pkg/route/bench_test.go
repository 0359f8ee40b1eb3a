package route

import "testing"

// The hot path matches every request's path against the route: the seed's
// dynamic-model regex (the common case) and a prefix route.

var sinkCaps map[string]string

func BenchmarkPathMatchRegex(b *testing.B) {
	p, err := Compile("~/(?<model>[^#?/]+)/chat/completions$")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		caps, ok := p.Match("/gpt-4o-mini/chat/completions")
		if !ok {
			b.Fatal("no match")
		}
		sinkCaps = caps
	}
}

func BenchmarkPathMatchPrefix(b *testing.B) {
	p, err := Compile("/openai")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := p.Match("/openai/v1/chat/completions"); !ok {
			b.Fatal("no match")
		}
	}
}
