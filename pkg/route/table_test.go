package route

import (
	"net/http"
	"sort"
	"strings"
	"testing"
)

type spec struct {
	name          string
	methods       []string
	paths         []string
	hosts         []string
	headers       map[string][]string
	regexPriority int
}

func compileSpecs(t testing.TB, specs []spec) *Table[*Route] {
	t.Helper()
	var routes []*Route
	for _, s := range specs {
		r := &Route{Name: s.name, Methods: s.methods, RegexPriority: s.regexPriority}
		for _, p := range s.paths {
			cp, err := Compile(p)
			if err != nil {
				t.Fatal(err)
			}
			r.Paths = append(r.Paths, cp)
		}
		for _, h := range s.hosts {
			ch, err := CompileHost(h)
			if err != nil {
				t.Fatal(err)
			}
			r.Hosts = append(r.Hosts, ch)
		}
		for n, v := range s.headers {
			ch, err := CompileHeader(n, v)
			if err != nil {
				t.Fatal(err)
			}
			r.Headers = append(r.Headers, ch)
		}
		routes = append(routes, r)
	}
	return NewTable(routes, func(r *Route) *Route { return r })
}

type matchCase struct {
	method, host, path string
	header             http.Header
	want               string // "" when nothing matches
	allowed            bool
	caps               string
}

func checkMatches(t *testing.T, tbl *Table[*Route], tests []matchCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.host+tt.path, func(t *testing.T) {
			r, caps, allowed, found := tbl.Match(Request{Method: tt.method, Host: tt.host, Path: tt.path, Header: tt.header})
			if tt.want == "" {
				if found || r != nil {
					t.Fatalf("matched %s", r.Name)
				}
				return
			}
			if !found {
				t.Fatalf("no match, want %s", tt.want)
			}
			if r.Name != tt.want || allowed != tt.allowed {
				t.Fatalf("got %s allowed=%v, want %s allowed=%v", r.Name, allowed, tt.want, tt.allowed)
			}
			var kv []string
			for k, v := range caps {
				kv = append(kv, k+"="+v)
			}
			sort.Strings(kv)
			if strings.Join(kv, ",") != tt.caps {
				t.Errorf("captures = %v, want %s", caps, tt.caps)
			}
		})
	}
}

// Paths and methods only: Kong 3.x's order (kong/router/transform.lua
// get_priority) puts routes with more conditions first, then regex paths
// before prefixes, then the higher regex_priority, then the longer prefix.
func TestTableMatchPathsAndMethods(t *testing.T) {
	post := []string{"POST"}
	tbl := compileSpecs(t, []spec{
		{name: "short-prefix", paths: []string{"/v1"}},
		{name: "dynamic", methods: post, paths: []string{"~/(?<model>[^/]+)/chat/completions$"}},
		{name: "long-prefix", methods: post, paths: []string{"/v1/chat"}},
		{name: "any-method-regex", paths: []string{"~/v1/chat/(?<rest>.*)$"}},
		// Mixed paths: the prefix part ranks by its length, the regex part with the regexes.
		{name: "mixed", methods: post, paths: []string{"/other", "~/m/(?<id>[0-9]+)$"}},
		{name: "get-only", methods: []string{"GET"}, paths: []string{"/models"}},
		{name: "low", paths: []string{"~/p/(?<a>.*)$"}},
		{name: "high", paths: []string{"~/p/(?<b>x.*)$"}, regexPriority: 10},
	})
	checkMatches(t, tbl, []matchCase{
		{method: "POST", path: "/gpt-4o/chat/completions", want: "dynamic", allowed: true, caps: "model=gpt-4o"},
		// A route with methods outranks one without, regex or not.
		{method: "POST", path: "/v1/chat/x", want: "long-prefix", allowed: true},
		{method: "GET", path: "/v1/chat/x", want: "any-method-regex", allowed: true, caps: "rest=x"},
		// Among prefixes the longest wins, whatever the order.
		{method: "POST", path: "/v1/models", want: "short-prefix", allowed: true},
		// regex_priority: higher first, whatever the order.
		{method: "POST", path: "/p/xyz", want: "high", allowed: true, caps: "b=xyz"},
		{method: "POST", path: "/p/abc", want: "low", allowed: true, caps: "a=abc"},
		// A route that matches all but the method is returned as not
		// allowed when no other route takes the request...
		{method: "GET", path: "/models", want: "get-only", allowed: true},
		{method: "POST", path: "/models", want: "get-only", allowed: false},
		{method: "GET", path: "/m/12", want: "mixed", allowed: false},
		{method: "POST", path: "/m/12", want: "mixed", allowed: true, caps: "id=12"},
		{method: "POST", path: "/other/x", want: "mixed", allowed: true},
		// ...but a route that allows the method wins over it.
		{method: "GET", path: "/gpt-4o/chat/completions", want: "dynamic", allowed: false},
		{method: "GET", path: "/v1/chat/completions", want: "any-method-regex", allowed: true, caps: "rest=completions"},
		{method: "POST", path: "/nothing", want: ""},
	})
	var empty *Table[*Route]
	if _, _, _, found := empty.Match(Request{Method: "POST", Path: "/"}); found {
		t.Error("a nil table matched")
	}
}

