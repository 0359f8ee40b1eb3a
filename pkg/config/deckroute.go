package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/route"
)

// routeIgnored are Kong route fields (kong/db/schema/entities/routes.lua)
// that cannot apply to a function behind an HTTPS endpoint: TLS names and
// local addresses belong to the edge, and the upstream request is ai-proxy's
// own, so the path, host and buffering settings for it change nothing.
var routeIgnored = []string{"id", "tags", "created_at", "updated_at", "snis", "destinations",
	"strip_path", "preserve_host", "path_handling", "https_redirect_status_code", "request_buffering", "response_buffering"}

// readRoute reads a route; service is the key of the service it is nested
// in, or "".
func (d *deck) readRoute(path string, v any, service string) {
	o := d.w.object(path, v)
	dr := &deckRoute{route: &Route{}, path: path, key: path, service: service}
	r := dr.route
	r.Name = o.str("name")
	id := o.str("id")
	if r.Name == "" {
		r.Name = id
	}
	if r.Name == "" {
		r.Name = strings.NewReplacer("[", "-", "]", "", ".", "-").Replace(path)
	}
	d.addRef(d.routeRefs, "route", join(path, "name"), o.str("name"), dr.key)
	d.addRef(d.routeRefs, "route", join(path, "id"), id, dr.key)
	readMatchFields(o, &r.Route)
	if service == "" {
		dr.serviceRef = refName(o, "service")
	} else {
		o.ignore("service")
	}
	for i, pv := range o.list("plugins") {
		d.readPlugin(fmt.Sprintf("%s.plugins[%d]", path, i), pv, Scope{Route: dr.key})
	}
	o.ignore(routeIgnored...)
	o.done()
	d.routes = append(d.routes, dr)
}

// readMatchFields reads what a route matches requests on.
func readMatchFields(o *object, r *route.Route) {
	w := o.w
	r.Paths = append(r.Paths, compileEach(o, "paths", route.Compile)...)
	for _, m := range o.strings("methods") {
		r.Methods = append(r.Methods, strings.ToUpper(m))
	}
	r.Hosts = append(r.Hosts, compileEach(o, "hosts", route.CompileHost)...)
	r.Headers = readHeaders(o.child("headers"))
	if n := o.integer("regex_priority", -1<<31, 1<<31-1); n != nil {
		r.RegexPriority = *n
	}
	if len(r.Paths)+len(r.Methods)+len(r.Hosts)+len(r.Headers) == 0 && len(o.list("paths")) == 0 {
		w.fail(join(o.path, "paths"), "a route needs paths, hosts, headers or methods")
	}
	checkProtocols(o)
	// Refused rather than ignored: each restricts who may use the route,
	// and ignoring it would open the route to everyone.
	if len(o.list("sources")) > 0 {
		w.fail(join(o.path, "sources"), "not supported: routing by client address is not implemented, and ignoring it would open the route to every client")
	}
	for _, f := range []string{"expression", "priority"} {
		if o.has(f) {
			w.fail(join(o.path, f), "expression routes are not supported; use paths, hosts, headers and methods")
		}
	}
}

// compileEach compiles each string of the list key, reporting a bad one
// at its own index and leaving it out.
func compileEach[T any](o *object, key string, compile func(string) (T, error)) []T {
	var out []T
	for i, s := range o.strings(key) {
		c, err := compile(s)
		if err != nil {
			o.w.fail(fmt.Sprintf("%s.%s[%d]", o.path, key, i), "%v", err)
			continue
		}
		out = append(out, c)
	}
	return out
}

// readHeaders reads a route's headers, a map of names to lists of values.
func readHeaders(o *object) []route.Header {
	names := make([]string, 0, len(o.m))
	for n := range o.m {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []route.Header
	for _, n := range names {
		h, err := route.CompileHeader(n, o.strings(n))
		if err != nil {
			o.w.fail(join(o.path, n), "%v", err)
			continue
		}
		out = append(out, h)
	}
	return out
}

// checkProtocols refuses a route that Kong would only match on a stream
// (tcp, tls, udp) or gRPC listener: it cannot take an HTTP request.
func checkProtocols(o *object) {
	ps := o.strings("protocols")
	if len(ps) == 0 {
		return
	}
	for _, p := range ps {
		if p == "http" || p == "https" {
			return
		}
	}
	o.w.fail(join(o.path, "protocols"), "a route for %s cannot take HTTP requests; include http or https", strings.Join(ps, ", "))
}
