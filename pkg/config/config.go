// Package config reads Kong ai-proxy configuration documents (a bare plugin
// config, an Admin-API plugin object, a decK declarative file, or KongPlugin
// manifests; YAML or JSON), validates them against Kong's schema, resolves
// which plugin instance applies where, and compiles them into an immutable
// Config that the proxy reads on every request; pkg/route does the matching.
//
// It does no I/O of its own: environment lookups and secret references are
// resolved through functions the caller passes in Options.
package config

import (
	"net/http"
	"net/url"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/limits"
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
	// Routes are in the order of the document.
	Routes []*Route
	// Warnings are what the caller should log once for this version:
	// parts of the document that load but are not used.
	Warnings []string
	table    *route.Table[*Route]
}

// Route is a decK route with the plugins that apply to it.
type Route struct {
	route.Route
	Plugin *Plugin
	// KeyAuth, when set, requires a client key (Kong's key-auth plugin).
	KeyAuth *KeyAuth
	// RateLimiting and AIRateLimiting are Kong's rate-limiting and
	// ai-rate-limiting-advanced instances that apply; For(consumer) after
	// key-auth. Nil when none does.
	RateLimiting, AIRateLimiting Resolved[*limits.Policy]
}

func newConfig(routes []*Route) *Config {
	return &Config{Routes: routes, table: route.NewTable(routes, func(r *Route) *route.Route { return &r.Route })}
}

// Match finds the route for a request (path percent-decoded and
// dot-segment-normalized, host as in the Host header), with its regex
// captures. When a route matches all but the method it is returned with
// allowed=false, so the caller can answer 405 rather than 404; r is nil
// when nothing matches.
func (c *Config) Match(method, host, path string, header http.Header) (r *Route, captures map[string]string, allowed bool) {
	r, captures, allowed, _ = c.table.Match(route.Request{Method: method, Host: host, Path: path, Header: header})
	return r, captures, allowed
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
	// LLMFormat is the API clients speak: FormatOpenAI, or FormatAnthropic
	// (Anthropic's Messages API on /v1/messages; messages.go).
	LLMFormat string
	// ModelAliases map the model names an Anthropic client sends (Claude
	// Code picks its own) to the model ids the upstream is asked for.
	ModelAliases map[string]string
	// Advanced is set for an ai-proxy-advanced plugin (advanced.go).
	Advanced *Advanced
}

// Auth says how the proxy authenticates to the upstream.
type Auth struct {
	HeaderName    string
	HeaderValue   string
	ParamName     string
	ParamValue    string
	ParamLocation string // "query" or "body"
	AllowOverride bool
	// AWSAccessKeyID and AWSSecretAccessKey sign Bedrock calls instead of
	// the AWS SDK's default chain (the function's role).
	AWSAccessKeyID     string
	AWSSecretAccessKey string
	// Azure Entra ID: a service principal's client-credentials token.
	AzureUseManagedIdentity bool
	AzureClientID           string
	AzureClientSecret       string
	AzureTenantID           string
	// Google: an OAuth token from a service account (or external account)
	// JSON; empty JSON means the GCP_SERVICE_ACCOUNT environment variable.
	GCPUseServiceAccount  bool
	GCPServiceAccountJSON string
}

// Secrets are the configured credential values, which must never appear
// in a log line, an error or a relayed body.
func (a Auth) Secrets() []string {
	var out []string
	for _, v := range []string{a.HeaderValue, a.ParamValue, a.AWSSecretAccessKey, a.AzureClientSecret, a.GCPServiceAccountJSON} {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
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
	Name Template
	// Alias is Kong 3.14's model.model_alias: the name clients use for
	// this model. Parsed; the request side does not use it yet.
	Alias   string
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
	// CacheReadCost and CacheWriteCost (Kong 3.14) price cached and
	// cache-writing prompt tokens, per 1M tokens like InputCost.
	CacheReadCost  *float64
	CacheWriteCost *float64
	UpstreamURL    string
	// Upstream is UpstreamURL parsed, or nil (also when it is a template).
	Upstream *url.URL
	// UpstreamTemplate is UpstreamURL when it holds $(...) references,
	// resolved per request.
	UpstreamTemplate Template
	// UpstreamPath is model.options.upstream_path as configured.
	UpstreamPath string

	// Per-provider options, as Kong names them (providers.go).
	AnthropicVersion     string
	AzureInstance        string
	AzureDeploymentID    string
	AzureAPIVersion      string
	MistralFormat        string
	Llama2Format         string
	EmbeddingsDimensions *int
	Bedrock              *BedrockOptions
	Gemini               *GeminiOptions
	HuggingFace          *HuggingFaceOptions
	Cohere               *CohereOptions
}
