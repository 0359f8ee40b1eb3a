// Package config reads Kong ai-proxy configuration documents (a bare plugin
// config, an Admin-API plugin object, or a decK declarative file; YAML or JSON),
// validates them against Kong's schema and compiles them into an immutable
// Config that the proxy reads on every request.
//
// It does no I/O of its own: environment lookups and secret references are
// resolved through functions the caller passes in Options.
package config

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/route"
)

// Route types, as Kong names them.
const (
	RouteChat        = "llm/v1/chat"
	RouteCompletions = "llm/v1/completions"
	RoutePreserve    = "preserve"
)

// Streaming policies for response_streaming.
const (
	StreamAllow  = "allow"
	StreamDeny   = "deny"
	StreamAlways = "always"
)

// DefaultMaxRequestBodySize is 1 MiB. Kong's default of 8 KiB is a deliberate
// difference: a long chat history passes 8 KiB after a few turns.
const DefaultMaxRequestBodySize = 1 << 20

// DefaultRoutePath is the route of Kong's "chat route with dynamic model
// selection" recipe, used when a document names no routes.
const DefaultRoutePath = "~/(?<model>[^#?/]+)/chat/completions$"

// Config is one compiled, validated configuration version. It is immutable:
// a new version is a new Config.
type Config struct {
	Routes []*Route
}

// Route is a decK route with the ai-proxy plugin that applies to it.
type Route struct {
	Name    string
	Paths   []*route.Path
	Methods []string // upper case; empty means any
	Plugin  *Plugin
	// KeyAuth, when set, requires a client key (Kong's key-auth plugin).
	KeyAuth *KeyAuth
}

// Plugin is the ai-proxy plugin config, with Kong's defaults applied.
type Plugin struct {
	// ID names the plugin in statistics: its id, else its route's name.
	ID                 string
	RouteType          string
	Auth               Auth
	Logging            Logging
	Model              Model
	ResponseStreaming  string
	MaxRequestBodySize int64
	ModelNameHeader    bool
}

// Auth says how the proxy authenticates to the upstream.
type Auth struct {
	HeaderName    string
	HeaderValue   string
	ParamName     string
	ParamValue    string
	ParamLocation string // "query" or "body"
	AllowOverride bool
}

// Logging switches Kong's analytics log fields.
type Logging struct {
	LogStatistics bool
	LogPayloads   bool
}

// Model selects the upstream model.
type Model struct {
	Provider string
	// Name is empty when the document sets no model name: the client's
	// body then chooses.
	Name    Template
	Options ModelOptions
}

// ModelOptions are Kong's model.options. Nil pointers are unset.
type ModelOptions struct {
	MaxTokens   *int
	Temperature *float64
	TopP        *float64
	TopK        *int
	InputCost   *float64
	OutputCost  *float64
	UpstreamURL string
	// Upstream is UpstreamURL parsed, or nil (also when it is a template).
	Upstream *url.URL
	// UpstreamTemplate is UpstreamURL when it holds $(...) references,
	// resolved per request.
	UpstreamTemplate Template
	// UpstreamPath is model.options.upstream_path as configured.
	UpstreamPath string
}

// Match finds the route for a request path (already percent-decoded). It
// returns the route and its regex captures. When a path matches but no route
// allows the method, it returns allowed=false with the route, so the caller
// can answer 405 rather than 404.
func (c *Config) Match(method, path string) (r *Route, captures map[string]string, allowed bool) {
	var pathOnly *Route
	// Kong evaluates regex paths before prefix paths, and among prefixes the
	// longest wins.
	for _, rt := range c.Routes {
		for _, p := range rt.Paths {
			if !p.IsRegex() {
				continue
			}
			if caps, ok := p.Match(path); ok {
				if rt.allows(method) {
					return rt, caps, true
				}
				if pathOnly == nil {
					pathOnly = rt
				}
			}
		}
	}
	var best *Route
	bestLen := -1
	for _, rt := range c.Routes {
		for _, p := range rt.Paths {
			if p.IsRegex() {
				continue
			}
			if _, ok := p.Match(path); ok && len(p.Source) > bestLen {
				if rt.allows(method) {
					best, bestLen = rt, len(p.Source)
				} else if pathOnly == nil {
					pathOnly = rt
				}
			}
		}
	}
	if best != nil {
		return best, nil, true
	}
	return pathOnly, nil, false
}

func (r *Route) allows(method string) bool {
	if len(r.Methods) == 0 {
		return true
	}
	for _, m := range r.Methods {
		if m == method {
			return true
		}
	}
	return false
}

// AllowHeader is the value of an Allow header for a 405 on this route.
func (r *Route) AllowHeader() string {
	if len(r.Methods) == 0 {
		return http.MethodPost
	}
	return strings.Join(r.Methods, ", ")
}
