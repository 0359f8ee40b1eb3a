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

// decodeEvent decodes a raw event into event and classifies it, as aws-lambda-go
// and then the handler Start registers do. A payload that is no JSON object,
// or has a field of the wrong type, is no supported event.
func decodeEvent(payload []byte) (kind, *event, error) {
	ev := &event{}
	if err := json.Unmarshal(payload, ev); err != nil {
		return 0, nil, &UnsupportedEventError{Reason: "not a JSON object of a supported event: " + err.Error()}
	}
	k, err := ev.kind()
	return k, ev, err
}

var errUnsupportedSource = &UnsupportedEventError{Reason: "want a Function URL, API Gateway REST or HTTP API event"}

// kind classifies the event. The Function URL and HTTP API 2.0 payloads
// are identical in shape; only the domain tells them apart. REST and HTTP
// API 1.0 payloads differ only by the version field, which REST events
// lack; an ALB event looks like a REST event but names its load balancer.
func (ev *event) kind() (kind, error) {
	if ev == nil { // a JSON null, which aws-lambda-go decodes into no event
		return 0, errUnsupportedSource
	}
	var domain, method string
	var elb bool
	rc := ev.RequestContext
	if rc != nil {
		domain, method, elb = rc.DomainName, rc.HTTP.Method, len(rc.ELB) > 0
	}
	switch {
	case ev.Version == "2.0" && method != "":
		if strings.Contains(domain, ".lambda-url.") {
			return kindFunctionURL, nil
		}
		return kindHTTPAPI, nil
	case ev.HTTPMethod != "" && !elb && (ev.Resource != nil || rc != nil):
		if ev.Version == "1.0" {
			return kindHTTPAPIv1, nil
		}
		return kindREST, nil
	}
	return 0, errUnsupportedSource
}
