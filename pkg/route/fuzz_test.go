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

func FuzzHost(f *testing.F) {
	f.Add("*.example.com", "a.example.com:443")
	f.Add("example.*", "example.org")
	f.Add("a.b:8080", "[::1]:8080")
	f.Fuzz(func(t *testing.T, pattern, host string) {
		h, err := CompileHost(pattern)
		if err != nil {
			return
		}
		tbl := NewTable([]*Route{{Name: "r", Hosts: []Host{h}}}, func(r *Route) *Route { return r })
		r, _, _, found := tbl.Match(Request{Method: "GET", Host: host, Path: "/"})
		if found != (r != nil) {
			t.Fatal("found disagrees with the value")
		}
	})
}
