package proxy

import (
	"net/http"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// OpenAI error types, so SDKs map our errors to the same exception classes
// as OpenAI's own.
const (
	typeInvalidRequest = "invalid_request_error"
	typeAuthentication = "authentication_error"
	typeServer         = "server_error"
)

// apiError is an error the proxy answers itself, in OpenAI's shape.
type apiError struct {
	status  int
	message string
	typ     string
	code    string
	param   string      // the request parameter at fault, if one is
	header  http.Header // extra response headers (Allow, Retry-After)
}

func (e *apiError) Error() string { return e.message }

func badRequest(code, msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, message: msg, typ: typeInvalidRequest, code: code}
}

// writeError writes e as {"error":{"message","type","param","code"}}.
func writeError(w http.ResponseWriter, e *apiError) {
	h := w.Header()
	for k, v := range e.header {
		h[k] = v
	}
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.status)
	_, _ = w.Write(errorJSON(e.message, e.typ, e.param, e.code))
}

// errorJSON renders the error object; it is also the payload of the SSE
// error event that ends a failed stream.
func errorJSON(message, typ, param, code string) []byte {
	return provider.ErrorJSON(message, typ, param, code)
}

// appendJSONString appends s as a JSON string literal.
func appendJSONString(b []byte, s string) []byte { return provider.AppendString(b, s) }
