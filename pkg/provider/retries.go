package provider

import "context"

// An ai-proxy-advanced target's failure is retried by the proxy itself,
// on the next target (balancer.retries, failover_criteria). A driver
// whose client retries on its own (the AWS SDK retries a throttle or a
// 5xx up to three times, with backoff) must not retry there: a throttled
// target would be asked again, seconds later, before the next target is
// tried, and each hidden retry is one more call to a model.
type noRetriesKey struct{}

// WithoutRetries marks ctx's calls as ones the proxy retries elsewhere.
func WithoutRetries(ctx context.Context) context.Context {
	return context.WithValue(ctx, noRetriesKey{}, true)
}

// RetriesOff reports whether a driver's client must make one attempt
// only for a call under ctx.
func RetriesOff(ctx context.Context) bool {
	off, _ := ctx.Value(noRetriesKey{}).(bool)
	return off
}
