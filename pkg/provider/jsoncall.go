package provider

import (
	"bytes"
	"io"
	"net/http"
	"strconv"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
)

// maxAnswer bounds a non-streamed answer a translating driver reads whole.
const maxAnswer = 64 << 20

// JSONCall is one translated call to a provider that takes a JSON body
// over HTTP and answers JSON or a stream: the translated body goes to the
// proxy's target with only the configured auth header, and the answer
// comes back through the driver's translators. It is the RoundTripper a
// driver returns from Prepare.
type JSONCall struct {
	Base         http.RoundTripper
	Body         []byte
	Auth         config.Auth
	Model        string
	Stream       bool
	IncludeUsage bool
	// Provider names the provider in error messages.
	Provider string
	// StreamAccept is the Accept header of a streamed call
	// (text/event-stream, application/x-ndjson).
	StreamAccept string
	// ErrorMessage finds the provider's own message in an error body.
	ErrorMessage func(body []byte) string
	// Events translates a streamed answer; Completion a whole one.
	Events     func(body io.ReadCloser, model string, includeUsage bool) Events
	Completion func(body []byte, model string) ([]byte, error)
}

func (c *JSONCall) RoundTrip(r *http.Request) (*http.Response, error) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, r.URL.String(), bytes.NewReader(c.Body))
	if err != nil {
		return nil, err
	}
	req.Header = AuthHeaders(r.Header, c.Auth)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Length", strconv.Itoa(len(c.Body)))
	if c.Stream {
		req.Header.Set("Accept", c.StreamAccept)
	} else {
		req.Header.Set("Accept", "application/json")
	}
	base := c.Base
	if base == nil {
		base = http.DefaultTransport
	}
	res, err := base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode/100 != 2 {
		return ErrorResponse(r, UpstreamError(res, c.Provider, c.ErrorMessage)), nil
	}
	if c.Stream {
		return StreamResponse(r, c.Events(res.Body, c.Model, c.IncludeUsage)), nil
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return nil, err
	}
	out, err := c.Completion(body, c.Model)
	if err != nil {
		return ErrorResponse(r, &Error{Status: http.StatusBadGateway, Type: TypeServer, Code: "upstream_bad_answer", Message: err.Error()}), nil
	}
	return JSONResponse(r, http.StatusOK, out), nil
}
