package proxy

import (
	"net/http"
	"net/url"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
)

var (
	openAIChat        = &url.URL{Scheme: "https", Host: "api.openai.com", Path: "/v1/chat/completions"}
	openAICompletions = &url.URL{Scheme: "https", Host: "api.openai.com", Path: "/v1/completions"}
)

// upstreamURL is Kong's choice of target (openai.lua configure_request,
// shared.lua override_upstream_url): upstream_url, resolved per request when
// it is a template, else OpenAI's endpoint for the route type. In preserve
// mode the client's own (normalized) path replaces the configured one,
// unless upstream_path pins it. The client's query string goes along,
// without its key-auth key and with the auth param applied.
func upstreamURL(p *config.Plugin, r *http.Request, ka *config.KeyAuth, lookup config.Lookup) (*url.URL, *apiError) {
	var u url.URL
	o := p.Model.Options
	switch {
	case !o.UpstreamTemplate.IsZero():
		resolved, err := resolveUpstream(o.UpstreamTemplate, lookup)
		if err != nil {
			return nil, err
		}
		u = *resolved
	case o.Upstream != nil:
		u = *o.Upstream
	case p.RouteType == config.RouteCompletions:
		u = *openAICompletions
	default:
		u = *openAIChat
	}
	if p.RouteType == config.RoutePreserve && o.UpstreamPath == "" {
		u.Path, u.RawPath = cleanPath(r.URL.Path), ""
	}
	u.RawQuery = upstreamQuery(p.Auth, u.RawQuery, r.URL.RawQuery, ka)
	return &u, nil
}

// resolveUpstream resolves a templated upstream_url. The request chose part
// of it, so the result must still be an absolute http(s) URL.
func resolveUpstream(t config.Template, lookup config.Lookup) (*url.URL, *apiError) {
	s, err := t.Resolve(lookup)
	if err != nil {
		return nil, badRequest("upstream_url_not_resolved", err.Error())
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, badRequest("invalid_upstream_url", "model.options.upstream_url resolved from this request is not an absolute http or https URL")
	}
	return u, nil
}

// upstreamQuery merges the configured URL's query with the client's (the
// configured values win), removes key-auth key names, and applies the auth
// param. Kong forwards the client's query; keeping the configured URL's
// query as well (Kong drops it) keeps an api-version written into
// upstream_url. A query with nothing to change passes byte for byte.
func upstreamQuery(a config.Auth, configured, client string, ka *config.KeyAuth) string {
	authQuery := a.ParamLocation == "query"
	if configured == "" && !authQuery && (ka == nil || client == "") {
		return client
	}
	q, _ := url.ParseQuery(configured)
	own, _ := url.ParseQuery(client)
	var keyNames []string
	if ka != nil {
		keyNames = ka.KeyNames
	}
	for k, vs := range own {
		if containsFold(keyNames, k) {
			continue
		}
		if _, set := q[k]; !set {
			q[k] = vs
		}
	}
	if authQuery {
		value := a.ParamValue
		// The client's own value overrides, unless that parameter is where
		// key-auth keys travel: a key for this proxy is not one for the
		// upstream.
		if v := own.Get(a.ParamName); a.AllowOverride && v != "" && !containsFold(keyNames, a.ParamName) {
			value = v
		}
		q.Set(a.ParamName, value)
	}
	return q.Encode()
}
