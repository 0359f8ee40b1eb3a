package config

import (
	"net/url"
	"strings"
)

// Kong schema fields for other providers or features: accepted so that a
// configuration dumped from Kong (which lists every field) loads as is.
var (
	pluginIgnored  = []string{"max_request_body_size_bytes"}
	authIgnored    = []string{"gcp_metadata_url", "gcp_oauth_token_url"}
	optionsIgnored = []string{"dashscope", "databricks"}
	// optionsRefused refine Kong 3.14's cost computation; ignoring them
	// would log (and limit by) a different cost than Kong's.
	optionsRefused = []string{"cache_write_cost_list", "context_window_factor", "service_tier_factor"}
)

// MaxRequestBodySizeUnlimited is what max_request_body_size 0 ("unlimited"
// since Kong 3.11) means here: Lambda's own limit on a request payload,
// 6 MB, so that every buffer stays bounded.
const MaxRequestBodySizeUnlimited = 6 << 20

// compilePlugin reads an ai-proxy config object and applies Kong's defaults.
func compilePlugin(o *object) *Plugin { return compileTarget(o, "") }

// compileTarget is compilePlugin for an ai-proxy config whose llm_format
// is decided outside it (an ai-proxy-advanced target takes the plugin's);
// "" reads the object's own.
func compileTarget(o *object, format string) *Plugin {
	w := o.w
	before := len(w.errs)
	p := &Plugin{
		RouteType:          o.enum("route_type", "", RouteChat, RouteCompletions, RoutePreserve, RouteResponses, RouteEmbeddings),
		ResponseStreaming:  o.enum("response_streaming", StreamAllow, StreamAllow, StreamDeny, StreamAlways),
		ModelNameHeader:    o.boolean("model_name_header", true),
		MaxRequestBodySize: DefaultMaxRequestBodySize,
	}
	if !o.has("route_type") {
		w.fail(join(o.path, "route_type"), "required field missing")
	}
	if n := o.integer("max_request_body_size", 0, 1<<40); n != nil {
		p.MaxRequestBodySize = int64(*n)
		if *n == 0 {
			p.MaxRequestBodySize = MaxRequestBodySizeUnlimited
		}
	}
	// Kong 3.11+: the format clients speak, and what kind of generation.
	readMessagesFormat(o, p, format)
	if c := o.str("genai_category"); !genaiCategoryOK(p.RouteType, c) {
		w.fail(join(o.path, "genai_category"), "%q is not supported for route_type %s: text/generation (chat, completions, responses) or text/embeddings (embeddings)", c, p.RouteType)
	}
	o.ignore(pluginIgnored...)
	p.Auth = readAuth(o.child("auth"))
	l := o.child("logging")
	p.Logging = Logging{LogStatistics: l.boolean("log_statistics", false), LogPayloads: l.boolean("log_payloads", false)}
	l.done()
	if !o.has("model") {
		w.fail(join(o.path, "model"), "required field missing")
	}
	p.Model = readModel(o.child("model"))
	o.done()
	checkProvider(w, o.path, p)
	checkMessagesFormat(w, o.path, p)
	if len(w.errs) > before {
		return nil
	}
	return p
}

