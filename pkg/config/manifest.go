package config

import "strings"

// manifestIgnored are KongPlugin and KongClusterPlugin fields that carry no
// meaning here: Kubernetes metadata, and where the plugin attaches (the
// default route stands in for the Ingress or Service it is attached to).
var manifestIgnored = []string{"apiVersion", "kind", "metadata", "protocols", "ordering", "instance_name", "run_on"}

// compileManifests reads KongPlugin and KongClusterPlugin manifests (the
// Kubernetes form, apiVersion configuration.konghq.com/v1), one or a YAML
// stream of several. The one enabled ai-proxy among them applies to the
// default route, like a bare config; log and trace plugins are ignored with
// a warning, anything else is refused.
func compileManifests(w *walker, docs documents) *Config {
	var p *Plugin
	found := false
	observers := map[string]bool{}
	for i, dv := range docs {
		path := ""
		if len(docs) > 1 {
			path = docPath(i)
		}
		if mp, ok := readManifest(w, path, dv, observers); ok {
			if found {
				w.fail(pathOr(path), "a second ai-proxy plugin: only one applies to the default route")
				continue
			}
			p, found = mp, true
		}
	}
	if !found {
		w.fail("(document)", "no enabled ai-proxy plugin among the manifests")
	}
	cfg := defaultRoute(w, p)
	cfg.Warnings = append(observerWarning(observers), cfg.Warnings...)
	return cfg
}

// readManifest reads one manifest. ok reports an enabled ai-proxy, whose
// config is p (nil when invalid).
func readManifest(w *walker, path string, v any, observers map[string]bool) (p *Plugin, ok bool) {
	o := w.object(path, v)
	apiVersion, kind := o.str("apiVersion"), o.str("kind")
	if !strings.HasPrefix(apiVersion, "configuration.konghq.com/") || (kind != "KongPlugin" && kind != "KongClusterPlugin") {
		w.fail(pathOr(path), "expected a KongPlugin or KongClusterPlugin manifest (apiVersion configuration.konghq.com/v1), got kind %q", kind)
		return nil, false
	}
	o.ignore(manifestIgnored...)
	for _, f := range []string{"configFrom", "configPatches"} {
		if o.has(f) {
			w.fail(join(path, f), "not supported: Kubernetes secrets are not read here; use {vault://ssm/...} references in config")
		}
	}
	if o.has("consumerRef") {
		w.fail(join(path, "consumerRef"), "consumer-scoped plugins are not supported here")
	}
	name := o.str("plugin")
	if o.boolean("disabled", false) {
		o.ignore("config")
		o.done()
		return nil, false
	}
	switch {
	case name == "ai-proxy" || name == PluginAIProxyAdvanced:
		p = compileAny(name, o.child("config"))
		if p != nil {
			p.ID = manifestName(o)
		}
		ok = true
	case observerPlugins[name]:
		observers[name] = true
		o.ignore("config")
	case name == "key-auth":
		w.fail(join(path, "plugin"), "key-auth needs consumers and their keys, which only a decK file carries here")
	default:
		w.fail(join(path, "plugin"), "plugin %q is not implemented here, and loading without it would drop what it enforces", name)
	}
	o.done()
	return p, ok
}

// manifestName names the plugin in statistics: its instance_name, else
// its Kubernetes name.
func manifestName(o *object) string {
	if n := o.str("instance_name"); n != "" {
		return n
	}
	if md, ok := o.m["metadata"].(map[string]any); ok {
		if n, ok := md["name"].(string); ok {
			return n
		}
	}
	return ""
}
