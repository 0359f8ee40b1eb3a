package anthropic

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// apiError is Anthropic's error body, {"type":"error","error":{...}}; it
// is also the data of a stream's error event.
type apiError struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

// StatusOverloaded is Anthropic's 529 overloaded_error.
const StatusOverloaded = 529

// upstreamError translates a non-2xx answer (body read within a bound) to
// OpenAI's shape. The status passes, except 529 (overloaded), which no
// OpenAI client knows and which becomes 503 so that clients retry it as
// they retry any unavailable server. Retry-After passes along. A body that
// is not Anthropic's error (an HTML page from a load balancer) is not
// relayed: only its status is named.
func upstreamError(status int, h http.Header, body []byte) *provider.Error {
	var ae apiError
	out := &provider.Error{Status: status}
	if json.Unmarshal(body, &ae) == nil && ae.Error.Message != "" {
		out.Message, out.Code = ae.Error.Message, ae.Error.Type
	} else {
		out.Message = "Anthropic answered " + strconv.Itoa(status) + " " + http.StatusText(status)
	}
	if status == StatusOverloaded {
		out.Status = http.StatusServiceUnavailable
		if out.Code == "" {
			out.Code = "overloaded_error"
		}
	}
	if out.Status < 400 || out.Status > 599 {
		out.Status = http.StatusBadGateway
	}
	out.Type = errorType(ae.Error.Type, out.Status)
	if ra := h.Get("Retry-After"); ra != "" {
		out.Header = http.Header{"Retry-After": {ra}}
	}
	return out
}

// errorType is the OpenAI error type for an Anthropic error type, else for
// the status.
func errorType(anthropicType string, status int) string {
	switch anthropicType {
	case "invalid_request_error", "request_too_large":
		return provider.TypeInvalidRequest
	case "authentication_error":
		return provider.TypeAuthentication
	case "permission_error", "billing_error":
		return provider.TypePermission
	case "not_found_error":
		return provider.TypeNotFound
	case "rate_limit_error":
		return provider.TypeRateLimit
	case "api_error", "overloaded_error", "timeout_error":
		return provider.TypeServer
	}
	return provider.StatusType(status)
}

// streamError is an error event received after the first byte.
func streamError(data []byte) *provider.StreamError {
	var ae apiError
	if json.Unmarshal(data, &ae) != nil || ae.Error.Message == "" {
		return &provider.StreamError{Message: "Anthropic's stream failed", Type: provider.TypeServer, Code: "api_error"}
	}
	return &provider.StreamError{Message: ae.Error.Message, Type: errorType(ae.Error.Type, http.StatusInternalServerError), Code: ae.Error.Type}
}
