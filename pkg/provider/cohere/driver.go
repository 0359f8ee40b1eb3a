package cohere

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

var chatURL = &url.URL{Scheme: "https", Host: "api.cohere.com", Path: "/v2/chat"}

// Driver is the Cohere driver.
type Driver struct {
	// Base is the proxy's HTTP transport.
	Base http.RoundTripper
}

// Prepare translates the call for v2 chat at Cohere, or at upstream_url (a
// bare host gets /v2/chat; Kong's /v1/chat becomes /v2/chat).
func (d Driver) Prepare(c *provider.Call) (provider.Upstream, error) {
	if c.Plugin.RouteType != config.RouteChat {
		return provider.Upstream{}, provider.Unsupported("", "Cohere is served for llm/v1/chat only: its generate API (Kong's llm/v1/completions) is retired")
	}
	target := chatURL
	if c.Upstream != nil {
		target = provider.DefaultPath(c.Upstream, "/v2/chat")
		if p, ok := strings.CutSuffix(target.Path, "/v1/chat"); ok {
			v := *target
			v.Path, v.RawPath = p+"/v2/chat", ""
			target = &v
		}
	}
	// JSONCall's nil Base is http.DefaultTransport.
	return chat.JSONUpstream(c, target, "Cohere", Translate, provider.JSONCall{Base: d.Base,
		Provider: "cohere", StreamAccept: "text/event-stream", ErrorMessage: errorMessage, Events: events, Completion: ToCompletion,
	})
}

// errorMessage is v2's {"id": ..., "message": "..."}.
func errorMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		return e.Message
	}
	return string(bytes.TrimSpace(body[:min(len(body), 512)]))
}

// events is NewEvents as JSONCall takes it.
func events(body io.ReadCloser, model string, includeUsage bool) provider.Events {
	return NewEvents(body, model, includeUsage)
}
