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
// (or /completions), with ?api-version=; upstream_url replaces the URL,
// and still gets the api-version when it names none.
func (d *Driver) Prepare(c *provider.Call) (provider.Upstream, error) {
	o := &c.Plugin.Model.Options
	var u url.URL
	if c.Upstream != nil {
		u = *c.Upstream
	} else {
		op := "/chat/completions"
		if c.Plugin.RouteType == config.RouteCompletions {
			op = "/completions"
		}
		u = url.URL{Scheme: "https", Host: o.AzureInstance + ".openai.azure.com",
			Path: "/openai/deployments/" + o.AzureDeploymentID + op}
		if strings.ContainsAny(o.AzureDeploymentID, "/?#%") {
			u.RawPath = "/openai/deployments/" + url.PathEscape(o.AzureDeploymentID) + op
		}
	}
	if !strings.Contains(u.RawQuery, "api-version=") {
		q := "api-version=" + url.QueryEscape(o.AzureAPIVersion)
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
