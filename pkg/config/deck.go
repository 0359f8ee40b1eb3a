package config

import (
	"fmt"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/limits"
)

// deck is a decK file being compiled: its routes, and every plugin entry
// with the scope it was given, by field or by nesting.
type deck struct {
	w       *walker
	routes  []*deckRoute
	plugins []*pluginEntry
	// routeRefs, serviceRefs and consumerRefs map each name and id a
	// document may use to refer to an entity to one key per entity.
	routeRefs, serviceRefs, consumerRefs map[string]string
	disabledServices                     map[string]bool
	creds                                []credential
	// observers are the log and trace plugins the document uses.
	observers map[string]bool
}

// deckRoute is a route being assembled from a decK file.
type deckRoute struct {
	route *Route
	path  string
	key   string
	// service is the key of the route's service, or "".
	service string
	// serviceRef is a top-level route's reference to its service.
	serviceRef string
}

// pluginEntry is one entry of a plugins list.
type pluginEntry struct {
	path string
	name string
	// written holds the references of the entry's route, service and
	// consumer fields; nested the keys of the entities it is listed under.
	written, nested Scope
	value           any
}

// compileDeck reads a decK file: routes (top level or nested in services)
// and plugins that are global or scoped to a route, a service or a
// consumer, by field or by nesting. As in Kong, the most specific plugin
// instance applies (see precedence).
func compileDeck(w *walker, top map[string]any) *Config {
	o := w.object("", top)
	readDeckHeader(o)
	d := &deck{w: w, routeRefs: map[string]string{}, serviceRefs: map[string]string{}, consumerRefs: map[string]string{},
		disabledServices: map[string]bool{}, observers: map[string]bool{}}
	for i, rv := range o.list("routes") {
		d.readRoute(fmt.Sprintf("routes[%d]", i), rv, "")
	}
	for i, sv := range o.list("services") {
		d.readService(fmt.Sprintf("services[%d]", i), sv)
	}
	for i, pv := range o.list("plugins") {
		d.readPlugin(fmt.Sprintf("plugins[%d]", i), pv, Scope{})
	}
	d.readConsumers(o.list("consumers"))
	o.done()
	d.linkServices()
	idx := d.index()
	defaulted := len(d.routes) == 0
	if defaulted {
		if _, ok := idx["ai-proxy"][Scope{}]; !ok {
			w.fail("plugins", "no routes, and no global ai-proxy plugin for the default route")
			return newConfig(nil)
		}
		d.routes = []*deckRoute{{route: defaultRouteOnly(w), path: "plugins"}}
	}
	var routes []*Route
	for _, dr := range d.routes {
		if !d.disabledServices[dr.service] && applyPlugins(w, dr, idx) {
			if defaulted && dr.route.Plugin.LLMFormat == FormatAnthropic {
				// As for a bare config: Messages clients call
				// .../v1/messages, not .../chat/completions.
				messagesDefaultRoute(w, dr.route)
			}
			routes = append(routes, dr.route)
		}
	}
	cfg := newConfig(routes)
	cfg.Warnings = append(observerWarning(d.observers), compatWarnings(cfg.Routes)...)
	return cfg
}

// readDeckHeader reads the top-level fields other than the entities this
// proxy uses.
func readDeckHeader(o *object) {
	if v := o.str("_format_version"); o.has("_format_version") && !strings.HasPrefix(v, "3.") && !strings.HasPrefix(v, "1.") {
		o.w.fail("_format_version", "expected a 3.x or 1.x format version")
	}
	o.ignore("_transform", "_info", "_workspace", "_konnect")
	// TLS belongs to the edge, upstreams are replaced by ai-proxy's, and
	// vault entities configure prefixes this proxy resolves on its own.
	o.ignore("certificates", "ca_certificates", "snis", "upstreams", "targets", "vaults")
	for i, gv := range o.list("consumer_groups") {
		if g, ok := gv.(map[string]any); ok {
			if l, _ := g["plugins"].([]any); len(l) > 0 {
				o.w.fail(fmt.Sprintf("consumer_groups[%d].plugins", i), "consumer-group scoped plugins are not supported")
			}
		}
	}
}

// applyPlugins sets the plugins that apply to a route, and reports whether
// the route is usable.
func applyPlugins(w *walker, dr *deckRoute, idx map[string]scopes[any]) bool {
	r := dr.route
	p := resolve[*Plugin](idx["ai-proxy"], dr.key, dr.service).Default
	if p == nil {
		w.fail(dr.path, "route %q has no ai-proxy plugin (global, on its service, or on the route)", r.Name)
		return false
	}
	if p.ID == "" {
		// Copy so that a shared plugin is named by each route.
		cp := *p
		cp.ID = r.Name
		p = &cp
	}
	r.Plugin = p
	r.KeyAuth = resolve[*KeyAuth](idx["key-auth"], dr.key, dr.service).Default
	r.RateLimiting = resolve[*limits.Policy](idx[PluginRateLimiting], dr.key, dr.service)
	r.AIRateLimiting = resolve[*limits.Policy](idx[PluginAIRateLimiting], dr.key, dr.service)
	return checkCostPrices(w, dr, r.AIRateLimiting)
}