func readAuth(a *object) Auth {
	w := a.w
	auth := Auth{
		HeaderName:    a.str("header_name"),
		HeaderValue:   a.str("header_value"),
		ParamName:     a.str("param_name"),
		ParamValue:    a.str("param_value"),
		ParamLocation: a.enum("param_location", "", "query", "body"),
		AllowOverride: a.boolean("allow_override", false),

		AWSAccessKeyID:          a.str("aws_access_key_id"),
		AWSSecretAccessKey:      a.str("aws_secret_access_key"),
		AzureUseManagedIdentity: a.boolean("azure_use_managed_identity", false),
		AzureClientID:           a.str("azure_client_id"),
		AzureClientSecret:       a.str("azure_client_secret"),
		AzureTenantID:           a.str("azure_tenant_id"),
		GCPUseServiceAccount:    a.boolean("gcp_use_service_account", false),
		GCPServiceAccountJSON:   a.str("gcp_service_account_json"),
	}
	if (auth.AWSAccessKeyID == "") != (auth.AWSSecretAccessKey == "") {
		w.fail(join(a.path, "aws_access_key_id"), "all or none of these fields must be set: 'auth.aws_access_key_id', 'auth.aws_secret_access_key'")
	}
	if (auth.HeaderName == "") != (auth.HeaderValue == "") {
		// Kong's entity check words it so (ai-proxy schema, mutually_required).
		w.fail(join(a.path, "header_name"), "all or none of these fields must be set: 'auth.header_name', 'auth.header_value'")
	}
	if (auth.ParamName == "") != (auth.ParamValue == "") || (auth.ParamName != "") != (auth.ParamLocation != "") {
		w.fail(join(a.path, "param_name"), "all or none of these fields must be set: 'auth.param_name', 'auth.param_value', 'auth.param_location'")
	}
	a.ignore(authIgnored...)
	a.done()
	return auth
}

func readModel(m *object) Model {
	w := m.w
	var model Model
	model.Provider = m.str("provider")
	switch {
	case !m.has("provider"):
		w.fail(join(m.path, "provider"), "required field missing")
	case !contains(Providers, model.Provider):
		w.fail(join(m.path, "provider"), "provider %q is not one of Kong's: %s", model.Provider, strings.Join(Providers, ", "))
	}
	if name := m.str("name"); name != "" {
		t, err := ParseTemplate(name)
		if err != nil {
			w.fail(join(m.path, "name"), "%v", err)
		}
		model.Name = t
	}
	model.Alias = m.str("model_alias")
	model.Options = readOptions(m.child("options"))
	m.done()
	return model
}

func readOptions(opt *object) ModelOptions {
	w := opt.w
	o := ModelOptions{
		MaxTokens:      opt.integer("max_tokens", 1, 1<<31-1),
		Temperature:    opt.number("temperature", 0, 5),
		TopP:           opt.number("top_p", 0, 1),
		TopK:           opt.integer("top_k", 0, 500),
		InputCost:      opt.number("input_cost", 0, 1e12),
		OutputCost:     opt.number("output_cost", 0, 1e12),
		CacheReadCost:  opt.number("cache_read_cost", 0, 1e12),
		CacheWriteCost: opt.number("cache_write_cost", 0, 1e12),
		UpstreamURL:    opt.str("upstream_url"),
	}
	if u := o.UpstreamURL; u != "" {
		pu, err := url.Parse(u)
		switch {
		case strings.Contains(u, "$("):
			// Resolved per request; the proxy checks the result.
			t, err := ParseTemplate(u)
			if err != nil {
				w.fail(join(opt.path, "upstream_url"), "%v", err)
			}
			o.UpstreamTemplate = t
		case err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "":
			w.fail(join(opt.path, "upstream_url"), "expected an absolute http or https URL")
		default:
			o.Upstream = pu
		}
	}
	o.UpstreamPath = opt.str("upstream_path")
	if up := o.UpstreamPath; strings.Contains(up, "$(") {
		w.fail(join(opt.path, "upstream_path"), "templates are not supported here; put the whole URL in upstream_url")
	} else if up != "" {
		if o.UpstreamURL == "" && strings.HasPrefix(up, "/") {
			o.UpstreamURL = "https://api.openai.com:443" + up
			o.Upstream, _ = url.Parse(o.UpstreamURL)
		} else if !strings.HasPrefix(up, "/") {
			w.fail(join(opt.path, "upstream_path"), "expected a path starting with /")
		}
	}
	for _, f := range optionsRefused {
		if len(opt.list(f)) > 0 {
			w.fail(join(opt.path, f), "not supported: costs are computed from input_cost, output_cost, cache_read_cost and cache_write_cost only")
		}
	}
	readProviderOptions(opt, &o)
	opt.ignore(optionsIgnored...)
	opt.done()
	return o
}
