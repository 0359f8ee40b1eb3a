// Package azure is the driver for Azure OpenAI. Azure speaks OpenAI's
// format (content-filter results and error shapes included), so the body
// and the answer pass byte for byte, as in the openai driver; the driver
// only picks the deployment's URL and, for Entra ID, adds a bearer token.
package azure

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// Options configure the driver.
type Options struct {
	// Base is the proxy's HTTP transport; an Entra ID call goes through it
	// once the token is added.
	Base http.RoundTripper
	// AuthorityHost is the Entra ID authority (AZURE_AUTHORITY_HOST);
	// empty means Azure's public cloud. A named authority is trusted as
	// named: no instance discovery against Microsoft's public cloud.
	AuthorityHost string
	// TokenClient carries the token requests; nil means azcore's default.
	TokenClient azcore.ClientOptions
}

// Driver is the Azure OpenAI driver.
type Driver struct {
	opts   Options
	tokens tokenSources
}

// New returns a driver.
func New(opts Options) *Driver {
	if opts.Base == nil {
		opts.Base = http.DefaultTransport
	}
	return &Driver{opts: opts}
}

// Prepare targets the deployment (Kong's azure.lua configure_request):
// https://{instance}.openai.azure.com/openai/deployments/{deployment}/chat/completions
// (/completions, /embeddings for those route types), with ?api-version=;
// the Responses API is not deployment-scoped: /openai/v1/responses (the
// deployment is the body's model), where Azure's v1 API takes no dated
// api-version (see responsesVersion). upstream_url replaces the URL, and
// still gets the api-version when it names none.
func (d *Driver) Prepare(c *provider.Call) (provider.Upstream, error) {
	o := &c.Plugin.Model.Options
	responses := c.Plugin.RouteType == config.RouteResponses
	var u url.URL
	switch {
	case c.Upstream != nil:
		u = *c.Upstream
	case responses:
		u = url.URL{Scheme: "https", Host: o.AzureInstance + ".openai.azure.com", Path: "/openai/v1/responses"}
	default:
		op := "/chat/completions"
		switch c.Plugin.RouteType {
		case config.RouteCompletions:
			op = "/completions"
		case config.RouteEmbeddings:
			op = "/embeddings"
		}
		u = url.URL{Scheme: "https", Host: o.AzureInstance + ".openai.azure.com",
			Path: "/openai/deployments/" + o.AzureDeploymentID + op}
		if strings.ContainsAny(o.AzureDeploymentID, "/?#%") {
			u.RawPath = "/openai/deployments/" + url.PathEscape(o.AzureDeploymentID) + op
		}
	}
	version := o.AzureAPIVersion
	if responses {
		version = responsesVersion(version)
	}
	if version != "" && !strings.Contains(u.RawQuery, "api-version=") {
		q := "api-version=" + url.QueryEscape(version)
		if u.RawQuery != "" {
			q = u.RawQuery + "&" + q
		}
		u.RawQuery = q
	}
	up := provider.Upstream{URL: &u}
	if a := &c.Plugin.Auth; a.AzureUseManagedIdentity {
		src, err := d.tokens.get(a.AzureTenantID, a.AzureClientID, a.AzureClientSecret, d.opts)
		if err != nil {
			return provider.Upstream{}, &provider.Error{Status: http.StatusInternalServerError, Type: provider.TypeServer,
				Code: "azure_credential", Message: "the Azure service principal cannot be used: " + err.Error()}
		}
		up.Transport = &bearer{src: src, base: d.opts.Base}
	}
	return up, nil
}

// ServesNatively: Azure serves the Responses API and embeddings in
// OpenAI's format, so both are relayed byte for byte like chat.
func (d *Driver) ServesNatively(routeType string) bool {
	return routeType == config.RouteResponses || routeType == config.RouteEmbeddings
}

// responsesVersion is the api-version sent to /openai/v1/responses. Azure's
// v1 API (GA since August 2025) needs none and refuses the dated versions
// of the deployment-scoped API ("API version not supported"), so a dated
// azure_api_version (Kong's default 2023-05-15 included) is not sent;
// anything else ("preview", as Kong asks for, for preview features) is.
func responsesVersion(v string) string {
	if len(v) >= 10 && v[4] == '-' && v[7] == '-' && strings.Trim(v[:4]+v[5:7]+v[8:10], "0123456789") == "" {
		return ""
	}
	return v
}
