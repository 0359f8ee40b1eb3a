package bedrock

import (
	"errors"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// statuses maps Bedrock's exceptions onto the status an OpenAI client
// reads. ModelNotReadyException is 503 (Bedrock sends 429): the model is
// warming up, which is not the client's rate; OpenAI's SDKs retry both.
// ModelTimeoutException is 504 (Bedrock sends 408): the upstream timed out,
// not the client. The credential errors are 403: the proxy's AWS
// credentials were refused, which no client key can fix.
var statuses = map[string]int{
	"ValidationException":           http.StatusBadRequest,
	"AccessDeniedException":         http.StatusForbidden,
	"ResourceNotFoundException":     http.StatusNotFound,
	"ThrottlingException":           http.StatusTooManyRequests,
	"ServiceQuotaExceededException": http.StatusTooManyRequests,
	"ModelNotReadyException":        http.StatusServiceUnavailable,
	"ModelTimeoutException":         http.StatusGatewayTimeout,
	"ServiceUnavailableException":   http.StatusServiceUnavailable,
	"InternalServerException":       http.StatusInternalServerError,
	"ModelErrorException":           http.StatusBadGateway,
	"ModelStreamErrorException":     http.StatusBadGateway,
	"UnrecognizedClientException":   http.StatusForbidden,
	"InvalidSignatureException":     http.StatusForbidden,
	"SignatureDoesNotMatch":         http.StatusForbidden,
	"IncompleteSignature":           http.StatusForbidden,
	"ExpiredTokenException":         http.StatusForbidden,
	"MissingAuthenticationToken":    http.StatusForbidden,
}

// apiError maps an SDK error to an OpenAI-shaped error; ok is false for
// errors that are not the service's answer (network, cancellation).
func apiError(err error) (*provider.Error, bool) {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return nil, false
	}
	code := ae.ErrorCode()
	status, known := statuses[code]
	var re *awshttp.ResponseError
	hasResp := errors.As(err, &re) && re.Response != nil
	if !known {
		status = http.StatusBadGateway
		if hasResp && re.HTTPStatusCode() >= 400 {
			status = re.HTTPStatusCode()
		}
	}
	msg := ae.ErrorMessage()
	if msg == "" {
		msg = code
	}
	e := &provider.Error{Status: status, Type: provider.StatusType(status), Code: code, Message: "Bedrock: " + msg}
	if status == http.StatusForbidden && (code != "AccessDeniedException") {
		e.Message = "Bedrock refused the proxy's AWS credentials (" + code + "): " + msg
	}
	if hasResp {
		if ra := re.Response.Header.Get("Retry-After"); ra != "" {
			e.Header = http.Header{"Retry-After": {ra}}
		}
	}
	return e, true
}

// errorResponse answers a failed call before its first byte: Bedrock's
// errors in OpenAI's shape; anything else goes back to the proxy as a
// transport error (unreachable, timed out, cancelled).
func errorResponse(req *http.Request, err error) (*http.Response, error) {
	if e, ok := apiError(err); ok {
		return provider.ErrorResponse(req, e), nil
	}
	return nil, err
}

// streamError is a failure after the first byte.
func streamError(err error) *provider.StreamError {
	if e, ok := apiError(err); ok {
		return &provider.StreamError{Message: e.Message, Type: e.Type, Code: e.Code, Cause: err}
	}
	var fe *frameTooLarge
	if errors.As(err, &fe) {
		return &provider.StreamError{Message: fe.Error(), Type: provider.TypeServer, Code: "upstream_frame_too_large", Cause: err}
	}
	return &provider.StreamError{Message: "the Bedrock stream failed", Type: provider.TypeServer, Code: "upstream_stream_error", Cause: err}
}
