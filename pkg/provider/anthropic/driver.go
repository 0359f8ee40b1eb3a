// Package anthropic is the driver for Anthropic's Messages API
// (model.provider: anthropic): OpenAI chat requests are translated into
// Messages requests, and the answers and event streams back into chat
// completions and chunks, event by event as they arrive. Kong's
// route_type preserve relays the client's own request byte for byte, with
// the configured anthropic-version header.
package anthropic

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

// Anthropic's endpoint (Kong's anthropic.lua: upstream_url_format and the
// llm/v1/chat path).
const (
	baseURL      = "https://api.anthropic.com:443"
	messagesPath = "/v1/messages"
)

// Bounds on what is read of a non-streamed answer and of an error body.
const (
	MaxAnswerBytes = 32 << 20
	MaxErrorBytes  = 1 << 20
)

// Driver is the Anthropic driver.
type Driver struct {
	// Transport carries the calls (http.DefaultTransport if nil).
	Transport http.RoundTripper
}

// New returns a driver whose calls go through tr.
func New(tr http.RoundTripper) *Driver { return &Driver{Transport: tr} }

func (d *Driver) transport() http.RoundTripper {
	if d.Transport == nil {
		return http.DefaultTransport
	}
	return d.Transport
}

// Prepare translates a chat call, or readies a preserve relay. Kong's
// llm/v1/completions (the legacy Text Completions API, Claude 2 only) is
// refused.
func (d *Driver) Prepare(c *provider.Call) (provider.Upstream, error) {
	p := c.Plugin
	o := &p.Model.Options
	switch p.RouteType {
	case config.RouteCompletions:
		return provider.Upstream{}, provider.Unsupported("route_type", "route_type llm/v1/completions is not supported for anthropic: Anthropic's Text Completions API served only Claude 2 models; use llm/v1/chat")
	case config.RoutePreserve:
		return provider.Upstream{URL: target(c, ""), Transport: &versioned{next: d.transport(), version: o.AnthropicVersion}}, nil
	}
	r, err := chat.Decode(c.Body)
	if err != nil {
		return provider.Upstream{}, err
	}
	model := c.Model
	if model == "" {
		model = r.Model
	}
	if model == "" {
		return provider.Upstream{}, provider.Invalid("model", "a model is needed: set model.name in the configuration or model in the request")
	}
	req, err := translate(r, model, c.Stream, o)
	if err != nil {
		return provider.Upstream{}, err
	}
	body, err := json.Marshal(req)
	if err != nil {
		return provider.Upstream{}, provider.Invalid("", "the request could not be translated: %v", err)
	}
	return provider.Upstream{URL: target(c, messagesPath), Transport: &call{
		next: d.transport(), body: body, stream: c.Stream, includeUsage: r.IncludeUsage(),
		model: model, version: o.AnthropicVersion, authHeader: p.Auth.HeaderName,
	}}, nil
}

// target is upstream_url when configured; else Anthropic's endpoint, with
// upstream_path as its path when set. The configuration reads an
// upstream_path without upstream_url as a path on OpenAI's host, which
// is not the host here.
func target(c *provider.Call, path string) *url.URL {
	o := &c.Plugin.Model.Options
	if o.UpstreamPath != "" && o.UpstreamURL == "https://api.openai.com:443"+o.UpstreamPath {
		u, _ := url.Parse(baseURL + o.UpstreamPath)
		return u
	}
	if c.Upstream != nil {
		return c.Upstream
	}
	u, _ := url.Parse(baseURL + path)
	return u
}

// versioned relays a preserve request as it is, adding the configured
// anthropic-version (Kong sets it on every request).
type versioned struct {
	next    http.RoundTripper
	version string
}

func (v *versioned) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("anthropic-version", v.version)
	return v.next.RoundTrip(r)
}

// call is one translated chat call.
type call struct {
	next         http.RoundTripper
	body         []byte
	stream       bool
	includeUsage bool
	model        string
	version      string
	authHeader   string
}

// passHeaders are the client's headers Anthropic reads besides the
// credential: beta features.
var passHeaders = []string{"Anthropic-Beta"}

// RoundTrip sends the Messages request to r's URL (the proxy's target with
// the client's query and the auth param) with only the headers Anthropic
// needs, and answers as an OpenAI server would.
func (c *call) RoundTrip(r *http.Request) (*http.Response, error) {
	out, err := http.NewRequestWithContext(r.Context(), http.MethodPost, r.URL.String(), bytes.NewReader(c.body))
	if err != nil {
		return nil, err
	}
	h := out.Header
	h.Set("Content-Type", "application/json")
	h.Set("anthropic-version", c.version)
	if c.stream {
		h.Set("Accept", "text/event-stream")
	} else {
		h.Set("Accept", "application/json")
	}
	if c.authHeader != "" {
		if v := r.Header.Values(c.authHeader); len(v) > 0 {
			h[http.CanonicalHeaderKey(c.authHeader)] = v
		}
	}
	for _, k := range passHeaders {
		if v := r.Header.Values(k); len(v) > 0 {
			h[k] = v
		}
	}
	if ua := r.Header.Get("User-Agent"); ua != "" {
		h.Set("User-Agent", ua)
	}
	res, err := c.next.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		defer res.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(res.Body, MaxErrorBytes))
		return provider.ErrorResponse(r, upstreamError(res.StatusCode, res.Header, b)), nil
	}
	if c.stream {
		return provider.StreamResponse(r, newEvents(res.Body, c.model, c.includeUsage)), nil
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, MaxAnswerBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxAnswerBytes {
		return provider.ErrorResponse(r, badAnswer("it is larger than 32 MiB")), nil
	}
	body, perr := completion(b)
	if perr != nil {
		return provider.ErrorResponse(r, perr), nil
	}
	return provider.JSONResponse(r, http.StatusOK, body), nil
}
