package edge

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"github.com/aws/aws-lambda-go/events"
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

// urlProbe is probe and a Function URL event in one: an event is then
// classified, and a Function URL event (the one every streamed answer comes
// from) decoded, by one pass over the payload instead of two. Its
// RequestContext, at the shallower depth, takes the place of the embedded
// event's (encoding/json's rule), and carries the probe's ELB besides.
type urlProbe struct {
	events.LambdaFunctionURLRequest
	HTTPMethod     string  `json:"httpMethod"`
	Resource       *string `json:"resource"`
	RequestContext *struct {
		events.LambdaFunctionURLRequestContext
		ELB json.RawMessage `json:"elb"`
	} `json:"requestContext"`
}

// decodeEvent classifies a raw event as detect does and, for a Function URL
// event, decodes it in the same pass (ev is nil for the other sources). An
// event that does not decode this way (a field of another source's shape
// that the Function URL type cannot hold) is left to detect, and to the
// event's own type, exactly as without this shortcut.
func decodeEvent(payload []byte) (k kind, ev *events.LambdaFunctionURLRequest, err error) {
	// Only a payload that names a Function URL domain somewhere can be a
	// Function URL event; the others skip the fuller decode (the probe
	// costs less). A wrong guess costs time, never the verdict: both ways
	// classify on the decoded fields.
	if !bytes.Contains(payload, []byte(".lambda-url.")) {
		k, err := detect(payload)
		return k, nil, err
	}
	var u urlProbe
	if json.Unmarshal(payload, &u) != nil {
		k, err := detect(payload)
		return k, nil, err
	}
	p := probe{Version: u.Version, HTTPMethod: u.HTTPMethod, Resource: u.Resource}
	var domain, method string
	var elb bool
	rc := u.RequestContext
	if rc != nil {
		domain, method, elb = rc.DomainName, rc.HTTP.Method, len(rc.ELB) > 0
	}
	switch k = classify(p, domain, method, rc != nil, elb); k {
	case 0:
		return 0, nil, errUnsupportedSource
	case kindFunctionURL:
		u.LambdaFunctionURLRequest.RequestContext = rc.LambdaFunctionURLRequestContext
		return k, &u.LambdaFunctionURLRequest, nil
	}
	return k, nil, nil
}

// detect classifies a raw event. The Function URL and HTTP API 2.0 payloads
// are identical in shape; only the domain tells them apart. REST and HTTP API
// 1.0 payloads differ only by the version field, which REST events lack.
func detect(payload []byte) (kind, error) {
	var p probe
	if err := json.Unmarshal(payload, &p); err != nil {
		return 0, &UnsupportedEventError{Reason: "not a JSON object: " + err.Error()}
	}
	var domain, method string
	var elb bool
	rc := p.RequestContext
	if rc != nil {
		domain, elb = rc.DomainName, len(rc.ELB) > 0
		if rc.HTTP != nil {
			method = rc.HTTP.Method
		}
	}
	if k := classify(p, domain, method, rc != nil, elb); k != 0 {
		return k, nil
	}
	return 0, errUnsupportedSource
}

var errUnsupportedSource = &UnsupportedEventError{Reason: "want a Function URL, API Gateway REST or HTTP API event"}

// classify is detect's decision on the fields it decoded: the request
// context's domain name and HTTP method, whether there is a request context
// at all and whether it names an ELB. Zero means no supported source.
func classify(p probe, domain, method string, hasRC, elb bool) kind {
	switch {
	case p.Version == "2.0" && method != "":
		if strings.Contains(domain, ".lambda-url.") {
			return kindFunctionURL
		}
		return kindHTTPAPI
	case p.HTTPMethod != "" && !elb && (p.Resource != nil || hasRC):
		if p.Version == "1.0" {
			return kindHTTPAPIv1
		}
		return kindREST
	}
	return 0
}
