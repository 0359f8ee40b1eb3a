package config

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/route"
)

// SecretResolver resolves Kong vault references such as
// "{vault://ssm/aiproxy/openai-api-key}". It is called once per document with
// every distinct reference, so an implementation can fetch them in batches.
type SecretResolver interface {
	ResolveSecrets(ctx context.Context, refs []string) (map[string]string, error)
}

// Options carries what Parse may look up outside the document.
type Options struct {
	// LookupEnv resolves ${{ env "NAME" }} references, as decK does. Nil
	// means no environment: any such reference is an error.
	LookupEnv func(string) (string, bool)
	// Secrets resolves {vault://...} references. Nil means any reference
	// is an error.
	Secrets SecretResolver
}

var (
	envRef   = regexp.MustCompile(`\$\{\{\s*env\s+"([^"]+)"\s*\}\}`)
	vaultRef = regexp.MustCompile(`\{vault://[^{}\s]+\}`)
)

// Parse reads a configuration document in any of the three forms, resolves
// its environment and vault references, validates it against Kong's schema
// and compiles it. Errors name the field path; they never quote a value that
// came from the environment or a vault.
func Parse(ctx context.Context, data []byte, opts Options) (*Config, error) {
	tree, err := decodeTree(data)
	if err != nil {
		return nil, err
	}
	w := &walker{}
	var refs []string
	tree = expandEnv(w, "", tree, opts.LookupEnv, &refs)
	if err := w.err(); err != nil {
		return nil, err
	}
	if len(refs) > 0 {
		if opts.Secrets == nil {
			return nil, fmt.Errorf("vault reference %s: no secret resolver is configured", refs[0])
		}
		sort.Strings(refs)
		refs = dedupe(refs)
		values, err := opts.Secrets.ResolveSecrets(ctx, refs)
		if err != nil {
			return nil, fmt.Errorf("resolve vault references: %w", err)
		}
		for _, r := range refs {
			if _, ok := values[r]; !ok {
				return nil, fmt.Errorf("vault reference %s was not resolved", r)
			}
		}
		tree = substitute(tree, func(s string) string {
			return vaultRef.ReplaceAllStringFunc(s, func(r string) string { return values[r] })
		})
	}
	return compile(w, tree)
}

