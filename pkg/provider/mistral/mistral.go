// Package mistral is the driver for Mistral (Kong's mistral.lua): in the
// openai format the body and answer pass byte for byte to Mistral's
// OpenAI-compatible API (or upstream_url); in the ollama format they are
// translated to and from Ollama's /api/chat on upstream_url.
package mistral

import (
	"net/http"
	"net/url"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/ollama"
)

var chatURL = &url.URL{Scheme: "https", Host: "api.mistral.ai:443", Path: "/v1/chat/completions"}

// Driver is the Mistral driver.
type Driver struct {
	// Base is the proxy's HTTP transport, for the ollama format's calls.
	Base http.RoundTripper
}

// Prepare targets Mistral's chat endpoint or upstream_url. A bare host in
// upstream_url gets the format's chat path (/v1/chat/completions, or
// Ollama's /api/chat).
func (d Driver) Prepare(c *provider.Call) (provider.Upstream, error) {
	o := &c.Plugin.Model.Options
	if o.MistralFormat == "ollama" {
		if c.Upstream == nil {
			return provider.Upstream{}, provider.Invalid("", "mistral_format ollama needs model.options.upstream_url (the Ollama server)")
		}
		return ollama.Prepare(c, provider.DefaultPath(c.Upstream, ollama.ChatPath), d.Base)
	}
	switch {
	case c.Upstream != nil:
		return provider.Upstream{URL: provider.DefaultPath(c.Upstream, "/v1/chat/completions")}, nil
	case c.Plugin.RouteType == config.RouteCompletions:
		return provider.Upstream{}, provider.Unsupported("", "Mistral's API has no llm/v1/completions endpoint; use llm/v1/chat, or upstream_url for a server that has one")
	}
	return provider.Upstream{URL: chatURL}, nil
}
