package route

import (
	"strings"
	"testing"
)

func mustRoute(t testing.TB, name string, methods []string, paths ...string) *Route {
	t.Helper()
	r := &Route{Name: name, Methods: methods}
	for _, p := range paths {
		cp, err := Compile(p)
		if err != nil {
			t.Fatal(err)
		}
		r.Paths = append(r.Paths, cp)
	}
	return r
}

func TestTableMatch(t *testing.T) {
	post := []string{"POST"}
	routes := []*Route{
		mustRoute(t, "short-prefix", nil, "/v1"),
		mustRoute(t, "dynamic", post, "~/(?<model>[^/]+)/chat/completions$"),
		mustRoute(t, "long-prefix", post, "/v1/chat"),
		mustRoute(t, "second-regex", nil, "~/v1/chat/(?<rest>.*)$"),
		// Mixed paths: the prefix part ranks by its length, the regex part with the regexes.
		mustRoute(t, "mixed", post, "/other", "~/m/(?<id>[0-9]+)$"),
		mustRoute(t, "get-only", []string{"GET"}, "/models"),
	}
	tbl := NewTable(routes, func(r *Route) *Route { return r })
	tests := []struct {
		method, path string
		want         string // "" when nothing matches
		allowed      bool
		caps         string
	}{
		// Regex paths before prefix paths, in the order of the document.
		{"POST", "/gpt-4o/chat/completions", "dynamic", true, "model=gpt-4o"},
		{"POST", "/v1/chat/x", "second-regex", true, "rest=x"},
		// Among prefixes the longest wins, whatever the order.
		{"POST", "/v1/chat", "long-prefix", true, ""},
		{"POST", "/v1/models", "short-prefix", true, ""},
		// A route that matches all but the method is returned as not allowed
		// when no other route takes the request...
		{"GET", "/models", "get-only", true, ""},
		{"POST", "/models", "get-only", false, ""},
		{"GET", "/m/12", "mixed", false, ""},
		{"POST", "/m/12", "mixed", true, "id=12"},
		{"POST", "/other/x", "mixed", true, ""},
		// ...but a route that allows the method wins over it.
		{"GET", "/v1/chat/completions", "second-regex", true, "rest=completions"},
		{"GET", "/gpt-4o/chat/completions", "dynamic", false, ""},
		{"POST", "/nothing", "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r, caps, allowed, found := tbl.Match(Request{Method: tt.method, Path: tt.path})
			if tt.want == "" {
				if found || r != nil {
					t.Fatalf("matched %v", r)
				}
				return
			}
			if !found || r.Name != tt.want || allowed != tt.allowed {
				t.Fatalf("got %v allowed=%v found=%v, want %s allowed=%v", r, allowed, found, tt.want, tt.allowed)
			}
			var kv []string
			for k, v := range caps {
				kv = append(kv, k+"="+v)
			}
			if strings.Join(kv, ",") != tt.caps {
				t.Errorf("captures = %v, want %s", caps, tt.caps)
			}
		})
	}
	var empty *Table[*Route]
	if _, _, _, found := empty.Match(Request{Method: "POST", Path: "/"}); found {
		t.Error("a nil table matched")
	}
}

func TestAllowHeader(t *testing.T) {
	if got := (&Route{}).AllowHeader(); got != "POST" {
		t.Errorf("no methods: %q", got)
	}
	if got := (&Route{Methods: []string{"GET", "POST"}}).AllowHeader(); got != "GET, POST" {
		t.Errorf("two methods: %q", got)
	}
}
