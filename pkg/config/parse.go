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

// defaultRouteOnly is the route a document without routes gets.
func defaultRouteOnly(w *walker) *Route {
	rp, err := route.Compile(DefaultRoutePath)
	if err != nil {
		w.fail("routes", "%v", err)
	}
	r := &Route{}
	r.Name = "default"
	if rp != nil {
		r.Paths = []*route.Path{rp}
	}
	r.Methods = []string{"POST"}
	return r
}

func defaultRoute(w *walker, p *Plugin) *Config {
	r := defaultRouteOnly(w)
	r.Plugin = p
	if p != nil && p.ID == "" {
		p.ID = r.Name
	}
	return newConfig([]*Route{r})
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

// refName reads a scope reference written as a name or as {name: ..}/{id: ..}.
func refName(o *object, key string) string {
	v, ok := o.get(key)
	if !ok {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	if m, ok := v.(map[string]any); ok {
		for _, k := range []string{"name", "id", "username", "custom_id"} {
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
		case err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "":
			w.fail(join(opt.path, "upstream_url"), "expected an absolute http or https URL")
		case strings.Contains(u, "$("):
			w.fail(join(opt.path, "upstream_url"), "templates are supported in model.name only")
		default:
			p.Model.Options.Upstream = pu
		}
	}
	if up := opt.str("upstream_path"); up != "" {
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