// VaultRefs lists the vault references of a document, for tools that want
// to check them without parsing the whole configuration.
func VaultRefs(data []byte) ([]string, error) {
	tree, err := decodeTree(data)
	if err != nil {
		return nil, err
	}
	var refs []string
	substitute(tree, func(s string) string {
		refs = append(refs, vaultRef.FindAllString(s, -1)...)
		return s
	})
	sort.Strings(refs)
	return dedupe(refs), nil
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func substitute(v any, f func(string) string) any {
	switch t := v.(type) {
	case string:
		return f(t)
	case map[string]any:
		for k, e := range t {
			t[k] = substitute(e, f)
		}
	case []any:
		for i, e := range t {
			t[i] = substitute(e, f)
		}
	}
	return v
}

// expandEnv replaces ${{ env "NAME" }} in every string and collects vault
// references, recording an unset variable at its field path.
func expandEnv(w *walker, path string, v any, lookup func(string) (string, bool), refs *[]string) any {
	switch t := v.(type) {
	case string:
		s := envRef.ReplaceAllStringFunc(t, func(m string) string {
			name := envRef.FindStringSubmatch(m)[1]
			if lookup != nil {
				if val, ok := lookup(name); ok {
					return val
				}
			}
			w.fail(pathOr(path), "environment variable %s is not set", name)
			return ""
		})
		*refs = append(*refs, vaultRef.FindAllString(s, -1)...)
		return s
	case map[string]any:
		for k, e := range t {
			t[k] = expandEnv(w, join(path, k), e, lookup, refs)
		}
	case []any:
		for i, e := range t {
			t[i] = expandEnv(w, fmt.Sprintf("%s[%d]", path, i), e, lookup, refs)
		}
	}
	return v
}

// compile detects the document's form and builds the Config.
func compile(w *walker, tree any) (*Config, error) {
	top, ok := tree.(map[string]any)
	if !ok {
		return nil, &FieldError{Path: "(document)", Msg: "expected a record, got " + kind(tree)}
	}
	var cfg *Config
	switch {
	case isDeck(top):
		cfg = compileDeck(w, top)
	case top["config"] != nil && top["name"] != nil:
		cfg = compileAdmin(w, top)
	default:
		p := compilePlugin(w.object("", top))
		cfg = defaultRoute(w, p)
	}
	if err := w.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func isDeck(top map[string]any) bool {
	for _, k := range []string{"_format_version", "routes", "plugins", "services", "consumers"} {
		if _, ok := top[k]; ok {
			return true
		}
	}
	return false
}

func defaultRoute(w *walker, p *Plugin) *Config {
	rp, err := route.Compile(DefaultRoutePath)
	if err != nil {
		w.fail("routes", "%v", err)
		return &Config{}
	}
	r := &Route{Name: "default", Paths: []*route.Path{rp}, Methods: []string{"POST"}, Plugin: p}
	if p != nil && p.ID == "" {
		p.ID = r.Name
	}
	return &Config{Routes: []*Route{r}}
}

// adminIgnored are Admin-API plugin object fields that carry no meaning for
// a single-function deployment.
var adminIgnored = []string{"id", "enabled", "tags", "protocols", "created_at", "updated_at", "ordering", "instance_name", "route", "service", "consumer", "consumer_group"}

func compileAdmin(w *walker, top map[string]any) *Config {
	o := w.object("", top)
	name := o.str("name")
	if name != "ai-proxy" {
		w.fail("name", "plugin %q is not supported here; expected ai-proxy", name)
	}
	p := compilePlugin(o.child("config"))
	if id := o.str("id"); id != "" && p != nil {
		p.ID = id
	}
	o.ignore(adminIgnored...)
	o.done()
	return defaultRoute(w, p)
}

// deckRoute is a route being assembled from a decK file.
type deckRoute struct {
	route   *Route
	path    string
	service string
	plugin  *Plugin
	keyAuth *KeyAuth
}

// compileDeck reads a decK file: routes (top level or nested in services)
// and ai-proxy plugins that are global, service-scoped or route-scoped. As in
// Kong, the most specific plugin wins.
func compileDeck(w *walker, top map[string]any) *Config {
	o := w.object("", top)
	if v := o.str("_format_version"); o.has("_format_version") && !strings.HasPrefix(v, "3.") && !strings.HasPrefix(v, "1.") {
		w.fail("_format_version", "expected a 3.x or 1.x format version")
	}
	o.ignore("_transform", "_info", "_workspace", "_konnect")

	var routes []*deckRoute
	for i, rv := range o.list("routes") {
		routes = append(routes, readRoute(w, fmt.Sprintf("routes[%d]", i), rv, ""))
	}
	servicePlugins := map[string]*Plugin{}
	serviceKeyAuth := map[string]*KeyAuth{}
	for i, sv := range o.list("services") {
		sp := fmt.Sprintf("services[%d]", i)
		so := w.object(sp, sv)
		name := so.str("name")
		if name == "" {
			name = so.str("id")
		}
		for j, rv := range so.list("routes") {
			routes = append(routes, readRoute(w, fmt.Sprintf("%s.routes[%d]", sp, j), rv, name))
		}
		for j, pv := range so.list("plugins") {
			if e := readPluginEntry(w, fmt.Sprintf("%s.plugins[%d]", sp, j), pv, false); e != nil {
				if e.keyAuth != nil {
					serviceKeyAuth[name] = e.keyAuth
				} else {
					servicePlugins[name] = e.plugin
				}
			}
		}
		// A service's upstream is replaced by ai-proxy's, so its own
		// address fields are accepted and not used.
		so.ignore("id", "url", "host", "port", "protocol", "path", "tags", "retries", "connect_timeout", "read_timeout", "write_timeout", "enabled")
		so.done()
	}

	var global *Plugin
	var globalKeyAuth *KeyAuth
	byRoute := map[string]*Plugin{}
	keyAuthByRoute := map[string]*KeyAuth{}
	for i, pv := range o.list("plugins") {
		e := readPluginEntry(w, fmt.Sprintf("plugins[%d]", i), pv, true)
		switch {
		case e == nil:
		case e.keyAuth != nil && e.route != "":
			keyAuthByRoute[e.route] = e.keyAuth
		case e.keyAuth != nil && e.service != "":
			serviceKeyAuth[e.service] = e.keyAuth
		case e.keyAuth != nil:
			globalKeyAuth = e.keyAuth
		case e.route != "":
			byRoute[e.route] = e.plugin
		case e.service != "":
			servicePlugins[e.service] = e.plugin
		default:
			global = e.plugin
		}
	}
	creds := readConsumers(w, o.list("consumers"))
	o.done()
	for _, k := range allKeyAuth(globalKeyAuth, keyAuthByRoute, serviceKeyAuth, routes) {
		k.credentials = creds
	}

	if len(routes) == 0 {
		if global == nil {
			w.fail("plugins", "no ai-proxy plugin in the document")
			return &Config{}
		}
		cfg := defaultRoute(w, global)
		for _, r := range cfg.Routes {
			r.KeyAuth = globalKeyAuth
		}
		return cfg
	}

	cfg := &Config{}
	known := map[string]bool{}
	for _, dr := range routes {
		known[dr.route.Name] = true
		p := dr.plugin
		if p == nil {
			p = byRoute[dr.route.Name]
		}
		if p == nil && dr.service != "" {
			p = servicePlugins[dr.service]
		}
		if p == nil {
			p = global
		}
		if p == nil {
			w.fail(dr.path, "route %q has no ai-proxy plugin (global, on its service, or on the route)", dr.route.Name)
			continue
		}
		dr.route.Plugin = p
		dr.route.KeyAuth = firstKeyAuth(dr.keyAuth, keyAuthByRoute[dr.route.Name], serviceKeyAuth[dr.service], globalKeyAuth)
		if p.ID == "" {
			// Copy so that a shared global plugin is named by each route.
			cp := *p
			cp.ID = dr.route.Name
			dr.route.Plugin = &cp
		}
		cfg.Routes = append(cfg.Routes, dr.route)
	}
	for name := range byRoute {
		if !known[name] {
			w.fail("plugins", "plugin scoped to route %q, which is not defined", name)
		}
	}
	for name := range keyAuthByRoute {
		if !known[name] {
			w.fail("plugins", "key-auth scoped to route %q, which is not defined", name)
		}
	}
	return cfg
}

// firstKeyAuth picks the most specific key-auth plugin, as Kong does.
func firstKeyAuth(candidates ...*KeyAuth) *KeyAuth {
	for _, k := range candidates {
		if k != nil {
			return k
		}
	}
	return nil
}

func allKeyAuth(global *KeyAuth, byRoute, byService map[string]*KeyAuth, routes []*deckRoute) []*KeyAuth {
	var out []*KeyAuth
	if global != nil {
		out = append(out, global)
	}
	for _, k := range byRoute {
		out = append(out, k)
	}
	for _, k := range byService {
		out = append(out, k)
	}
	for _, r := range routes {
		if r.keyAuth != nil {
			out = append(out, r.keyAuth)
		}
	}
	return out
}

// routeIgnored are Kong route fields that change nothing for this proxy.
var routeIgnored = []string{"id", "tags", "protocols", "strip_path", "preserve_host", "regex_priority", "path_handling", "https_redirect_status_code", "request_buffering", "response_buffering", "created_at", "updated_at"}

func readRoute(w *walker, path string, v any, service string) *deckRoute {
	o := w.object(path, v)
	r := &Route{Name: o.str("name")}
	if r.Name == "" {
		r.Name = o.str("id")
	}
	if r.Name == "" {
		r.Name = strings.NewReplacer("[", "-", "]", "", ".", "-").Replace(path)
	}
	for i, p := range o.strings("paths") {
		cp, err := route.Compile(p)
		if err != nil {
			w.fail(fmt.Sprintf("%s.paths[%d]", path, i), "%v", err)
			continue
		}
		r.Paths = append(r.Paths, cp)
	}
	if !o.has("paths") {
		w.fail(join(path, "paths"), "required field missing (routes are matched by path here)")
	}
	for _, m := range o.strings("methods") {
		r.Methods = append(r.Methods, strings.ToUpper(m))
	}
	dr := &deckRoute{route: r, path: path, service: service}
	if s := o.str("service"); s != "" {
		dr.service = s
	} else if so, ok := o.m["service"].(map[string]any); ok {
		if n, ok := so["name"].(string); ok {
			dr.service = n
		} else if id, ok := so["id"].(string); ok {
			dr.service = id
		}
	}
	for i, pv := range o.list("plugins") {
		if e := readPluginEntry(w, fmt.Sprintf("%s.plugins[%d]", path, i), pv, false); e != nil {
			if e.keyAuth != nil {
				dr.keyAuth = e.keyAuth
			} else {
				dr.plugin = e.plugin
			}
		}
	}
	o.ignore(routeIgnored...)
	o.done()
	return dr
}

type pluginEntry struct {
	plugin         *Plugin
	keyAuth        *KeyAuth
	route, service string
}

// readPluginEntry reads one entry of a plugins list: ai-proxy or key-auth.
func readPluginEntry(w *walker, path string, v any, scoped bool) *pluginEntry {
	o := w.object(path, v)
	name := o.str("name")
	o.ignore(adminIgnored...)
	if name != "ai-proxy" && name != "key-auth" {
		w.fail(join(path, "name"), "plugin %q is not supported here; expected ai-proxy or key-auth", name)
		return nil
	}
	e := &pluginEntry{}
	if scoped {
		e.route = refName(o, "route")
		e.service = refName(o, "service")
		if o.has("consumer") || o.has("consumer_group") {
			w.fail(path, "consumer-scoped plugins are not supported")
		}
	}
	if name == "key-auth" {
		e.keyAuth = readKeyAuth(o.child("config"))
		o.done()
		return e
	}
	e.plugin = compilePlugin(o.child("config"))
	if e.plugin != nil {
		e.plugin.ID = o.str("id")
		if e.plugin.ID == "" {
			e.plugin.ID = o.str("instance_name")
		}
	}
	o.done()
	return e
}

// refName reads a scope reference written as a name or as {name: ..}/{id: ..}.
func refName(o *object, key string) string {
	v, ok := o.m[key]
	if !ok || v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	if m, ok := v.(map[string]any); ok {
		for _, k := range []string{"name", "id"} {
			if s, ok := m[k].(string); ok {
				return s
			}
		}
	}
	o.w.fail(join(o.path, key), "expected a name or {name: ...}")
	return ""
}

// Kong schema fields for other providers or features: accepted so that a
// configuration dumped from Kong (which lists every field) loads as is.
var (
	pluginIgnored  = []string{"llm_format", "max_request_body_size_bytes"}
	authIgnored    = []string{"azure_use_managed_identity", "azure_client_id", "azure_client_secret", "azure_tenant_id", "gcp_use_service_account", "gcp_service_account_json", "aws_access_key_id", "aws_secret_access_key"}
	optionsIgnored = []string{"anthropic_version", "azure_instance", "azure_api_version", "azure_deployment_id", "llama2_format", "mistral_format", "gemini", "bedrock", "huggingface", "embeddings_dimensions", "cohere"}
)

// compilePlugin reads an ai-proxy config object and applies Kong's defaults.
func compilePlugin(o *object) *Plugin {
	w := o.w
	before := len(w.errs)
	p := &Plugin{
		RouteType:          o.enum("route_type", "", RouteChat, RouteCompletions, RoutePreserve),
		ResponseStreaming:  o.enum("response_streaming", StreamAllow, StreamAllow, StreamDeny, StreamAlways),
		ModelNameHeader:    o.boolean("model_name_header", true),
		MaxRequestBodySize: DefaultMaxRequestBodySize,
	}
	if !o.has("route_type") {
		w.fail(join(o.path, "route_type"), "required field missing")
	}
	if n := o.integer("max_request_body_size", 1, 1<<40); n != nil {
		p.MaxRequestBodySize = int64(*n)
	}
	if f, _ := o.m["llm_format"].(string); f != "" && f != "openai" {
		w.fail(join(o.path, "llm_format"), "only openai is supported")
	}
	o.ignore(pluginIgnored...)

	a := o.child("auth")
	p.Auth = Auth{
		HeaderName:    a.str("header_name"),
		HeaderValue:   a.str("header_value"),
		ParamName:     a.str("param_name"),
		ParamValue:    a.str("param_value"),
		ParamLocation: a.enum("param_location", "", "query", "body"),
		AllowOverride: a.boolean("allow_override", false),
	}
	if (p.Auth.HeaderName == "") != (p.Auth.HeaderValue == "") {
		w.fail(join(a.path, "header_name"), "header_name and header_value must be set together")
	}
	if (p.Auth.ParamName == "") != (p.Auth.ParamValue == "") || (p.Auth.ParamName != "") != (p.Auth.ParamLocation != "") {
		w.fail(join(a.path, "param_name"), "param_name, param_value and param_location must be set together")
	}
	a.ignore(authIgnored...)
	a.done()

	l := o.child("logging")
	p.Logging = Logging{LogStatistics: l.boolean("log_statistics", false), LogPayloads: l.boolean("log_payloads", false)}
	l.done()

	m := o.child("model")
	if !o.has("model") {
		w.fail(join(o.path, "model"), "required field missing")
	}
	p.Model.Provider = m.str("provider")
	switch {
	case !m.has("provider"):
		w.fail(join(m.path, "provider"), "required field missing")
	case p.Model.Provider != "openai":
		w.fail(join(m.path, "provider"), "provider %q is not supported; use openai (any OpenAI-compatible server via options.upstream_url)", p.Model.Provider)
	}
	if name := m.str("name"); name != "" {
		t, err := ParseTemplate(name)
		if err != nil {
			w.fail(join(m.path, "name"), "%v", err)
		}
		p.Model.Name = t
	}
	opt := m.child("options")
	p.Model.Options = ModelOptions{
		MaxTokens:   opt.integer("max_tokens", 1, 1<<31-1),
		Temperature: opt.number("temperature", 0, 5),
		TopP:        opt.number("top_p", 0, 1),
		TopK:        opt.integer("top_k", 0, 500),
		InputCost:   opt.number("input_cost", 0, 1e12),
		OutputCost:  opt.number("output_cost", 0, 1e12),
		UpstreamURL: opt.str("upstream_url"),
	}
	if u := p.Model.Options.UpstreamURL; u != "" {
		pu, err := url.Parse(u)
		switch {
		case strings.Contains(u, "$("):
			// Resolved per request; the proxy checks the result.
			t, err := ParseTemplate(u)
			if err != nil {
				w.fail(join(opt.path, "upstream_url"), "%v", err)
			}
			p.Model.Options.UpstreamTemplate = t
		case err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "":
			w.fail(join(opt.path, "upstream_url"), "expected an absolute http or https URL")
		default:
			p.Model.Options.Upstream = pu
		}
	}
	p.Model.Options.UpstreamPath = opt.str("upstream_path")
	if up := p.Model.Options.UpstreamPath; strings.Contains(up, "$(") {
		w.fail(join(opt.path, "upstream_path"), "templates are not supported here; put the whole URL in upstream_url")
	} else if up != "" {
		if p.Model.Options.UpstreamURL == "" && strings.HasPrefix(up, "/") {
			p.Model.Options.UpstreamURL = "https://api.openai.com:443" + up
			p.Model.Options.Upstream, _ = url.Parse(p.Model.Options.UpstreamURL)
		} else if !strings.HasPrefix(up, "/") {
			w.fail(join(opt.path, "upstream_path"), "expected a path starting with /")
		}
	}
	opt.ignore(optionsIgnored...)
	opt.done()
	m.done()
	o.done()
	if len(w.errs) > before {
		return nil
	}
	return p
}

// ErrNoConfig is returned by sources that have never loaded a configuration.
var ErrNoConfig = errors.New("no configuration loaded")
