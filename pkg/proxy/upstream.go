package proxy

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// upstream is Kong's choice of target (shared.lua override_upstream_url and
// each driver's configure_request): upstream_url, resolved per request when
// it is a template, is handed to the provider's driver, which answers with
// its endpoint for the call and, for a translating driver, the transport
// that carries it. In preserve mode the client's own (normalized) path
// replaces the configured one, unless upstream_path pins it. The client's
// query string goes along, without its key-auth key and with the auth param
// applied.
func upstream(d provider.Driver, call *provider.Call, r *http.Request, ka *config.KeyAuth, lookup config.Lookup) (provider.Upstream, *apiError) {
	p := call.Plugin
	o := p.Model.Options
	var e *apiError
	if call.Upstream, e = configuredUpstream(p, lookup); e != nil {
		return provider.Upstream{}, e
	}
	up, err := prepareCall(d, call)
	if err != nil {
		return provider.Upstream{}, driverError(err)
	}
	u := *up.URL
	if p.RouteType == config.RoutePreserve && o.UpstreamPath == "" {
		u.Path, u.RawPath = cleanPath(r.URL.Path), ""
	}
	u.RawQuery = upstreamQuery(p.Auth, u.RawQuery, r.URL.RawQuery, ka)
	up.URL = &u
	return up, nil
}

// configuredUpstream is upstream_url for this request, or nil.
func configuredUpstream(p *config.Plugin, lookup config.Lookup) (*url.URL, *apiError) {
	o := p.Model.Options
	switch {
	case !o.UpstreamTemplate.IsZero():
		return resolveUpstream(o.UpstreamTemplate, lookup)
	case o.Upstream != nil:
		return o.Upstream, nil
	}
	return nil, nil
}

// reach makes a driver's upstream the request's: its URL (the client's
// query applied), its transport and its headers.
func (pl *plan) reach(up provider.Upstream) {
	pl.target, pl.transport, pl.header = up.URL, up.Transport, up.Header
}

// driverError is a driver's refusal as the proxy answers it.
func driverError(err error) *apiError {
	var pe *provider.Error
	if !errors.As(err, &pe) {
		return &apiError{status: http.StatusInternalServerError, message: "the request could not be prepared for the provider", typ: typeServer, code: "provider_error"}
	}
	e := &apiError{status: pe.Status, message: pe.Message, typ: pe.Type, code: pe.Code, param: pe.Param, header: pe.Header}
	if e.status == 0 {
		e.status = http.StatusBadRequest
	}
	if e.typ == "" {
		e.typ = provider.StatusType(e.status)
	}
	return e
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
