package proxy

import (
	"net"
	"net/http"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/health"
)

// Default upstream limits. The connect and time-to-first-byte limits catch a
// dead or stuck upstream; how long a stream then runs is bounded only by the
// caller (the Lambda function's timeout), since long generations are normal.
const (
	DefaultConnectTimeout = 10 * time.Second
	DefaultHeaderTimeout  = 180 * time.Second
)

// NewTransport returns the upstream transport. Zero durations take the
// defaults.
func NewTransport(connect, header time.Duration) *http.Transport {
	if connect <= 0 {
		connect = DefaultConnectTimeout
	}
	if header <= 0 {
		header = DefaultHeaderTimeout
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   128,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   connect,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: header,
	}
}

// dispatch carries each upstream request: through a translating driver's
// transport when the plan has one, else through the shared HTTP transport.
type dispatch struct {
	http.RoundTripper
	health *health.Registry
}

func (d dispatch) RoundTrip(r *http.Request) (*http.Response, error) {
	ex, ok := r.Context().Value(exchangeKey{}).(*exchange)
	if ok && ex.plan.chain != nil {
		return ex.plan.chain.roundTrip(ex, d.RoundTripper, d.health, r)
	}
	if ok && ex.plan.api != nil {
		if ex.plan.transport != nil {
			return ex.plan.api.roundTrip(r, ex.plan.transport)
		}
		return ex.plan.api.roundTrip(r, d.RoundTripper)
	}
	if ok && ex.plan.transport != nil {
		return ex.plan.transport.RoundTrip(r)
	}
	return d.RoundTripper.RoundTrip(r)
}
