package azure

import (
	"context"
	"crypto/sha256"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// Scope is the Entra ID scope of Azure OpenAI (Cognitive Services).
const Scope = "https://cognitiveservices.azure.com/.default"

// refreshBefore is how long before its expiry a cached token is replaced.
const refreshBefore = 5 * time.Minute

// tokenSources holds one token source per service principal, so that a
// new config version with the same principal keeps its cached token.
type tokenSources struct {
	mu   sync.Mutex
	byID map[[32]byte]*tokenSource
}

func (t *tokenSources) get(tenant, client, secret string, o Options) (*tokenSource, error) {
	key := sha256.Sum256([]byte(tenant + "\x00" + client + "\x00" + secret))
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.byID[key]; s != nil {
		return s, nil
	}
	opts := &azidentity.ClientSecretCredentialOptions{ClientOptions: o.TokenClient}
	if o.AuthorityHost != "" {
		opts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: o.AuthorityHost}
		opts.DisableInstanceDiscovery = true
	}
	cred, err := azidentity.NewClientSecretCredential(tenant, client, secret, opts)
	if err != nil {
		return nil, err
	}
	if t.byID == nil {
		t.byID = map[[32]byte]*tokenSource{}
	}
	s := &tokenSource{cred: cred}
	t.byID[key] = s
	return s, nil
}

// tokenSource caches a credential's token until shortly before it expires;
// one caller refreshes it while the others wait for that refresh.
type tokenSource struct {
	cred azcore.TokenCredential
	cur  atomic.Pointer[azcore.AccessToken]
	mu   sync.Mutex
	now  func() time.Time
}

func (s *tokenSource) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

func (s *tokenSource) token(ctx context.Context) (string, error) {
	if t := s.cur.Load(); t != nil && s.clock().Add(refreshBefore).Before(t.ExpiresOn) {
		return t.Token, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.cur.Load(); t != nil && s.clock().Add(refreshBefore).Before(t.ExpiresOn) {
		return t.Token, nil
	}
	t, err := s.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{Scope}})
	if err != nil {
		return "", err
	}
	s.cur.Store(&t)
	return t.Token, nil
}

// bearer adds the Entra ID token and relays byte for byte through base.
type bearer struct {
	src  *tokenSource
	base http.RoundTripper
}

func (b *bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	tok, err := b.src.token(r.Context())
	if err != nil {
		if r.Context().Err() != nil {
			return nil, r.Context().Err()
		}
		return provider.ErrorResponse(r, &provider.Error{Status: http.StatusBadGateway, Type: provider.TypeServer,
			Code: "azure_token", Message: "no Entra ID token for Azure OpenAI: " + short(err.Error())}), nil
	}
	out := r.Clone(r.Context())
	out.Header.Set("Authorization", "Bearer "+tok)
	// The proxy never sees this header: it learns the token from the
	// report, to blank it if Azure (or whatever answers at upstream_url)
	// echoes it. The cached token is reported by every request it serves.
	provider.ReportCredential(r.Context(), "Bearer "+tok)
	return b.base.RoundTrip(out)
}

// short folds azidentity's multi-line message (the request, a rule, the
// response, a rule, a troubleshooting link) into one bounded line.
func short(s string) string {
	const max = 600
	var b strings.Builder
	for _, f := range strings.Fields(s) {
		if strings.Trim(f, "-") == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f)
	}
	out := b.String()
	if len(out) > max {
		out = out[:max] + "..."
	}
	return out
}
