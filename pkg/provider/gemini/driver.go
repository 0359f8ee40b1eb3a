// Package gemini is the driver for Google's Gemini API (AI Studio, an API
// key in the key query parameter or the x-goog-api-key header) and Vertex
// AI (model.options.gemini.api_endpoint, project_id, location_id; an OAuth2
// bearer from a service account or, with no key at all, from Workload
// Identity Federation with the function's AWS role), in the shape of Kong's
// drivers/gemini.lua: generateContent and streamGenerateContent?alt=sse,
// translated from and to OpenAI's chat format.
package gemini

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// maxAnswer bounds a non-streamed answer.
const maxAnswer = 32 << 20

// Driver is the Gemini driver; build it with New.
type Driver struct {
	transport http.RoundTripper
	getenv    func(string) string
	log       *slog.Logger
	creds     *credCache
}

// Options configure a Driver. The zero value is usable.
type Options struct {
	// Transport carries the calls to Gemini and to Google's token
	// endpoints (http.DefaultTransport if nil).
	Transport http.RoundTripper
	// Getenv reads GCP_SERVICE_ACCOUNT (os.Getenv if nil).
	Getenv func(string) string
	// AWS supplies the AWS credentials and region that external_account
	// credentials with an AWS source are exchanged from (Workload Identity
	// Federation); nil leaves it to Google's library, which reads the AWS_*
	// environment variables or the EC2 metadata server.
	AWS *AWSSource
	// Logger receives token failures (never a credential).
	Logger *slog.Logger
}

