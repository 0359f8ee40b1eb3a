package cohere

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
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
	body, param, err := provider.SplitBodyParam(c.Body, c.Plugin.Auth)
	if err != nil {
		return provider.Upstream{}, err
	}
	req, err := chat.Decode(body)
	if err != nil {
		return provider.Upstream{}, err
	}
	req.Stream = c.Stream
	cr, err := Translate(req, c.Model, c.Plugin.Model.Options.TopK)
	if err != nil {
		return provider.Upstream{}, err
	}
	out, err := json.Marshal(cr)
	if err != nil {
		return provider.Upstream{}, provider.Invalid("", "the request cannot be encoded for Cohere: %v", err)
	}
	out = provider.AddBodyParam(out, c.Plugin.Auth.ParamName, param)
	base := d.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return provider.Upstream{URL: target, Transport: &transport{base: base, body: out, auth: c.Plugin.Auth,
		model: c.Model, stream: c.Stream, usage: req.IncludeUsage()}}, nil
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
		req.Header.Set("Accept", "text/event-stream")
	} else {
		req.Header.Set("Accept", "application/json")
	}
	res, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode/100 != 2 {
		return provider.ErrorResponse(r, provider.UpstreamError(res, "cohere", errorMessage)), nil
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
