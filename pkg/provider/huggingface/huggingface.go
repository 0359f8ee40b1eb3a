// Package huggingface is the driver for Hugging Face's Inference
// Providers router, which speaks OpenAI's chat format with the model in
// the body: the request and answer pass byte for byte.
package huggingface

import (
	"net/url"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

var chatURL = &url.URL{Scheme: "https", Host: "router.huggingface.co", Path: "/v1/chat/completions"}

// Driver is the Hugging Face driver. Its zero value is ready.
type Driver struct{}

// Prepare targets the router, or upstream_url (a bare host, such as a
// dedicated Inference Endpoint, gets /v1/chat/completions as in Kong).
func (Driver) Prepare(c *provider.Call) (provider.Upstream, error) {
	switch {
	case c.Upstream != nil:
		return provider.Upstream{URL: provider.DefaultPath(c.Upstream, "/v1/chat/completions")}, nil
	case c.Plugin.RouteType == config.RouteCompletions:
		return provider.Upstream{}, provider.Unsupported("", "Hugging Face's router serves chat only: use llm/v1/chat")
	}
	return provider.Upstream{URL: chatURL}, nil
}