// New builds the driver.
func New(o Options) *Driver {
	if o.Transport == nil {
		o.Transport = http.DefaultTransport
	}
	if o.Getenv == nil {
		o.Getenv = func(string) string { return "" }
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Driver{transport: o.Transport, getenv: o.Getenv, log: o.Logger,
		creds: newCredCache(&http.Client{Transport: o.Transport}, o.AWS)}
}

// Google's endpoints (Kong's shared.lua upstream_url_format).
const (
	publicHost = "generativelanguage.googleapis.com"
)

// Prepare translates the chat request and targets generateContent or
// streamGenerateContent?alt=sse on the Gemini API, or on Vertex AI when
// model.options.gemini is set; upstream_url, when set, is used as it is
// (its :generateContent / :streamGenerateContent operation follows the
// request's stream flag).
func (d *Driver) Prepare(c *provider.Call) (provider.Upstream, error) {
	p := c.Plugin
	tok, err := d.tokens(p)
	if err != nil {
		return provider.Upstream{}, err
	}
	switch p.RouteType {
	case config.RouteChat:
	case config.RoutePreserve:
		u := c.Upstream
		if u == nil {
			u = base(p)
		}
		if tok == nil {
			return provider.Upstream{URL: u}, nil
		}
		return provider.Upstream{URL: u, Transport: &bearer{next: d.transport, tok: tok}}, nil
	default:
		return provider.Upstream{}, provider.Unsupported("", "no transformer for gemini://%s", p.RouteType)
	}
	if strings.HasPrefix(c.Model, "claude-") || strings.HasPrefix(c.Model, "mistral-") || strings.HasPrefix(c.Model, "jamba-") {
		return provider.Upstream{}, provider.Unsupported("model", "model %q is a partner model on Vertex AI, which this driver does not serve; use the anthropic or openai provider with upstream_url", c.Model)
	}
	var topK *int
	if o := p.Model.Options; o.TopK != nil {
		topK = o.TopK
	}
	r, body, err := translate(c.Body, c.Model, topK)
	if err != nil {
		return provider.Upstream{}, err
	}
	u := target(c, p)
	return provider.Upstream{URL: u, Transport: &call{sender: sender{d: d, authHeader: p.Auth.HeaderName, tok: tok}, body: body, stream: c.Stream,
		includeUsage: r.IncludeUsage(), model: c.Model}}, nil
}

// base is the scheme and host of the configured Gemini endpoint.
func base(p *config.Plugin) *url.URL {
	if g := p.Model.Options.Gemini; g.Vertex() {
		return &url.URL{Scheme: "https", Host: g.APIEndpoint, Path: "/"}
	}
	return &url.URL{Scheme: "https", Host: publicHost, Path: "/"}
}

// target is the call's URL.
func target(c *provider.Call, p *config.Plugin) *url.URL {
	op, other := "generateContent", "streamGenerateContent"
	if c.Stream {
		op, other = other, op
	}
	var u url.URL
	switch g := p.Model.Options.Gemini; {
	case c.Upstream != nil:
		u = *c.Upstream
		if before, ok := strings.CutSuffix(u.Path, ":"+other); ok {
			u.Path, u.RawPath = before+":"+op, ""
		}
	case g.Vertex():
		u = url.URL{Scheme: "https", Host: g.APIEndpoint,
			Path: "/v1/projects/" + g.ProjectID + "/locations/" + g.LocationID + "/publishers/google/models/" + c.Model + ":" + op}
	default:
		u = url.URL{Scheme: "https", Host: publicHost, Path: "/v1beta/models/" + c.Model + ":" + op}
	}
	if c.Stream {
		q := u.Query()
		q.Set("alt", "sse")
		u.RawQuery = q.Encode()
	}
	return &u
}

// sender makes a translated call's requests with its auth: the configured
// auth header, copied from the proxy's request, or the Google bearer.
type sender struct {
	d          *Driver
	authHeader string
	tok        tokenSource
}

// send posts body to the request's URL (the auth query parameter
// included), with accept as Accept when it is set. A bearer that cannot be
// had is the *provider.Error; err is the request's or the transport's.
func (s sender) send(ctx context.Context, req *http.Request, body []byte, accept string) (*http.Response, *provider.Error, error) {
	out, err := http.NewRequestWithContext(ctx, http.MethodPost, req.URL.String(), bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	out.Header.Set("Content-Type", "application/json")
	if accept != "" {
		out.Header.Set("Accept", accept)
	}
	if s.authHeader != "" {
		if v := req.Header.Values(s.authHeader); len(v) > 0 {
			out.Header[http.CanonicalHeaderKey(s.authHeader)] = v
		}
	}
	if s.tok != nil {
		if pe := s.d.authorize(out, s.tok); pe != nil {
			return nil, pe, nil
		}
	}
	res, err := s.d.transport.RoundTrip(out)
	return res, nil, err
}

// call is one translated call: the RoundTripper the proxy sends it with.
type call struct {
	sender
	body         []byte
	stream       bool
	includeUsage bool
	model        string
}

func (c *call) RoundTrip(req *http.Request) (*http.Response, error) {
	accept := ""
	if c.stream {
		accept = "text/event-stream"
	}
	res, pe, err := c.send(req.Context(), req, c.body, accept)
	if err != nil {
		return nil, err
	}
	if pe != nil {
		return provider.ErrorResponse(req, pe), nil
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		defer res.Body.Close()
		return provider.ErrorResponse(req, upstreamError(res)), nil
	}
	if !c.stream {
		defer res.Body.Close()
		body, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer+1))
		if err != nil {
			return nil, err
		}
		if len(body) > maxAnswer {
			return provider.ErrorResponse(req, &provider.Error{Status: http.StatusBadGateway, Type: provider.TypeServer,
				Code: "upstream_answer_too_large", Message: "Gemini's answer is larger than 32 MiB"}), nil
		}
		b, pe := answer(body, c.model)
		if pe != nil {
			return provider.ErrorResponse(req, pe), nil
		}
		return provider.JSONResponse(req, http.StatusOK, b), nil
	}
	ev := newEvents(res.Body, c.model, c.includeUsage)
	if pe := ev.prime(); pe != nil {
		res.Body.Close()
		return provider.ErrorResponse(req, pe), nil
	}
	return provider.StreamResponse(req, ev), nil
}
