// Package provider is the upstream side of the proxy: one Driver per LLM
// provider, in the shape Kong's drivers share (kong/llm/drivers/*.lua):
// configure the target and its auth, translate the OpenAI request into the
// provider's, and translate the answer and the stream back, event by event.
//
// The proxy runs every policy (routes, key-auth, model, token caps, limits,
// statistics) once, on the OpenAI-shaped request and the OpenAI-shaped
// answer. A driver sees the request after that policy and must answer as an
// OpenAI-compatible server would: a driver for OpenAI's own format (OpenAI,
// Azure, OpenAI-compatible servers) relays the bytes untouched; a
// translating driver (Bedrock, Anthropic, Gemini, ...) is an http.RoundTripper
// whose Response carries an OpenAI chat completion or chunk stream. A driver
// never decides policy and never logs a credential.
package provider

import (
	"net/http"
	"net/url"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
)

// Call is one OpenAI-shaped request, after the proxy's policy.
type Call struct {
	Plugin *config.Plugin
	// Model is the model the upstream is asked for.
	Model string
	// Stream says the answer is an event stream.
	Stream bool
	// Body is the OpenAI-shaped body the upstream would read.
	Body []byte
	// Upstream is model.options.upstream_url, resolved for this request,
	// or nil when none is configured.
	Upstream *url.URL
}

// Upstream is how one call reaches its provider.
type Upstream struct {
	// URL is the provider's endpoint for the call (Kong's
	// configure_request); the proxy adds the client's query.
	URL *url.URL
	// Transport carries the call. Nil relays the OpenAI-shaped request and
	// answer byte for byte through the proxy's HTTP transport; a
	// translating driver returns a RoundTripper that speaks the provider's
	// API and answers in OpenAI's format (see JSONResponse, StreamResponse).
	Transport http.RoundTripper
	// Header is set on the outgoing request over the client's values:
	// headers the upstream reads that the driver decides (a native
	// Messages call's anthropic-version). Never a credential: the proxy
	// sets the configured auth after it.
	Header http.Header
}

// Driver prepares calls to one provider.
type Driver interface {
	// Prepare checks and translates one call before anything is sent. An
	// error it returns is an *Error, the client's fault (400 unless it
	// says otherwise).
	Prepare(c *Call) (Upstream, error)
}

// Set maps Kong's provider names (config.Providers) to the drivers a
// binary carries.
type Set map[string]Driver
