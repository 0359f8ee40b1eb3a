package gemini

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// upstreamError translates a non-2xx answer, Google's
// {"error":{"code","message","status","details"}}, into OpenAI's shape with
// the HTTP status kept, Google's status as the code, and Retry-After from
// the header or from a google.rpc.RetryInfo detail.
func upstreamError(res *http.Response) *provider.Error {
	body, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	var env struct {
		Error *apiError `json:"error"`
	}
	// An error in a list is what streamGenerateContent without alt=sse
	// answers; accept both.
	trimmed := strings.TrimSpace(string(body))
	if strings.HasPrefix(trimmed, "[") {
		var list []struct {
			Error *apiError `json:"error"`
		}
		if json.Unmarshal([]byte(trimmed), &list) == nil && len(list) > 0 {
			env.Error = list[0].Error
		}
	} else {
		_ = json.Unmarshal(body, &env)
	}
	e := env.Error
	if e == nil {
		e = &apiError{Message: "Gemini answered " + res.Status}
	}
	h := http.Header{}
	if v := res.Header.Get("Retry-After"); v != "" {
		h.Set("Retry-After", v)
	}
	return fromAPIError(e, res.StatusCode, h)
}

// fromAPIError maps Google's error object; status is the HTTP status the
// answer came with (the object's own code wins when it has one).
func fromAPIError(e *apiError, status int, h http.Header) *provider.Error {
	if e.Code >= 400 && e.Code <= 599 {
		status = e.Code
	}
	if status < 400 || status > 599 {
		status = http.StatusBadGateway
	}
	if h == nil {
		h = http.Header{}
	}
	if h.Get("Retry-After") == "" {
		if d := retryDelay(e.Details); d > 0 {
			h.Set("Retry-After", strconv.Itoa(d))
		}
	}
	if len(h) == 0 {
		h = nil
	}
	msg := e.Message
	if msg == "" {
		msg = "Gemini answered " + strconv.Itoa(status) + " " + http.StatusText(status)
	}
	code := e.Status
	if code == "" {
		code = "upstream_error"
	}
	return &provider.Error{Status: status, Type: provider.StatusType(status), Code: code, Message: msg, Header: h}
}

// retryDelay is the whole seconds of a RetryInfo detail's retryDelay
// ("27s", "0.5s"), rounded up; 0 when there is none.
func retryDelay(details []json.RawMessage) int {
	for _, d := range details {
		var ri struct {
			Type       string `json:"@type"`
			RetryDelay string `json:"retryDelay"`
		}
		if json.Unmarshal(d, &ri) != nil || !strings.HasSuffix(ri.Type, "google.rpc.RetryInfo") {
			continue
		}
		if dur, err := time.ParseDuration(ri.RetryDelay); err == nil && dur > 0 {
			return int(math.Ceil(dur.Seconds()))
		}
	}
	return 0
}
