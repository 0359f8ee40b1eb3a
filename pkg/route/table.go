package route

import (
	"net/http"
	"sort"
	"strings"
)

// Route is what Kong matches a request on.
type Route struct {
	Name    string
	Paths   []*Path
	Methods []string // upper case; empty means any
}

// AllowHeader is the value of an Allow header for a 405 on this route.
func (r *Route) AllowHeader() string {
	if len(r.Methods) == 0 {
		return http.MethodPost
	}
	return strings.Join(r.Methods, ", ")
}

func (r *Route) allows(method string) bool {
	if len(r.Methods) == 0 {
		return true
	}
	for _, m := range r.Methods {
		if m == method {
			return true
		}
	}
	return false
}

// Request is what a route is matched on.
type Request struct {
	Method string
	// Host is the request's Host header, port included if it has one.
	Host string
	// Path is percent-decoded and dot-segment-normalized.
	Path   string
	Header http.Header
}

// Table is the compiled routing of one configuration version: routes in the
// order Kong evaluates them, each carrying its value V. It is built once and
// read concurrently.
type Table[V any] struct {
	entries []entry[V]
}

// entry is one route's paths of one kind: all its regex paths, or all its
// prefix paths of one length. Kong 3.x splits a route the same way
// (kong/router/transform.lua split_routes_and_services_by_path) so that each
// part gets its own priority.
type entry[V any] struct {
	route *Route
	paths []*Path
	regex bool
	// length is the prefix length; 0 for regex entries.
	length int
	value  V
}

// NewTable compiles routes into a table. routeOf gives the route of a value.
func NewTable[V any](values []V, routeOf func(V) *Route) *Table[V] {
	t := &Table[V]{}
	for _, v := range values {
		r := routeOf(v)
		var regex []*Path
		prefixes := map[int][]*Path{}
		var lengths []int
		for _, p := range r.Paths {
			if p.IsRegex() {
				regex = append(regex, p)
				continue
			}
			n := len(p.Source)
			if _, ok := prefixes[n]; !ok {
				lengths = append(lengths, n)
			}
			prefixes[n] = append(prefixes[n], p)
		}
		if len(regex) > 0 {
			t.entries = append(t.entries, entry[V]{route: r, paths: regex, regex: true, value: v})
		}
		for _, n := range lengths {
			t.entries = append(t.entries, entry[V]{route: r, paths: prefixes[n], length: n, value: v})
		}
	}
	// Regex paths before prefix paths; among prefixes the longest first;
	// otherwise the order of the document.
	sort.SliceStable(t.entries, func(i, j int) bool {
		a, b := &t.entries[i], &t.entries[j]
		if a.regex != b.regex {
			return a.regex
		}
		return a.length > b.length
	})
	return t
}

// Match finds the route for a request. It returns the route's value and its
// regex captures. When a route matches all but the method, it returns that
// route's value with allowed=false, so the caller can answer 405 rather than
// 404. found is false when nothing matches.
func (t *Table[V]) Match(req Request) (v V, captures map[string]string, allowed, found bool) {
	if t == nil {
		return v, nil, false, false
	}
	var methodOnly *entry[V]
	for i := range t.entries {
		e := &t.entries[i]
		caps, ok := e.matchPath(req.Path)
		if !ok {
			continue
		}
		if e.route.allows(req.Method) {
			return e.value, caps, true, true
		}
		if methodOnly == nil {
			methodOnly = e
		}
	}
	if methodOnly != nil {
		return methodOnly.value, nil, false, true
	}
	return v, nil, false, false
}

func (e *entry[V]) matchPath(path string) (map[string]string, bool) {
	for _, p := range e.paths {
		if caps, ok := p.Match(path); ok {
			return caps, true
		}
	}
	return nil, false
}
