package edge

import (
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
)

// event is an invocation event of any of the three sources in one type: the
// fields of events.LambdaFunctionURLRequest, events.APIGatewayV2HTTPRequest
// and events.APIGatewayProxyRequest under their JSON names. Start hands
// aws-lambda-go a handler that takes it, so each payload is decoded once, by
// the library, rather than into raw JSON there and again here. The source is
// told from the decoded fields (kind), and the source's own aws-lambda-go
// type is then filled by hand (functionURL, httpAPI, proxyRequest), which
// TestEventDecodesLikeItsSourceType holds to what that type decodes itself.
type event struct {
	// Payload format 2.0: Function URL and HTTP API.
	Version        string   `json:"version"`
	RouteKey       string   `json:"routeKey"`
	RawPath        string   `json:"rawPath"`
	RawQueryString string   `json:"rawQueryString"`
	Cookies        []string `json:"cookies"`
	// Payload format 1.0: REST and HTTP API 1.0. Resource is a pointer
	// because its presence tells a REST event apart.
	Resource                        *string             `json:"resource"`
	Path                            string              `json:"path"`
	HTTPMethod                      string              `json:"httpMethod"`
	MultiValueHeaders               map[string][]string `json:"multiValueHeaders"`
	MultiValueQueryStringParameters map[string][]string `json:"multiValueQueryStringParameters"`
	// Both formats.
	Headers               map[string]string `json:"headers"`
	QueryStringParameters map[string]string `json:"queryStringParameters"`
	PathParameters        map[string]string `json:"pathParameters"`
	StageVariables        map[string]string `json:"stageVariables"`
	Body                  string            `json:"body"`
	IsBase64Encoded       bool              `json:"isBase64Encoded"`
	// A pointer: an event without one is no supported source.
	RequestContext *eventContext `json:"requestContext"`
}

// eventContext is the request context of every source in one type.
//
// Every field has the same life: decodeEvent fills it once per invocation,
// from the event's JSON, and nothing writes it after that (kind and the
// conversions to the sources' own types below only read it; stripStage
// edits their copy, not this). Nothing in it changes per chunk or per
// stream: the state of a streamed answer lives in streamWriter and
// streamResponse, that of a buffered one in recorder.
//
// What does differ is which events fill a field, so the fields are split
// by that: contextShared by every source, contextV2 by payload format 2.0
// only, contextV1 by payload format 1.0 only. The parts are embedded, so
// encoding/json decodes their fields at the top of requestContext, exactly
// as the sources' own types do (their JSON names do not collide).
type eventContext struct {
	contextShared
	contextV2
	contextV1
	// ELB is an ALB event's, which is no supported source: kind only asks
	// whether it is there.
	ELB json.RawMessage `json:"elb"`
}

// contextShared is the request context every source sends. The authorizer,
// the one field whose shape differs between the sources, stays raw and is
// decoded into the source's type when present (an event without an
// authorizer, the usual one, costs nothing more).
type contextShared struct {
	AccountID    string          `json:"accountId"`
	RequestID    string          `json:"requestId"`
	APIID        string          `json:"apiId"`
	DomainName   string          `json:"domainName"`
	DomainPrefix string          `json:"domainPrefix"`
	Stage        string          `json:"stage"`
	Authorizer   json.RawMessage `json:"authorizer"`
}

// contextV2 is the request context of payload format 2.0 (Function URL,
// HTTP API 2.0); zero in a 1.0 event.
type contextV2 struct {
	RouteKey       string                                               `json:"routeKey"`
	Time           string                                               `json:"time"`
	TimeEpoch      int64                                                `json:"timeEpoch"`
	HTTP           events.APIGatewayV2HTTPRequestContextHTTPDescription `json:"http"`
	Authentication events.APIGatewayV2HTTPRequestContextAuthentication  `json:"authentication"`
}

// contextV1 is the request context of payload format 1.0 (REST, HTTP API
// 1.0); zero in a 2.0 event.
type contextV1 struct {
	ResourceID        string                           `json:"resourceId"`
	OperationName     string                           `json:"operationName"`
	ExtendedRequestID string                           `json:"extendedRequestId"`
	Protocol          string                           `json:"protocol"`
	Identity          events.APIGatewayRequestIdentity `json:"identity"`
	ResourcePath      string                           `json:"resourcePath"`
	Path              string                           `json:"path"`
	HTTPMethod        string                           `json:"httpMethod"`
	RequestTime       string                           `json:"requestTime"`
	RequestTimeEpoch  int64                            `json:"requestTimeEpoch"`
}

