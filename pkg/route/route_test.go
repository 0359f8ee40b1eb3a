package route

import "testing"

func TestPathMatch(t *testing.T) {
	tests := []struct {
		path, req string
		match     bool
		model     string
	}{
		{"~/(?<model>[^#?/]+)/chat/completions$", "/gpt-4o/chat/completions", true, "gpt-4o"},
		{"~/(?<model>[^#?/]+)/chat/completions$", "/gpt-4o/chat/completions/x", false, ""},
		// Anchored at the start, as Kong 3.x does: a stage prefix is not a model.
		{"~/(?<model>[^#?/]+)/chat/completions$", "/prod/gpt-4o/chat/completions", false, ""},
		{"~/(?P<model>[a-z0-9.-]+)/chat/completions$", "/gpt-4o-mini/chat/completions", true, "gpt-4o-mini"},
		{"~/(?<model>gpt-4o|gpt-4o-mini)/chat/completions$", "/o1/chat/completions", false, ""},
		{"/v1", "/v1/chat/completions", true, ""},
		{"/v1", "/v2", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.path+" "+tt.req, func(t *testing.T) {
			p, err := Compile(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			caps, ok := p.Match(tt.req)
			if ok != tt.match || caps["model"] != tt.model {
				t.Errorf("Match = %v %v, want %v %q", caps, ok, tt.match, tt.model)
			}
		})
	}
	for _, bad := range []string{"", "relative", "~/(unclosed"} {
		if _, err := Compile(bad); err == nil {
			t.Errorf("Compile(%q) accepted", bad)
		}
	}
}
