package edge

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// functionURLRequest builds the http.Request of a Function URL event. Unlike
// lambdaurl.Wrap it keeps the event's cookies (Lambda moves them out of the
// headers into their own list) and the Host header.
//
// Lambda joins repeated request headers with commas into one value; that value
// is kept whole, which HTTP defines as equivalent to the repeated headers, and
// splitting it would break values that contain commas themselves.
func functionURLRequest(ctx context.Context, ev *events.LambdaFunctionURLRequest) (*http.Request, error) {
	var body io.Reader = strings.NewReader(ev.Body) // no copy of a plain body
	if ev.IsBase64Encoded {
		b, err := decodeBody(ev.Body, true)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	method := ev.RequestContext.HTTP.Method
	if method == "" {
		return nil, fmt.Errorf("edge: Function URL event has no requestContext.http.method")
	}
	path := ev.RawPath
	if path == "" {
		path = ev.RequestContext.HTTP.Path
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := "https://" + ev.RequestContext.DomainName + path
	if ev.RawQueryString != "" {
		u += "?" + ev.RawQueryString
	}
	r, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("edge: build request from Function URL event: %w", err)
	}
	r.RequestURI = r.URL.RequestURI()
	r.RemoteAddr = ev.RequestContext.HTTP.SourceIP
	// One map of the right size and one backing array for the values, as
	// net/http's own request reader does, rather than an allocation per
	// header. Names differing only in case (Lambda lower-cases them, so
	// only a hand-made event has them) still add up under one name.
	r.Header = make(http.Header, len(ev.Headers)+1)
	vals := make([]string, 0, len(ev.Headers))
	for k, v := range ev.Headers {
		ck := textproto.CanonicalMIMEHeaderKey(k)
		if prev, ok := r.Header[ck]; ok {
			r.Header[ck] = append(prev, v)
			continue
		}
		vals = append(vals, v)
		r.Header[ck] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	if len(ev.Cookies) > 0 {
		r.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	// As in a net/http server, the Host header becomes Request.Host.
	if h := r.Header.Get("Host"); h != "" {
		r.Host = h
	}
	r.Header.Del("Host")
	return r, nil
}

func decodeBody(body string, isBase64 bool) ([]byte, error) {
	if !isBase64 {
		return []byte(body), nil
	}
	b, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("edge: decode base64 event body: %w", err)
	}
	return b, nil
}

// stripStage removes the "/<stage>" prefix that an HTTP API puts in rawPath
// for a named (non-$default) stage invoked through its execute-api URL, so
// the handler routes on the same path whatever the stage. A custom domain's
// API mapping does not put the stage in the path, so the prefix is only
// removed when it is there.
func stripStage(ev *events.APIGatewayV2HTTPRequest) {
	stage := ev.RequestContext.Stage
	if stage == "" || stage == "$default" {
		return
	}
	prefix := "/" + stage
	strip := func(p string) string {
		if p == prefix {
			return "/"
		}
		if strings.HasPrefix(p, prefix+"/") {
			return p[len(prefix):]
		}
		return p
	}
	ev.RawPath = strip(ev.RawPath)
	ev.RequestContext.HTTP.Path = strip(ev.RequestContext.HTTP.Path)
}
