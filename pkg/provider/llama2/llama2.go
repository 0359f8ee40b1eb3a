// Package llama2 is the driver for self-hosted Llama servers (Kong's
// llama2.lua): upstream_url is required; the openai format passes byte for
// byte, the ollama format is translated to and from Ollama's /api/chat.
// Kong's raw format is refused: it drops every assistant turn.
package llama2

import (
	"net/http"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/ollama"
)

// Driver is the Llama2 driver.
type Driver struct {
	// Base is the proxy's HTTP transport, for the ollama format's calls.
	Base http.RoundTripper
}

// Prepare targets upstream_url; a bare host gets the format's chat path.
func (d Driver) Prepare(c *provider.Call) (provider.Upstream, error) {
	if c.Upstream == nil {
		return provider.Upstream{}, provider.Invalid("", "must set 'model.options.upstream_url' for self-hosted providers/models")
	}
	switch c.Plugin.Model.Options.Llama2Format {
	case "ollama":
		return ollama.Prepare(c, provider.DefaultPath(c.Upstream, ollama.ChatPath), d.Base)
	case "openai":
		return provider.Upstream{URL: provider.DefaultPath(c.Upstream, "/v1/chat/completions")}, nil
	}
	return provider.Upstream{}, provider.Unsupported("", "llama2_format raw is not served: Kong's raw prompt drops every assistant turn; use openai (llama.cpp, vLLM, TGI) or ollama")
}
