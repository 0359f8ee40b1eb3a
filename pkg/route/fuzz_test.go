package route

import "testing"

func FuzzMatch(f *testing.F) {
	f.Add("~/(?<model>[^#?/]+)/chat/completions$", "/gpt-4o/chat/completions")
	f.Add("/v1", "/v1/x")
	f.Add("~(", "/")
	f.Add("~/(?<a>.*)(?<b>x+)+$", "/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx!")
	f.Fuzz(func(t *testing.T, pattern, path string) {
		p, err := Compile(pattern)
		if err != nil {
			return
		}
		caps, ok := p.Match(path)
		if !ok && caps != nil {
			t.Fatal("captures without a match")
		}
	})
}