// decodeAuthorizer decodes a raw authorizer into dst, the source's type; an
// absent one leaves dst as it is, as the source's own decode would.
func decodeAuthorizer(raw json.RawMessage, dst any) error {
	if len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("authorizer: %w", err)
	}
	return nil
}

// context returns the request context, empty if the event had none.
func (ev *event) context() *eventContext {
	if ev.RequestContext == nil {
		return &eventContext{}
	}
	return ev.RequestContext
}

// functionURL is the event as events.LambdaFunctionURLRequest.
func (ev *event) functionURL() (*events.LambdaFunctionURLRequest, error) {
	rc := ev.context()
	u := &events.LambdaFunctionURLRequest{
		Version: ev.Version, RawPath: ev.RawPath, RawQueryString: ev.RawQueryString, Cookies: ev.Cookies,
		Headers: ev.Headers, QueryStringParameters: ev.QueryStringParameters,
		RequestContext: events.LambdaFunctionURLRequestContext{
			AccountID: rc.AccountID, RequestID: rc.RequestID, APIID: rc.APIID, DomainName: rc.DomainName,
			DomainPrefix: rc.DomainPrefix, Time: rc.Time, TimeEpoch: rc.TimeEpoch,
			HTTP: events.LambdaFunctionURLRequestContextHTTPDescription(rc.HTTP),
		},
		Body: ev.Body, IsBase64Encoded: ev.IsBase64Encoded,
	}
	if err := decodeAuthorizer(rc.Authorizer, &u.RequestContext.Authorizer); err != nil {
		return nil, fmt.Errorf("edge: decode Function URL event: %w", err)
	}
	return u, nil
}

// httpAPI is the event as events.APIGatewayV2HTTPRequest.
func (ev *event) httpAPI() (*events.APIGatewayV2HTTPRequest, error) {
	rc := ev.context()
	r := &events.APIGatewayV2HTTPRequest{
		Version: ev.Version, RouteKey: ev.RouteKey, RawPath: ev.RawPath, RawQueryString: ev.RawQueryString,
		Cookies: ev.Cookies, Headers: ev.Headers, QueryStringParameters: ev.QueryStringParameters,
		PathParameters: ev.PathParameters, StageVariables: ev.StageVariables,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: rc.RouteKey, AccountID: rc.AccountID, Stage: rc.Stage, RequestID: rc.RequestID,
			APIID: rc.APIID, DomainName: rc.DomainName, DomainPrefix: rc.DomainPrefix, Time: rc.Time,
			TimeEpoch: rc.TimeEpoch, HTTP: rc.HTTP, Authentication: rc.Authentication,
		},
		Body: ev.Body, IsBase64Encoded: ev.IsBase64Encoded,
	}
	if err := decodeAuthorizer(rc.Authorizer, &r.RequestContext.Authorizer); err != nil {
		return nil, fmt.Errorf("edge: decode HTTP API event: %w", err)
	}
	return r, nil
}

// proxyRequest is the event as events.APIGatewayProxyRequest (REST and
// HTTP API 1.0).
func (ev *event) proxyRequest() (*events.APIGatewayProxyRequest, error) {
	rc := ev.context()
	r := &events.APIGatewayProxyRequest{
		Path: ev.Path, HTTPMethod: ev.HTTPMethod, Headers: ev.Headers, MultiValueHeaders: ev.MultiValueHeaders,
		QueryStringParameters: ev.QueryStringParameters, MultiValueQueryStringParameters: ev.MultiValueQueryStringParameters,
		PathParameters: ev.PathParameters, StageVariables: ev.StageVariables,
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID: rc.AccountID, ResourceID: rc.ResourceID, OperationName: rc.OperationName, Stage: rc.Stage,
			DomainName: rc.DomainName, DomainPrefix: rc.DomainPrefix, RequestID: rc.RequestID,
			ExtendedRequestID: rc.ExtendedRequestID, Protocol: rc.Protocol, Identity: rc.Identity,
			ResourcePath: rc.ResourcePath, Path: rc.Path, HTTPMethod: rc.HTTPMethod, RequestTime: rc.RequestTime,
			RequestTimeEpoch: rc.RequestTimeEpoch, APIID: rc.APIID,
		},
		Body: ev.Body, IsBase64Encoded: ev.IsBase64Encoded,
	}
	if ev.Resource != nil {
		r.Resource = *ev.Resource
	}
	if err := decodeAuthorizer(rc.Authorizer, &r.RequestContext.Authorizer); err != nil {
		return nil, fmt.Errorf("edge: decode API Gateway event: %w", err)
	}
	return r, nil
}
