package ollama

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

// ChatPath is Ollama's chat endpoint, the path Kong's drivers give a bare
// host in upstream_url.
const ChatPath = "/api/chat"

// Prepare translates c for Ollama at target and returns the transport that
// makes the call through base (the proxy's HTTP transport).
func Prepare(c *provider.Call, target *url.URL, base http.RoundTripper) (provider.Upstream, error) {
	if c.Plugin.RouteType != config.RouteChat {
		return provider.Upstream{}, provider.Unsupported("", "the ollama format serves llm/v1/chat only")
	}
	return chat.JSONUpstream(c, target, "Ollama", Translate, provider.JSONCall{Base: base,
		Provider: "ollama", StreamAccept: "application/x-ndjson", ErrorMessage: errorMessage, Events: events, Completion: ToCompletion,
	})
}

// errorMessage is Ollama's {"error": "..."}.
func errorMessage(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	return string(bytes.TrimSpace(body[:min(len(body), 512)]))
}

// events is NewEvents as JSONCall takes it.
func events(body io.ReadCloser, model string, includeUsage bool) provider.Events {
	return NewEvents(body, model, includeUsage)
}
