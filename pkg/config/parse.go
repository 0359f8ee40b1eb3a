package config

import (
	"context"
	"errors"
	"fmt"
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

// Parse reads a configuration document in any of the four forms, resolves
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
	case documents:
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
	case documents:
		for i, e := range t {
			t[i] = expandEnv(w, docPath(i), e, lookup, refs)
		}
	}
	return v
}

// compile detects the document's form and builds the Config.
func compile(w *walker, tree any) (*Config, error) {
	if docs, ok := tree.(documents); ok {
		cfg := compileManifests(w, docs)
		if err := w.err(); err != nil {
			return nil, err
		}
		return cfg, nil
	}
	top, ok := tree.(map[string]any)
	if !ok {
		return nil, &FieldError{Path: "(document)", Msg: "expected a record, got " + kind(tree)}
	}
	var cfg *Config
	switch {
	case top["apiVersion"] != nil || top["kind"] != nil:
		cfg = compileManifests(w, documents{top})
	case isDeck(top):
		cfg = compileDeck(w, top)
	case top["config"] != nil && top["name"] != nil:
		cfg = compileAdmin(w, top)
	case top["targets"] != nil:
		p := compileAdvanced(w.object("", top))
		cfg = defaultRoute(w, p)
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
	if p != nil && p.LLMFormat == FormatAnthropic {
		messagesDefaultRoute(w, r)
	}
	r.Plugin = p
	if p != nil && p.ID == "" {
		p.ID = r.Name
	}
	cfg := newConfig([]*Route{r})
	cfg.Warnings = compatWarnings(cfg.Routes)
	return cfg
}

// adminIgnored are Admin-API plugin object fields that carry no meaning for
// a single-function deployment.
// The route and service it names are stood in for by the default route.
var adminIgnored = []string{"id", "tags", "protocols", "created_at", "updated_at", "ordering", "instance_name", "route", "service"}

func compileAdmin(w *walker, top map[string]any) *Config {
	o := w.object("", top)
	name := o.str("name")
	if name != "ai-proxy" && name != PluginAIProxyAdvanced {
		w.fail("name", "plugin %q is not supported here; expected ai-proxy or ai-proxy-advanced", name)
	}
	if !o.boolean("enabled", true) {
		w.fail("enabled", "the plugin is disabled: there would be nothing to serve")
	}
	for _, f := range []string{"consumer", "consumer_group"} {
		if _, set := o.get(f); set {
			w.fail(f, "a %s-scoped ai-proxy plugin is not supported", strings.ReplaceAll(f, "_", "-"))
		}
	}
	p := compileAny(name, o.child("config"))
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

// ErrNoConfig is returned by sources that have never loaded a configuration.
var ErrNoConfig = errors.New("no configuration loaded")
