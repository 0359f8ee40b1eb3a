package provider

import (
	"fmt"
	"net/http"
)

// OpenAI's error types, which SDKs map to their exception classes.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeAuthentication = "authentication_error"
	TypePermission     = "permission_error"
	TypeNotFound       = "not_found_error"
	TypeRateLimit      = "rate_limit_error"
	TypeServer         = "server_error"
)

// Error is an error in OpenAI's shape: one a driver refuses a request
// with before calling (a field it cannot map), or a provider's error
// translated. Header carries Retry-After and the like.
type Error struct {
	Status  int
	Message string
	Type    string
	Code    string
	Param   string
	Header  http.Header
}

func (e *Error) Error() string { return e.Message }

// Unsupported is the 400 for a request field a driver cannot map: never
// silently dropped.
func Unsupported(param, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Type: TypeInvalidRequest, Code: "unsupported_parameter", Param: param,
		Message: fmt.Sprintf(format, args...)}
}

// Invalid is the 400 for a request field whose value is wrong.
func Invalid(param, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Type: TypeInvalidRequest, Code: "invalid_parameter", Param: param,
		Message: fmt.Sprintf(format, args...)}
}

// StreamError ends a translated stream that failed after its first byte:
// the proxy writes it as an OpenAI-shaped error event, sends no [DONE], and
// aborts the answer so that the client and the edge see the failure.
type StreamError struct {
	Message string
	Type    string
	Code    string
	// Cause is the provider's error, for the logs only.
	Cause error
}

func (e *StreamError) Error() string {
	if e.Cause != nil {
		return e.Message + ": " + e.Cause.Error()
	}
	return e.Message
}

func (e *StreamError) Unwrap() error { return e.Cause }

// StatusType is the OpenAI error type for an HTTP status.
func StatusType(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return TypeAuthentication
	case status == http.StatusForbidden:
		return TypePermission
	case status == http.StatusNotFound:
		return TypeNotFound
	case status == http.StatusTooManyRequests:
		return TypeRateLimit
	case status >= 500:
		return TypeServer
	}
	return TypeInvalidRequest
}
