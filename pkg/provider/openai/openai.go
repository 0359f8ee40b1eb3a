// Package openai is the driver for OpenAI and every server that speaks its
// format: the request and the answer pass byte for byte, with no decode and
// re-encode, so that nothing the client and the upstream agree on is lost
// and the relay costs what a bare reverse-proxy hop costs.
package openai

import (
	"net/url"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// OpenAI's endpoints per route type (Kong's openai.lua).
var (
	chatURL        = &url.URL{Scheme: "https", Host: "api.openai.com", Path: "/v1/chat/completions"}
	completionsURL = &url.URL{Scheme: "https", Host: "api.openai.com", Path: "/v1/completions"}
	responsesURL   = &url.URL{Scheme: "https", Host: "api.openai.com", Path: "/v1/responses"}
	embeddingsURL  = &url.URL{Scheme: "https", Host: "api.openai.com", Path: "/v1/embeddings"}
)

// Driver is the OpenAI driver. Its zero value is ready.
type Driver struct{}

// Prepare targets upstream_url when one is configured, else OpenAI's
// endpoint for the route type. The body goes as the proxy shaped it.
func (Driver) Prepare(c *provider.Call) (provider.Upstream, error) {
	switch {
	case c.Upstream != nil:
		return provider.Upstream{URL: c.Upstream}, nil
	case c.Plugin.RouteType == config.RouteCompletions:
		return provider.Upstream{URL: completionsURL}, nil
	case c.Plugin.RouteType == config.RouteResponses:
		return provider.Upstream{URL: responsesURL}, nil
	case c.Plugin.RouteType == config.RouteEmbeddings:
		return provider.Upstream{URL: embeddingsURL}, nil
	}
	return provider.Upstream{URL: chatURL}, nil
}

// ServesNatively: OpenAI serves the Responses API and embeddings itself,
// so both are relayed byte for byte like chat.
func (Driver) ServesNatively(routeType string) bool {
	return routeType == config.RouteResponses || routeType == config.RouteEmbeddings
}
