package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/limits"
)

// pluginKind is a Kong plugin this proxy implements.
type pluginKind struct {
	// read reads the plugin's config record and returns nil when it is
	// invalid (the walker then holds the errors).
	read func(o *object) any
	// consumerScoped says that an instance scoped to a consumer is honoured.
	// key-auth cannot be (Kong's schema: no_consumer); ai-proxy is not,
	// because its body size limit applies before the consumer is known.
	consumerScoped bool
}

// supportedPlugins are the plugins a document may use. Supporting another
// kind is an entry here, plus a field on Route filled in applyPlugins.
var supportedPlugins = map[string]pluginKind{
	"ai-proxy": {read: func(o *object) any {
		if p := compilePlugin(o); p != nil {
			return p
		}
		return nil
	}},
	PluginAIProxyAdvanced: {read: func(o *object) any {
		if p := compileAdvanced(o); p != nil {
			return p
		}
		return nil
	}},
	"key-auth": {read: func(o *object) any {
		if k := readKeyAuth(o); k != nil {
			return k
		}
		return nil
	}},
	// A consumer-scoped instance is that consumer's own limit: limits apply
	// after key-auth.
	PluginRateLimiting: {read: func(o *object) any {
		if p := readRateLimiting(o); p != nil {
			return p
		}
		return nil
	}, consumerScoped: true},
	PluginAIRateLimiting: {read: func(o *object) any {
		if p := readAIRateLimiting(o); p != nil {
			return p
		}
		return nil
	}, consumerScoped: true},
}

// observerPlugins only log, count or trace in Kong; they change neither the
// request nor the answer, so a document that has them loads without them,
// with a warning. Every other plugin enforces or changes something this
// proxy does not implement (acl, ip-restriction, cors, rate-limiting-advanced, ...),
// and ignoring it would silently open what the operator closed: a load error.
var observerPlugins = map[string]bool{
	"file-log": true, "http-log": true, "tcp-log": true, "udp-log": true, "syslog": true, "loggly": true,
	"kafka-log": true, "prometheus": true, "statsd": true, "statsd-advanced": true, "datadog": true,
	"opentelemetry": true, "zipkin": true, "correlation-id": true, "app-dynamics": true,
}

func supportedNames() string {
	names := make([]string, 0, len(supportedPlugins))
	for n := range supportedPlugins {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// observerWarning is the one warning a document with observer plugins gets.
func observerWarning(observers map[string]bool) []string {
	if len(observers) == 0 {
		return nil
	}
	names := make([]string, 0, len(observers))
	for n := range observers {
		names = append(names, n)
	}
	sort.Strings(names)
	return []string{fmt.Sprintf("plugins %s only log or trace in Kong and are ignored here; this proxy writes its own log lines (logging.log_statistics)", strings.Join(names, ", "))}
}

// pluginEntityIgnored are plugin entity fields (kong/db/schema/entities/
// plugins.lua) that carry no meaning here.
var pluginEntityIgnored = []string{"id", "enabled", "tags", "protocols", "created_at", "updated_at", "ordering", "instance_name"}

// readPlugin reads one entry of a plugins list. nested is the scope its
// nesting gives it (a plugin listed under a route, service or consumer).
func (d *deck) readPlugin(path string, v any, nested Scope) {
	o := d.w.object(path, v)
	name := o.str("name")
	o.ignore(pluginEntityIgnored...)
	// A disabled plugin does not apply anywhere, not even to mask a less
	// specific one (kong/runloop/plugins_iterator.lua, get_plugin_config).
	if !o.boolean("enabled", true) {
		o.ignore("config", "route", "service", "consumer", "consumer_group")
		o.done()
		return
	}
	kind, ok := supportedPlugins[name]
	switch {
	case observerPlugins[name]:
		d.observers[name] = true
		o.ignore("config", "route", "service", "consumer", "consumer_group")
		o.done()
		return
	case !ok:
		d.w.fail(join(path, "name"), "plugin %q is not implemented here, and loading without it would drop what it enforces (implemented: %s; log and trace plugins are ignored with a warning)", name, supportedNames())
		return
	}
	if name == PluginAIProxyAdvanced {
		name = "ai-proxy" // one of them per scope, the same role
	}
	e := &pluginEntry{path: path, name: name, nested: nested, written: Scope{
		Route:    refName(o, "route"),
		Service:  refName(o, "service"),
		Consumer: refName(o, "consumer"),
	}}
	if o.has("consumer_group") {
		d.w.fail(join(path, "consumer_group"), "consumer-group scoped plugins are not supported")
	}
	if (e.written.Consumer != "" || nested.Consumer != "") && !kind.consumerScoped {
		d.w.fail(path, "a consumer-scoped %s plugin is not supported", name)
	}
	e.value = kind.read(o.child("config"))
	switch p := e.value.(type) {
	case *Plugin:
		p.ID = o.str("id")
		if p.ID == "" {
			p.ID = o.str("instance_name")
		}
	case *limits.Policy:
		// Counters are keyed by the instance: its namespace, id or
		// instance_name, else (in index) its scope by entity names, so
		// that they survive a reordered document.
		if p.ID == "" {
			p.ID = o.str("id")
		}
		if p.ID == "" {
			p.ID = o.str("instance_name")
		}
	}
	o.done()
	if e.value != nil {
		d.plugins = append(d.plugins, e)
	}
}
