package ollama

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"

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
	return provider.Upstream{URL: target, Transport: &transport{
		base: base, body: out, auth: c.Plugin.Auth, model: c.Model, stream: c.Stream, usage: req.IncludeUsage(),
	}}, nil
}

// transport carries one translated call.
type transport struct {
	base   http.RoundTripper
	body   []byte
	auth   config.Auth
	model  string
	stream bool
	usage  bool
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, r.URL.String(), bytes.NewReader(t.body))
	if err != nil {
		return nil, err
	}
	req.Header = provider.AuthHeaders(r.Header, t.auth)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Length", strconv.Itoa(len(t.body)))
	if t.stream {
		req.Header.Set("Accept", "application/x-ndjson")
	} else {
		req.Header.Set("Accept", "application/json")
	}
	res, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode/100 != 2 {
		return provider.ErrorResponse(r, provider.UpstreamError(res, "ollama", errorMessage)), nil
	}
	if t.stream {
		return provider.StreamResponse(r, NewEvents(res.Body, t.model, t.usage)), nil
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	out, err := ToCompletion(body, t.model)
	if err != nil {
		return provider.ErrorResponse(r, &provider.Error{Status: http.StatusBadGateway, Type: provider.TypeServer, Code: "upstream_bad_answer", Message: err.Error()}), nil
	}
	return provider.JSONResponse(r, http.StatusOK, out), nil
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
