package proxy

import (
	"context"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

// Credentials the proxy blanks in what it relays and logs for a request:
// the configured ones (auth.header_value, param_value, the cloud secrets)
// and those a driver's own transport attached at run time, which only the
// driver sees (an Entra ID or Google access token, an AWS session token
// and signature) and reports into the request's provider.Report.

// openReport gives a request that a driver's transport carries its
// Report, seeded with the configured credentials of every plugin that may
// serve it (a failover chain's targets), so that a driver's stream error
// is redacted of both where the driver makes it. The byte-for-byte path
// (no driver transport) gets none and pays nothing.
func (pl *plan) openReport(ctx context.Context, o *outcome) context.Context {
	if pl.transport == nil && pl.chain == nil {
		return ctx
	}
	o.report = &provider.Report{}
	if pl.chain != nil {
		for _, t := range pl.chain.targets {
			o.report.AddCredentials(t.plan.plugin.Auth.Secrets()...)
		}
	} else {
		o.report.AddCredentials(pl.plugin.Auth.Secrets()...)
	}
	return provider.WithReport(ctx, o.report)
}

// credentialForms are the spellings (stats.SecretForms) of every
// credential of the request's upstream calls, and of extra values.
func credentialForms(pl *plan, o *outcome, extra ...string) []string {
	var values []string
	if pl.plugin != nil {
		values = pl.plugin.Auth.Secrets()
	}
	values = append(values, o.report.Credentials()...)
	return stats.SecretForms(append(values, extra...)...)
}

// scrub blanks the request's credentials in the text of an error that is
// logged: a driver's error can quote what the provider answered.
func scrub(pl *plan, o *outcome, s string) string {
	return stats.RedactString(s, credentialForms(pl, o))
}
