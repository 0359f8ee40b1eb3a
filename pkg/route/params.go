package route

import "context"

type paramsKey struct{}

// WithParams returns a context carrying path parameters that an edge already
// extracted (API Gateway's pathParameters). Model resolution prefers them over
// the route's own regex captures of the same name, because the gateway's
// template is what the operator configured for that deployment.
func WithParams(ctx context.Context, params map[string]string) context.Context {
	if len(params) == 0 {
		return ctx
	}
	return context.WithValue(ctx, paramsKey{}, params)
}

// ParamsFrom returns the path parameters set by WithParams, or nil.
func ParamsFrom(ctx context.Context) map[string]string {
	p, _ := ctx.Value(paramsKey{}).(map[string]string)
	return p
}
