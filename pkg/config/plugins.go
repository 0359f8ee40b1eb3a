package config

import (
	"sort"
	"strings"
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
	"key-auth": {read: func(o *object) any {
		if k := readKeyAuth(o); k != nil {
			return k
		}
		return nil
	}},
}

func supportedNames() string {
	names := make([]string, 0, len(supportedPlugins))
	for n := range supportedPlugins {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
