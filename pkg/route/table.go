package route

import (
	"net/http"
	"sort"
	"strings"
)

// Route is what Kong matches a request on. A field left empty matches any
// request.
type Route struct {
	Name    string
	Paths   []*Path
	Methods []string // upper case
	Hosts   []Host
	Headers []Header
	// RegexPriority orders routes that match by regex paths: higher first.
	RegexPriority int
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
	paths []*Path // empty: any path
	prio  priority
	value V
}

// priority is Kong's order of evaluation for routes that are not
// expressions (kong/router/transform.lua, get_priority), field by field from
// the most significant bits down.
type priority struct {
	// weight counts the fields the route matches on: methods, hosts,
	// headers, paths. A route with more conditions goes first.
	weight int
	// plainHosts: hosts given, none with a wildcard.
	plainHosts bool
	headers    int
	regex      bool
	// regexPriority counts only for a regex entry, length only for a
	// prefix entry.
	regexPriority int
	length        int
}

func (a priority) before(b priority) bool {
	switch {
	case a.weight != b.weight:
		return a.weight > b.weight
	case a.plainHosts != b.plainHosts:
		return a.plainHosts
	case a.headers != b.headers:
		return a.headers > b.headers
	case a.regex != b.regex:
		return a.regex
	case a.regexPriority != b.regexPriority:
		return a.regexPriority > b.regexPriority
	}
	return a.length > b.length
}

// NewTable compiles routes into a table. routeOf gives the route of a value.
// Routes of equal priority keep their order in the document; Kong leaves
// that order unspecified.
func NewTable[V any](values []V, routeOf func(V) *Route) *Table[V] {
	t := &Table[V]{}
	for _, v := range values {
		r := routeOf(v)
		base := basePriority(r)
		for _, group := range groupPaths(r.Paths) {
			p := base
			if len(group) > 0 {
				p.weight++
				if group[0].IsRegex() {
					p.regex, p.regexPriority = true, r.RegexPriority
				} else {
					p.length = len(group[0].Source)
				}
			}
			t.entries = append(t.entries, entry[V]{route: r, paths: group, prio: p, value: v})
		}
	}
	sort.SliceStable(t.entries, func(i, j int) bool { return t.entries[i].prio.before(t.entries[j].prio) })
	return t
}

func basePriority(r *Route) priority {
	var p priority
	if len(r.Methods) > 0 {
		p.weight++
	}
	if len(r.Hosts) > 0 {
		p.weight++
		p.plainHosts = true
		for _, h := range r.Hosts {
			if h.suffix || h.prefix {
				p.plainHosts = false
			}
		}
	}
	if len(r.Headers) > 0 {
		p.weight++
		p.headers = min(len(r.Headers), 255)
	}
	return p
}

// groupPaths splits paths into the regex paths and the prefixes of each
// length, in order of first appearance. No paths is one group that matches
// any path.
func groupPaths(paths []*Path) [][]*Path {
	if len(paths) == 0 {
		return [][]*Path{nil}
	}
	var groups [][]*Path
	index := map[int]int{} // prefix length, or -1 for regex -> group
	for _, p := range paths {
		k := len(p.Source)
		if p.IsRegex() {
			k = -1
		}
		i, ok := index[k]
		if !ok {
			i = len(groups)
			index[k] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], p)
	}
	return groups
}

// Match finds the route for a request. It returns the route's value and its
// regex captures. When a route matches all but the method, it returns that
// route's value with allowed=false, so the caller can answer 405 rather than
// 404 (Kong answers 404). found is false when nothing matches.
func (t *Table[V]) Match(req Request) (v V, captures map[string]string, allowed, found bool) {
	if t == nil {
		return v, nil, false, false
	}
	host, port := requestHost(&req)
	var methodOnly *entry[V]
	for i := range t.entries {
		e := &t.entries[i]
		if !e.route.matchHost(host, port) || !e.route.matchHeaders(req.Header) {
			continue
		}
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

func (r *Route) matchHost(host string, port int) bool {
	if len(r.Hosts) == 0 {
		return true
	}
	for i := range r.Hosts {
		if r.Hosts[i].match(host, port) {
			return true
		}
	}
	return false
}

func (r *Route) matchHeaders(h http.Header) bool {
	for i := range r.Headers {
		if !r.Headers[i].match(h) {
			return false
		}
	}
	return true
}

func (e *entry[V]) matchPath(path string) (map[string]string, bool) {
	if len(e.paths) == 0 {
		return nil, true
	}
	for _, p := range e.paths {
		if caps, ok := p.Match(path); ok {
			return caps, true
		}
	}
	return nil, false
}