// checkCostPrices refuses a cost budget on a route whose ai-proxy plugin
// has no prices: every request would count as free.
func checkCostPrices(w *walker, dr *deckRoute, ai Resolved[*limits.Policy]) bool {
	o := dr.route.Plugin.Model.Options
	if o.InputCost != nil || o.OutputCost != nil {
		return true
	}
	all := []*limits.Policy{ai.Default}
	for _, p := range ai.byConsumer {
		all = append(all, p)
	}
	for _, p := range all {
		if p == nil {
			continue
		}
		for _, r := range p.Rules {
			if r.Metric == limits.Cost {
				w.fail(dr.path, "ai-rate-limiting-advanced counts cost on route %q, but its ai-proxy plugin sets no model.options.input_cost or output_cost", dr.route.Name)
				return false
			}
		}
	}
	return true
}

// addRef records that ref names the entity key, refusing a name two
// entities share.
func (d *deck) addRef(refs map[string]string, what, path, ref, key string) {
	if ref == "" {
		return
	}
	if other, dup := refs[ref]; dup && other != key {
		d.w.fail(path, "%s %q is defined twice", what, ref)
		return
	}
	refs[ref] = key
}

// serviceIgnored are Kong service fields (kong/db/schema/entities/
// services.lua): ai-proxy replaces the service's upstream, so its address,
// timeouts and TLS settings are accepted and not used.
var serviceIgnored = []string{"id", "name", "url", "host", "port", "protocol", "path", "tags", "retries", "connect_timeout", "read_timeout", "write_timeout",
	"client_certificate", "tls_verify", "tls_verify_depth", "ca_certificates", "created_at", "updated_at"}

func (d *deck) readService(path string, v any) {
	o := d.w.object(path, v)
	// Kong leaves the routes of a disabled service out of its router
	// (kong/runloop/handler.lua, build_router).
	if !o.boolean("enabled", true) {
		d.disabledServices[path] = true
	}
	d.addRef(d.serviceRefs, "service", join(path, "name"), o.str("name"), path)
	d.addRef(d.serviceRefs, "service", join(path, "id"), o.str("id"), path)
	for j, rv := range o.list("routes") {
		d.readRoute(fmt.Sprintf("%s.routes[%d]", path, j), rv, path)
	}
	for j, pv := range o.list("plugins") {
		d.readPlugin(fmt.Sprintf("%s.plugins[%d]", path, j), pv, Scope{Service: path})
	}
	o.ignore(serviceIgnored...)
	o.done()
}

// linkServices resolves top-level routes' references to their services.
func (d *deck) linkServices() {
	for _, dr := range d.routes {
		if dr.serviceRef == "" {
			continue
		}
		key, ok := d.serviceRefs[dr.serviceRef]
		if !ok {
			d.w.fail(join(dr.path, "service"), "service %q is not defined", dr.serviceRef)
			continue
		}
		dr.service = key
	}
}

// index resolves every plugin entry's scope to entity keys and groups the
// entries by plugin name.
func (d *deck) index() map[string]scopes[any] {
	idx := map[string]scopes[any]{}
	for _, e := range d.plugins {
		sc, ok := Scope{}, true
		sc.Route, ok = d.scopeKey(e, "route", d.routeRefs, e.written.Route, e.nested.Route, ok)
		sc.Service, ok = d.scopeKey(e, "service", d.serviceRefs, e.written.Service, e.nested.Service, ok)
		sc.Consumer, ok = d.scopeKey(e, "consumer", d.consumerRefs, e.written.Consumer, e.nested.Consumer, ok)
		if !ok {
			continue
		}
		s := idx[e.name]
		if s == nil {
			s = scopes[any]{}
			idx[e.name] = s
		}
		if _, dup := s[sc]; dup {
			d.w.fail(e.path, "another %s plugin has the same scope; Kong allows one per route, service and consumer combination", e.name)
			continue
		}
		if p, ok := e.value.(*limits.Policy); ok && p.ID == "" {
			p.ID = d.scopeID(sc)
		}
		s[sc] = e.value
	}
	return idx
}

// scopeID names a scope by its entities' names, not their place in the
// document.
func (d *deck) scopeID(sc Scope) string {
	var parts []string
	if sc.Route != "" {
		for _, dr := range d.routes {
			if dr.key == sc.Route {
				parts = append(parts, "route="+dr.route.Name)
			}
		}
	}
	if sc.Service != "" {
		// The service's name or id, the same in every process.
		name := ""
		for ref, key := range d.serviceRefs {
			if key == sc.Service && (name == "" || ref < name) {
				name = ref
			}
		}
		parts = append(parts, "service="+name)
	}
	if sc.Consumer != "" {
		parts = append(parts, "consumer="+sc.Consumer)
	}
	if len(parts) == 0 {
		return "global"
	}
	return strings.Join(parts, ",")
}

// scopeKey resolves one of a plugin's references. An entry listed under an
// entity may name that entity again, but no other.
func (d *deck) scopeKey(e *pluginEntry, field string, refs map[string]string, written, nested string, ok bool) (string, bool) {
	if written == "" {
		return nested, ok
	}
	key, found := refs[written]
	switch {
	case !found:
		d.w.fail(join(e.path, field), "%s %q is not defined", field, written)
		return "", false
	case nested != "" && key != nested:
		d.w.fail(join(e.path, field), "the plugin is listed under another %s than %q", field, written)
		return "", false
	}
	return key, ok
}
