package edge

import (
	"encoding/json"
	"errors"
	"strings"
)

// kind is the event source an event came from.
type kind int

const (
	kindFunctionURL kind = iota + 1
	kindHTTPAPI          // API Gateway HTTP API, payload format 2.0
	kindHTTPAPIv1        // API Gateway HTTP API, payload format 1.0 (REST-shaped, never streamed)
	kindREST             // API Gateway REST API (proxy integration)
)

func (k kind) String() string {
	switch k {
	case kindFunctionURL:
		return "function-url"
	case kindHTTPAPI:
		return "http-api"
	case kindHTTPAPIv1:
		return "http-api-v1"
	case kindREST:
		return "rest-api"
	}
	return "unknown"
}

// ErrUnsupportedEvent matches (errors.Is) the error for an event that is
// neither a Function URL, an API Gateway REST nor an HTTP API event.
var ErrUnsupportedEvent = errors.New("unsupported event")

// UnsupportedEventError is that error. Its type name is what Lambda reports
// as the errorType.
type UnsupportedEventError struct{ Reason string }

func (e *UnsupportedEventError) Error() string { return "edge: unsupported event: " + e.Reason }

// Is makes errors.Is(err, ErrUnsupportedEvent) true.
func (e *UnsupportedEventError) Is(target error) bool { return target == ErrUnsupportedEvent }

// probe holds just the fields that tell the event sources apart.
type probe struct {
	Version        string  `json:"version"`
	HTTPMethod     string  `json:"httpMethod"`
	Resource       *string `json:"resource"`
	RequestContext *struct {
		DomainName string          `json:"domainName"`
		ELB        json.RawMessage `json:"elb"`
		HTTP       *struct {
			Method string `json:"method"`
		} `json:"http"`
	} `json:"requestContext"`
}

// detect classifies a raw event. The Function URL and HTTP API 2.0 payloads
// are identical in shape; only the domain tells them apart. REST and HTTP API
// 1.0 payloads differ only by the version field, which REST events lack.
func detect(payload []byte) (kind, error) {
	var p probe
	if err := json.Unmarshal(payload, &p); err != nil {
		return 0, &UnsupportedEventError{Reason: "not a JSON object: " + err.Error()}
	}
	rc := p.RequestContext
	switch {
	case p.Version == "2.0" && rc != nil && rc.HTTP != nil && rc.HTTP.Method != "":
		if strings.Contains(rc.DomainName, ".lambda-url.") {
			return kindFunctionURL, nil
		}
		return kindHTTPAPI, nil
	case p.HTTPMethod != "" && (rc == nil || len(rc.ELB) == 0) && (p.Resource != nil || rc != nil):
		if p.Version == "1.0" {
			return kindHTTPAPIv1, nil
		}
		return kindREST, nil
	}
	return 0, &UnsupportedEventError{Reason: "want a Function URL, API Gateway REST or HTTP API event"}
}
