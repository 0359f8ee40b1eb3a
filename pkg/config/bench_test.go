package config

import (
	"context"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
)

// Per request the proxy finds the route (Config.Match) and resolves the
// model template; both run before any byte goes upstream.

var sinkString string

func BenchmarkTemplateResolve(b *testing.B) {
	for _, c := range []struct{ name, tmpl string }{
		{"capture", "$(uri_captures.model)"},
		{"static", "gpt-4o-mini"},
		{"mixed", "$(headers.x-family)-$(query_params.size)"},
	} {
		t, err := ParseTemplate(c.tmpl)
		if err != nil {
			b.Fatal(err)
		}
		lookup := func(source, key string) (string, bool) {
			switch source {
			case SourceURICaptures:
				return "gpt-4o-mini", true
			case SourceHeaders:
				return "gpt-4o", true
			default:
				return "mini", true
			}
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v, err := t.Resolve(lookup)
				if err != nil {
					b.Fatal(err)
				}
				sinkString = v
			}
		})
	}
}

func BenchmarkConfigMatch(b *testing.B) {
	cfg, err := Parse(context.Background(), []byte(stub.PluginConfig("http://127.0.0.1:9/v1/chat/completions", "Bearer bench-key")), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		rt, caps, ok := cfg.Match("POST", "", "/gpt-4o-mini/chat/completions", nil)
		if rt == nil || !ok {
			b.Fatal("no route")
		}
		sinkString = caps["model"]
	}
}
