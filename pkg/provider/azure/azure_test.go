package azure

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/openai"
)

func plugin(route string) *config.Plugin {
	p := &config.Plugin{RouteType: route}
	p.Model.Provider = config.ProviderAzure
	p.Model.Options.AzureInstance = "inst"
	p.Model.Options.AzureDeploymentID = "dep"
	p.Model.Options.AzureAPIVersion = "2024-10-21"
	return p
}

func TestURL(t *testing.T) {
	d := New(Options{})
	up := func(u string) *url.URL { v, _ := url.Parse(u); return v }
	for _, tc := range []struct {
		route    string
		upstream *url.URL
		want     string
	}{
		{config.RouteChat, nil, "https://inst.openai.azure.com/openai/deployments/dep/chat/completions?api-version=2024-10-21"},
		{config.RouteCompletions, nil, "https://inst.openai.azure.com/openai/deployments/dep/completions?api-version=2024-10-21"},
		{config.RouteChat, up("http://gw.local/x?a=1"), "http://gw.local/x?a=1&api-version=2024-10-21"},
		{config.RouteChat, up("http://gw.local/x?api-version=2025-01-01"), "http://gw.local/x?api-version=2025-01-01"},
		{config.RouteEmbeddings, nil, "https://inst.openai.azure.com/openai/deployments/dep/embeddings?api-version=2024-10-21"},
		// Responses: Azure's v1 API, no deployment in the path, no dated
		// api-version ("preview" is sent, as Kong asks for it).
		{config.RouteResponses, nil, "https://inst.openai.azure.com/openai/v1/responses"},
		{config.RouteResponses + "|preview", nil, "https://inst.openai.azure.com/openai/v1/responses?api-version=preview"},
		{config.RouteResponses + "|2025-04-01-preview", nil, "https://inst.openai.azure.com/openai/v1/responses"},
		{config.RouteResponses, up("http://gw.local/openai/v1/responses"), "http://gw.local/openai/v1/responses"},
		{config.RouteResponses + "|preview", up("http://gw.local/openai/v1/responses"), "http://gw.local/openai/v1/responses?api-version=preview"},
	} {
		route, version, _ := strings.Cut(tc.route, "|")
		p := plugin(route)
		if version != "" {
			p.Model.Options.AzureAPIVersion = version
		}
		u, err := d.Prepare(&provider.Call{Plugin: p, Upstream: tc.upstream})
		if err != nil || u.URL.String() != tc.want || u.Transport != nil {
			t.Errorf("%s %v: %v %v (transport %v)", tc.route, tc.upstream, u.URL, err, u.Transport)
		}
	}
}

func TestServesNatively(t *testing.T) {
	d := New(Options{})
	for route, want := range map[string]bool{config.RouteResponses: true, config.RouteEmbeddings: true, config.RouteChat: false, config.RouteCompletions: false} {
		if got := provider.Native(d, route); got != want {
			t.Errorf("%s: native %v, want %v", route, got, want)
		}
	}
}

type countingCred struct{ n atomic.Int64 }

func (c *countingCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	n := c.n.Add(1)
	return azcore.AccessToken{Token: "t" + string(rune('0'+n)), ExpiresOn: time.Unix(10_000, 0)}, nil
}

// The token is reused until refreshBefore its expiry, then fetched anew.
func TestTokenCache(t *testing.T) {
	cred := &countingCred{}
	now := time.Unix(1_000, 0)
	s := &tokenSource{cred: cred, now: func() time.Time { return now }}
	for i := 0; i < 3; i++ {
		if tok, err := s.token(context.Background()); err != nil || tok != "t1" {
			t.Fatalf("%q %v", tok, err)
		}
	}
	now = time.Unix(10_000, 0).Add(-refreshBefore + time.Second)
	if tok, _ := s.token(context.Background()); tok != "t2" || cred.n.Load() != 2 {
		t.Errorf("near expiry: %q after %d fetches", tok, cred.n.Load())
	}
}

// Azure's Prepare against the OpenAI driver's: the bar is +5 µs.
func BenchmarkRequest(b *testing.B) {
	d := New(Options{})
	p := plugin(config.RouteChat)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = d.Prepare(&provider.Call{Plugin: p})
	}
}

func BenchmarkRequestOpenAI(b *testing.B) {
	p := plugin(config.RouteChat)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = openai.Driver{}.Prepare(&provider.Call{Plugin: p})
	}
}

type recordingRT struct{ auth []string }

func (r *recordingRT) RoundTrip(req *http.Request) (*http.Response, error) {
	r.auth = append(r.auth, req.Header.Get("Authorization"))
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
}

// Each call reports the Entra ID token it carries, the cached one
// included, so that the proxy can blank it in what it relays and logs.
func TestBearerReportsToken(t *testing.T) {
	base := &recordingRT{}
	b := &bearer{src: &tokenSource{cred: &countingCred{}, now: func() time.Time { return time.Unix(1_000, 0) }}, base: base}
	for i := 0; i < 2; i++ {
		rep := &provider.Report{}
		req, _ := http.NewRequestWithContext(provider.WithReport(context.Background(), rep), http.MethodPost, "https://inst.openai.azure.com/", nil)
		if _, err := b.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
		if got := rep.Credentials(); len(got) != 1 || got[0] != "Bearer t1" || base.auth[i] != got[0] {
			t.Errorf("call %d: reported %q, sent %q", i, got, base.auth[i])
		}
	}
}
