package rie

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/lambdatest"
)

// Response is a function's HTTP answer, decoded from what the emulator
// returned.
type Response struct {
	// Form says how it was framed: "stream" (prelude, NULs, body), "proxy"
	// (an API Gateway / Function URL JSON response) or "raw" (anything
	// else, in Body untouched).
	Form              string
	StatusCode        int
	Headers           map[string]string
	MultiValueHeaders map[string][]string
	Cookies           []string
	Body              []byte
}

// Header merges Headers, MultiValueHeaders and Cookies (as Set-Cookie) into
// one http.Header.
func (r Response) Header() http.Header {
	h := http.Header{}
	for k, v := range r.Headers {
		h.Set(k, v)
	}
	for k, vs := range r.MultiValueHeaders {
		h.Del(k)
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for _, c := range r.Cookies {
		h.Add("Set-Cookie", c)
	}
	return h
}

// String renders the status line and the headers, sorted, for people.
func (r Response) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d %s\n", r.StatusCode, http.StatusText(r.StatusCode))
	h := r.Header()
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	return b.String()
}

// DecodeStreaming splits a streamed response (the emulator returns it
// buffered: JSON prelude, 8 NUL bytes, body). Anything else is left alone:
// Form "raw", Body the input.
func DecodeStreaming(raw []byte) Response {
	p, body, err := lambdatest.SplitPrelude(raw)
	if err != nil {
		return Response{Form: "raw", Body: raw}
	}
	return Response{
		Form: "stream", StatusCode: p.StatusCode, Headers: p.Headers,
		MultiValueHeaders: p.MultiValueHeaders, Cookies: p.Cookies, Body: body,
	}
}

// proxyResponse is the union of events.APIGatewayProxyResponse,
// events.APIGatewayV2HTTPResponse and events.LambdaFunctionURLResponse.
type proxyResponse struct {
	StatusCode        *int                `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Cookies           []string            `json:"cookies"`
	Body              string              `json:"body"`
	IsBase64Encoded   bool                `json:"isBase64Encoded"`
}

// Decode reads any answer: a stream (see DecodeStreaming), a buffered API
// Gateway or Function URL JSON response (body base64-decoded if flagged),
// or raw bytes.
func Decode(raw []byte) (Response, error) {
	if r := DecodeStreaming(raw); r.Form == "stream" {
		return r, nil
	}
	var p proxyResponse
	if json.Unmarshal(raw, &p) != nil || p.StatusCode == nil {
		return Response{Form: "raw", Body: raw}, nil
	}
	body := []byte(p.Body)
	if p.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(p.Body)
		if err != nil {
			return Response{}, errors.New("response body flagged base64 does not decode: " + err.Error())
		}
		body = b
	}
	return Response{
		Form: "proxy", StatusCode: *p.StatusCode, Headers: p.Headers,
		MultiValueHeaders: p.MultiValueHeaders, Cookies: p.Cookies, Body: body,
	}, nil
}
