package route

import (
	"net/http"
	"testing"
)

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

// A table of a dozen routes of every kind, matched by the last-ranked one:
// the cost per request of Kong's ordering with hosts and headers.
func BenchmarkTableMatch(b *testing.B) {
	specs := []spec{
		{name: "dynamic", methods: []string{"POST"}, paths: []string{"~/(?<model>[^#?/]+)/chat/completions$"}},
		{name: "beta", headers: map[string][]string{"x-channel": {"beta"}}, paths: []string{"/"}},
		{name: "tenant", hosts: []string{"*.tenants.example.com"}, paths: []string{"/v1"}},
		{name: "api", hosts: []string{"api.example.com"}, paths: []string{"/v1"}},
	}
	for i := range 8 {
		specs = append(specs, spec{name: "prefix", paths: []string{"/p" + string(rune('a'+i))}})
	}
	specs = append(specs, spec{name: "fallback", paths: []string{"/"}})
	tbl := compileSpecs(b, specs)
	req := Request{Method: "GET", Host: "other.example", Path: "/models", Header: http.Header{"Content-Type": {"application/json"}}}
	b.ReportAllocs()
	for b.Loop() {
		r, _, _, _ := tbl.Match(req)
		if r == nil || r.Name != "fallback" {
			b.Fatal("wrong route")
		}
	}
}
