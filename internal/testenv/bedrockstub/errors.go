package bedrockstub

import (
	"encoding/json"
	"net/http"
	"strings"
)

// APIError is an error answer: Type is the shape name the SDK turns into a
// typed error (ThrottlingException → *types.ThrottlingException), Status
// the HTTP status it comes with.
type APIError struct {
	Type    string
	Status  int
	Message string
}

func (e *APIError) Error() string { return e.Type + ": " + e.Message }

// The errors Bedrock answers before a stream, with their statuses.
func ErrThrottling(msg string) *APIError {
	return &APIError{"ThrottlingException", http.StatusTooManyRequests, msg}
}
func ErrValidation(msg string) *APIError {
	return &APIError{"ValidationException", http.StatusBadRequest, msg}
}
func ErrAccessDenied(msg string) *APIError {
	return &APIError{"AccessDeniedException", http.StatusForbidden, msg}
}
func ErrResourceNotFound(msg string) *APIError {
	return &APIError{"ResourceNotFoundException", http.StatusNotFound, msg}
}
func ErrModelNotReady(msg string) *APIError {
	return &APIError{"ModelNotReadyException", http.StatusTooManyRequests, msg}
}
func ErrModelTimeout(msg string) *APIError {
	return &APIError{"ModelTimeoutException", http.StatusRequestTimeout, msg}
}
func ErrServiceUnavailable(msg string) *APIError {
	return &APIError{"ServiceUnavailableException", http.StatusServiceUnavailable, msg}
}
func ErrInternalServer(msg string) *APIError {
	return &APIError{"InternalServerException", http.StatusInternalServerError, msg}
}

// ErrModelStreamError is the exception a stream ends with when the model
// fails mid-answer (only as a stream event; it has no HTTP status of its
// own).
func ErrModelStreamError(msg string) *APIError {
	return &APIError{"ModelStreamErrorException", http.StatusFailedDependency, msg}
}

func errValidation(msg string) *APIError { return ErrValidation(msg) }

// Bedrock's x-amzn-ErrorType carries a namespace URI after a colon, which
// the SDK strips; drivers that read the header themselves must too.
const (
	bedrockErrNS = ":http://internal.amazon.com/coral/com.amazon.bedrock/"
	coralErrNS   = ":http://internal.amazon.com/coral/com.amazon.coral.service/"
)

// writeError writes e as Bedrock does: x-amzn-ErrorType header and a JSON
// body {"message": ...}.
func writeError(w http.ResponseWriter, e *APIError) {
	ns := bedrockErrNS
	if strings.HasSuffix(e.Type, "SignatureException") || e.Type == "UnrecognizedClientException" || e.Type == "UnknownOperationException" {
		ns = coralErrNS
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", e.Type+ns)
	w.Header().Set("X-Amzn-RequestId", "00000000-0000-4000-8000-00000000b5ed")
	w.WriteHeader(e.Status)
	b, _ := json.Marshal(map[string]string{"message": e.Message})
	_, _ = w.Write(b)
}

// exceptionEventType is the :exception-type header of e in a stream: the
// union member name, the type in lower camel case.
func exceptionEventType(e *APIError) string {
	if e.Type == "" {
		return ""
	}
	return strings.ToLower(e.Type[:1]) + e.Type[1:]
}
