package config

// Scope is where a plugin instance applies: the route, service and consumer
// its entity references (Kong's plugin foreign keys), each "" when unset. The
// zero Scope is global.
type Scope struct {
	Route, Service, Consumer string
}

// precedence is Kong's order for choosing among the instances of one plugin
// (kong/runloop/plugins_iterator.lua, lookup_cfg): the first combination
// that has an instance wins, and global comes last.
//
//  1. route + service + consumer
//  2. route + consumer
//  3. service + consumer
//  4. route + service
//  5. consumer
//  6. route
//  7. service
//  8. global
var precedence = [...]struct{ route, service, consumer bool }{
	{true, true, true},
	{true, false, true},
	{false, true, true},
	{true, true, false},
	{false, false, true},
	{true, false, false},
	{false, true, false},
	{false, false, false},
}

// scopes holds the instances of one plugin kind by scope. Kong refuses two
// instances of one plugin with the same scope (the plugins entity's
// cache_key), so one scope has at most one instance.
type scopes[T any] map[Scope]T

// lookup returns the instance that applies to a request on route (of
// service) by consumer; "" stands for no route, service or consumer.
func (s scopes[T]) lookup(route, service, consumer string) (T, bool) {
	for _, p := range precedence {
		if (p.route && route == "") || (p.service && service == "") || (p.consumer && consumer == "") {
			continue
		}
		var sc Scope
		if p.route {
			sc.Route = route
		}
		if p.service {
			sc.Service = service
		}
		if p.consumer {
			sc.Consumer = consumer
		}
		if v, ok := s[sc]; ok {
			return v, true
		}
	}
	var zero T
	return zero, false
}

// Resolved is the instance of one plugin kind that applies on one route:
// Default before (or without) authentication, and for each consumer that
// has a more specific instance, that one.
type Resolved[T any] struct {
	Default    T
	byConsumer map[string]T
}

// For returns the instance that applies once consumer is authenticated.
func (r Resolved[T]) For(consumer string) T {
	if v, ok := r.byConsumer[consumer]; ok {
		return v
	}
	return r.Default
}

// resolve computes, once per configuration version, what lookup would
// answer for every request on one route. A consumer without an instance of
// its own gets what a request without a consumer gets: only the combinations
// that name a consumer differ between the two.
func resolve[T any](s scopes[any], route, service string) Resolved[T] {
	var r Resolved[T]
	if v, ok := s.lookup(route, service, ""); ok {
		r.Default = v.(T)
	}
	for sc := range s {
		if sc.Consumer == "" {
			continue
		}
		if _, done := r.byConsumer[sc.Consumer]; done {
			continue
		}
		if v, ok := s.lookup(route, service, sc.Consumer); ok {
			if r.byConsumer == nil {
				r.byConsumer = map[string]T{}
			}
			r.byConsumer[sc.Consumer] = v.(T)
		}
	}
	return r
}
