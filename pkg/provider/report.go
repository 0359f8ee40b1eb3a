package provider

import (
	"context"
	"errors"
	"sync"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

// Report is what a driver tells the proxy about one request's upstream
// calls that the OpenAI-shaped answer cannot carry:
//
//   - the credentials it attached at run time, which the proxy never sees
//     (an Entra ID or Google access token, an AWS session token and
//     signature). The proxy blanks them, like the configured ones, in what
//     it relays and logs for the request: a token cache serves one token
//     to many requests, so it is reported by every request that carries
//     it, not once when it is minted.
//   - that the usage in its answer is its own estimate (the upstream
//     reported none), which the statistics mark.
//
// The proxy puts one in the request's context (WithReport) only for a
// driver's own transport; the byte-for-byte path has no Report, and
// reporting into none is a no-op. A Report is safe for concurrent use
// (a driver's parallel calls report into the same one).
type Report struct {
	mu          sync.Mutex
	credentials []string
	estimated   bool
}

type reportKey struct{}

// WithReport returns ctx carrying r, for the drivers that serve the
// request.
func WithReport(ctx context.Context, r *Report) context.Context {
	return context.WithValue(ctx, reportKey{}, r)
}

func reportFrom(ctx context.Context) *Report {
	r, _ := ctx.Value(reportKey{}).(*Report)
	return r
}

// ReportCredential records credential values a driver attached to a call
// made under ctx (a whole header value such as "Bearer <token>": the
// token after the scheme is redacted too). Empty values are ignored.
func ReportCredential(ctx context.Context, values ...string) {
	if r := reportFrom(ctx); r != nil {
		r.AddCredentials(values...)
	}
}

// ReportEstimatedUsage records that the usage in the answer to ctx's
// request is the driver's estimate, not the provider's count.
func ReportEstimatedUsage(ctx context.Context) {
	if r := reportFrom(ctx); r != nil {
		r.mu.Lock()
		r.estimated = true
		r.mu.Unlock()
	}
}

// AddCredentials records credential values, once each. The proxy adds the
// configured ones too, so that a driver's stream error is redacted of
// both (see StreamResponse).
func (r *Report) AddCredentials(values ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range values {
		if v == "" || contains(r.credentials, v) {
			continue
		}
		// Bounded by the request's calls: a failover chain's attempts and
		// the AWS SDK's retries, each with its own signature.
		r.credentials = append(r.credentials, v)
	}
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// Credentials are the values recorded so far; nil for a nil Report.
func (r *Report) Credentials() []string {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.credentials...)
}

// UsageEstimated reports whether a driver estimated the answer's usage.
func (r *Report) UsageEstimated() bool {
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.estimated
}

// redactStreamError blanks the request's credentials in a StreamError's
// message and code, the provider's own words that go to the client in the
// event that ends the stream (chat, Responses and Messages alike). The
// cause is kept for errors.Is and the logs, which the proxy redacts
// itself.
func (r *Report) redactStreamError(err error) error {
	var se *StreamError
	if r == nil || !errors.As(err, &se) {
		return err
	}
	forms := stats.SecretForms(r.Credentials()...)
	msg, code := stats.RedactString(se.Message, forms), stats.RedactString(se.Code, forms)
	if msg == se.Message && code == se.Code {
		return err
	}
	return &StreamError{Message: msg, Type: se.Type, Code: code, Cause: se.Cause}
}