func TestTableMatchHostsAndHeaders(t *testing.T) {
	tbl := compileSpecs(t, []spec{
		{name: "any-host", paths: []string{"/"}},
		{name: "wild-sub", hosts: []string{"*.example.com"}, paths: []string{"/"}},
		{name: "plain", hosts: []string{"api.example.com", "API2.example.com"}, paths: []string{"/"}},
		{name: "wild-tld", hosts: []string{"example.*"}, paths: []string{"/"}},
		{name: "port", hosts: []string{"local.test:8080"}, paths: []string{"/"}},
		{name: "https-port", hosts: []string{"tls.test:443"}, paths: []string{"/"}},
		{name: "header", headers: map[string][]string{"x-team": {"Blue", "green"}}, paths: []string{"/"}},
		{name: "header-regex", headers: map[string][]string{"X_Version": {"~*^v[0-9]+$"}}, paths: []string{"/"}},
		{name: "two-headers", headers: map[string][]string{"x-region": {"eu"}, "x-tier": {"gold"}}, paths: []string{"/"}},
		{name: "host-only", hosts: []string{"bare.test"}},
		{name: "ipv6", hosts: []string{"[::1]"}, paths: []string{"/"}},
	})
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = append(out[kv[i]], kv[i+1])
		}
		return out
	}
	checkMatches(t, tbl, []matchCase{
		{method: "POST", host: "other.test", path: "/x", want: "any-host", allowed: true},
		// A plain host outranks a wildcard; the Host header's case, port
		// and final dot do not matter.
		{method: "POST", host: "API.example.com:443", path: "/x", want: "plain", allowed: true},
		{method: "POST", host: "api2.example.com.", path: "/x", want: "plain", allowed: true},
		{method: "POST", host: "a.b.example.com", path: "/x", want: "wild-sub", allowed: true},
		// "*.example.com" needs a subdomain; "example.*" any ending.
		{method: "POST", host: "example.com", path: "/x", want: "wild-tld", allowed: true},
		{method: "POST", host: "example.co.uk", path: "/x", want: "wild-tld", allowed: true},
		{method: "POST", host: "notexample.com", path: "/x", want: "any-host", allowed: true},
		{method: "POST", host: "evil-example.com", path: "/x", want: "any-host", allowed: true},
		// A host with a port needs that port: the header's, else 443 (80
		// when the edge says the scheme was http).
		{method: "POST", host: "local.test:8080", path: "/x", want: "port", allowed: true},
		{method: "POST", host: "local.test", path: "/x", want: "any-host", allowed: true},
		{method: "POST", host: "tls.test", path: "/x", want: "https-port", allowed: true},
		{method: "POST", host: "tls.test", path: "/x", header: h("X-Forwarded-Proto", "http"), want: "any-host", allowed: true},
		// Headers: values case-insensitive, any of the request's values;
		// more headers outrank fewer; "_" and "-" alike.
		{method: "POST", host: "h.test", path: "/x", header: h("X-Team", "BLUE"), want: "header", allowed: true},
		{method: "POST", host: "h.test", path: "/x", header: h("X-Team", "red", "X-Team", "green"), want: "header", allowed: true},
		{method: "POST", host: "h.test", path: "/x", header: h("X-Team", "red"), want: "any-host", allowed: true},
		{method: "POST", host: "h.test", path: "/x", header: h("X-Team", "blue", "X-Tier", "gold", "X-Region", "EU"), want: "two-headers", allowed: true},
		{method: "POST", host: "h.test", path: "/x", header: h("X-Team", "blue", "X-Tier", "gold"), want: "header", allowed: true},
		{method: "POST", host: "h.test", path: "/x", header: h("X-Version", "V12"), want: "header-regex", allowed: true},
		{method: "POST", host: "h.test", path: "/x", header: h("X_version", "v1"), want: "header-regex", allowed: true},
		{method: "POST", host: "h.test", path: "/x", header: h("X-Version", "12"), want: "any-host", allowed: true},
		{method: "POST", host: "[::1]", path: "/x", want: "ipv6", allowed: true},
		{method: "POST", host: "[::1]:8080", path: "/x", want: "ipv6", allowed: true},
		// A route without paths takes any path.
		{method: "GET", host: "bare.test", path: "/any/thing", want: "host-only", allowed: true},
	})
}

func TestCompileHostAndHeader(t *testing.T) {
	for _, good := range []string{"example.com", "*.example.com", "example.*", "a.b:8080", "[::1]:8443", "localhost", "xn--bcher-kva.example"} {
		if _, err := CompileHost(good); err != nil {
			t.Errorf("CompileHost(%q): %v", good, err)
		}
	}
	for _, bad := range []string{"", "*", "a.*.com", "*.a.*", "ex*ample.com", "*example.com", "a.b:0", "a.b:x", "a b", "a/b", "*.example.com:99999"} {
		if _, err := CompileHost(bad); err == nil {
			t.Errorf("CompileHost(%q) accepted", bad)
		}
	}
	for _, bad := range []struct {
		name   string
		values []string
	}{{"Host", []string{"x"}}, {"x-a", nil}, {"x-a", []string{"~*("}}} {
		if _, err := CompileHeader(bad.name, bad.values); err == nil {
			t.Errorf("CompileHeader(%q, %q) accepted", bad.name, bad.values)
		}
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
