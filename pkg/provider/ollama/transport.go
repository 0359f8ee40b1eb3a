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
	body, param, err := provider.SplitBodyParam(c.Body, c.Plugin.Auth)
	if err != nil {
		return provider.Upstream{}, err
	}
	req, err := chat.Decode(body)
	if err != nil {
		return provider.Upstream{}, err
	}
	req.Stream = c.Stream
	o, err := Translate(req, c.Model, c.Plugin.Model.Options.TopK)
	if err != nil {
		return provider.Upstream{}, err
	}
	out, err := json.Marshal(o)
	if err != nil {
		return provider.Upstream{}, provider.Invalid("", "the request cannot be encoded for Ollama: %v", err)
	}
	out = provider.AddBodyParam(out, c.Plugin.Auth.ParamName, param)
	return provider.Upstream{URL: target, Transport: &provider.JSONCall{
		Base: base, Body: out, Auth: c.Plugin.Auth, Model: c.Model, Stream: c.Stream, IncludeUsage: req.IncludeUsage(),
		Provider: "ollama", StreamAccept: "application/x-ndjson", ErrorMessage: errorMessage, Events: events, Completion: ToCompletion,
	}}, nil
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
