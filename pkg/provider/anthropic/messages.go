package anthropic

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// Anthropic Messages in, Anthropic out (llm_format: anthropic): there is
// nothing to translate. PrepareMessages names the endpoint and the headers
// Anthropic's API reads, and leaves the Transport nil: the proxy relays the
// policed Messages body and Anthropic's answer byte for byte through its
// own HTTP transport, as it relays OpenAI's, and reads the usage from
// Anthropic's events itself (the answer is the client API's own shape).

// defaultMessagesURL is Anthropic's Messages endpoint. It names no port
// (baseURL, Kong's, does), so that the Host sent is api.anthropic.com.
const defaultMessagesURL = "https://api.anthropic.com" + messagesPath

// messagesHeaders are the client's headers Anthropic's API reads on a
// Messages call, passed on as the client sent them: the API version and
// the beta features (Claude Code's among them).
var messagesHeaders = []string{"Anthropic-Version", "Anthropic-Beta"}

// PrepareMessages readies a native Messages call: the endpoint is
// upstream_url or Anthropic's (count_tokens below it), the headers are the
// client's anthropic-version, else model.options.anthropic_version, and
// its anthropic-beta. The credential is the configured auth header, which
// the proxy sets.
func (d *Driver) PrepareMessages(c *provider.MessagesCall) (provider.Upstream, error) {
	if c.Model == "" {
		return provider.Upstream{}, provider.Invalid("model", "a model is needed: set model.name or model_aliases in the configuration, or model in the request")
	}
	h := http.Header{}
	for _, k := range messagesHeaders {
		if v := c.Header.Values(k); len(v) > 0 {
			h[k] = slices.Clone(v)
		}
	}
	if v := c.Plugin.Model.Options.AnthropicVersion; h.Get("Anthropic-Version") == "" && v != "" {
		h.Set("Anthropic-Version", v)
	}
	return provider.Upstream{URL: messagesURL(messagesBase(c), c.CountTokens), Header: h}, nil
}

// messagesBase is upstream_url, or nil for Anthropic's endpoint. An
// upstream_path without upstream_url is a path on Anthropic's host: the
// configuration reads it as one on OpenAI's (Kong's default host), as
// target does for chat.
func messagesBase(c *provider.MessagesCall) *url.URL {
	o := &c.Plugin.Model.Options
	if o.UpstreamPath != "" && o.UpstreamURL == "https://api.openai.com:443"+o.UpstreamPath {
		u, _ := url.Parse("https://api.anthropic.com" + o.UpstreamPath)
		return u
	}
	return c.Upstream
}

// messagesURL is Anthropic's Messages endpoint, or upstream_url: a URL
// whose path ends in /v1/messages is the endpoint itself, any other is a
// base that /v1/messages is added to. count_tokens is the endpoint plus
// /count_tokens. The configured URL's query stays.
func messagesURL(base *url.URL, count bool) *url.URL {
	var u url.URL
	if base == nil {
		b, _ := url.Parse(defaultMessagesURL)
		u = *b
	} else {
		u = *base
	}
	p := strings.TrimSuffix(u.Path, "/")
	if !strings.HasSuffix(p, messagesPath) {
		p += messagesPath
	}
	if count {
		p += "/count_tokens"
	}
	u.Path, u.RawPath = p, ""
	return &u
}
