package provider

import (
	"net/http"
	"net/url"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
)

// MessagesCall is one Anthropic Messages request (llm_format: anthropic)
// after the proxy's policy, for a driver with a native Messages path.
type MessagesCall struct {
	Plugin *config.Plugin
	// Model is the model id the upstream is asked for (aliases resolved).
	Model string
	// Stream says the answer is an Anthropic event stream.
	Stream bool
	// CountTokens marks a /v1/messages/count_tokens request.
	CountTokens bool
	// Body is the Messages request as Anthropic's API reads it, with the
	// policy applied (model, stream, max_tokens cap, sampling overrides).
	Body []byte
	// Header holds the client's anthropic-version and anthropic-beta;
	// neither reaches the upstream unless the driver puts it in its
	// Upstream's Header.
	Header http.Header
	// Upstream is model.options.upstream_url, resolved, or nil.
	Upstream *url.URL
}

// MessagesDriver is a driver that can carry Anthropic Messages natively
// (Anthropic's own API; Claude on Bedrock through InvokeModel), keeping
// what a trip through the OpenAI chat shape would lose: prompt-cache
// breakpoints, signed thinking, cache usage. The upstream answers as
// Anthropic's API would: a message JSON, an Anthropic event stream
// (`event: <type>` / `data: <json>`, `event: error` when it fails
// mid-stream) or an error in Anthropic's shape (AnthropicErrorJSON). A nil
// Transport is a relay: the proxy sends Body to URL with the client's
// query and Header, through its own HTTP transport, and relays the answer
// byte for byte; a Transport makes the call itself and gets no client
// query. count_tokens is a call like any other (CountTokens). A driver
// without it is reached through the chat path.
type MessagesDriver interface {
	PrepareMessages(c *MessagesCall) (Upstream, error)
}

// AnthropicErrorType is Anthropic's error type for an HTTP status.
func AnthropicErrorType(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusGatewayTimeout:
		return "timeout_error"
	case http.StatusServiceUnavailable, 529:
		return "overloaded_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

// AnthropicErrorJSON renders {"type":"error","error":{"type","message"}},
// Anthropic's error body and the data of its `event: error`.
func AnthropicErrorJSON(typ, message string) []byte {
	b := make([]byte, 0, 64+len(message))
	b = append(b, `{"type":"error","error":{"type":`...)
	b = AppendString(b, typ)
	b = append(b, `,"message":`...)
	b = AppendString(b, message)
	return append(b, "}}"...)
}

// AnthropicErrorEvent is an `event: error` that ends an Anthropic stream.
func AnthropicErrorEvent(typ, message string) []byte {
	b := append([]byte("event: error\ndata: "), AnthropicErrorJSON(typ, message)...)
	return append(b, "\n\n"...)
}
