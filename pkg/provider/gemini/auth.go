package gemini

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"strings"
	"sync"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/auth/credentials/externalaccount"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// scope is the OAuth2 scope of Vertex AI calls.
const scope = "https://www.googleapis.com/auth/cloud-platform"

// tokenSource gives the bearer for a call; *auth.Credentials caches it
// until shortly before it expires and refreshes it.
type tokenSource interface {
	Token(ctx context.Context) (*auth.Token, error)
}

// AWSSource supplies the AWS side of Workload Identity Federation: the
// region and the role credentials (on Lambda, the function's execution
// role from the AWS SDK's default chain) that Google's library signs an
// sts:GetCallerIdentity request with and exchanges at Google's STS.
type AWSSource struct {
	Region   func(ctx context.Context) (string, error)
	Retrieve func(ctx context.Context) (accessKeyID, secretAccessKey, sessionToken string, err error)
}

func (a *AWSSource) AwsRegion(ctx context.Context, _ *externalaccount.RequestOptions) (string, error) {
	return a.Region(ctx)
}

func (a *AWSSource) AwsSecurityCredentials(ctx context.Context, _ *externalaccount.RequestOptions) (*externalaccount.AwsSecurityCredentials, error) {
	id, secret, token, err := a.Retrieve(ctx)
	if err != nil {
		return nil, err
	}
	return &externalaccount.AwsSecurityCredentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: token}, nil
}

// credCache keeps one Credentials (and so one cached token) per
// credentials JSON, so that a config reload with the same JSON keeps its
// token and a new JSON gets its own.
type credCache struct {
	client *http.Client
	aws    *AWSSource
	mu     sync.Mutex
	m      map[[32]byte]*auth.Credentials
}

const maxCreds = 32

func newCredCache(client *http.Client, aws *AWSSource) *credCache {
	return &credCache{client: client, aws: aws, m: map[[32]byte]*auth.Credentials{}}
}

// tokens is the plugin's Google token source when it authenticates with
// a service account (auth.gcp_use_service_account), nil when it does not.
func (d *Driver) tokens(p *config.Plugin) (tokenSource, error) {
	if !p.Auth.GCPUseServiceAccount {
		return nil, nil
	}
	return d.credentials(p.Auth.GCPServiceAccountJSON)
}

// credentials returns the token source for a service account or external
// account JSON: auth.gcp_service_account_json, else GCP_SERVICE_ACCOUNT.
func (d *Driver) credentials(configured string) (tokenSource, error) {
	js := configured
	if js == "" {
		js = d.getenv("GCP_SERVICE_ACCOUNT")
	}
	if strings.TrimSpace(js) == "" {
		return nil, configError("auth.gcp_use_service_account is set, but neither auth.gcp_service_account_json nor GCP_SERVICE_ACCOUNT holds credentials")
	}
	key := sha256.Sum256([]byte(js))
	cc := d.creds
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if c := cc.m[key]; c != nil {
		return c, nil
	}
	c, err := cc.build([]byte(js))
	if err != nil {
		d.log.Warn("gemini: GCP credentials not usable", "error", err.Error())
		return nil, err
	}
	if len(cc.m) >= maxCreds {
		clear(cc.m)
	}
	cc.m[key] = c
	return c, nil
}

func configError(msg string) *provider.Error {
	return &provider.Error{Status: http.StatusInternalServerError, Type: provider.TypeServer, Code: "provider_config", Message: msg}
}

// build reads the credentials JSON with Google's library: a service account
// key (a JWT assertion signed with its key, exchanged at its token_uri), or
// an external_account (Workload Identity Federation; with an AWS source and
// an AWSSource given, the AWS credentials come from the supplier).
func (cc *credCache) build(js []byte) (*auth.Credentials, error) {
	var f externalAccountFile
	if err := json.Unmarshal(js, &f); err != nil {
		return nil, configError("the GCP credentials are not a JSON object")
	}
	opts := &credentials.DetectOptions{Scopes: []string{scope}, Client: cc.client}
	switch f.Type {
	case "service_account":
		c, err := credentials.NewCredentialsFromJSON(credentials.ServiceAccount, js, opts)
		if err != nil {
			return nil, configError("the GCP service account JSON is not usable: " + err.Error())
		}
		return c, nil
	case "external_account":
		if cc.aws != nil && strings.HasPrefix(f.CredentialSource.EnvironmentID, "aws") {
			c, err := externalaccount.NewCredentials(&externalaccount.Options{
				Audience: f.Audience, SubjectTokenType: f.SubjectTokenType, TokenURL: f.TokenURL,
				ServiceAccountImpersonationURL:             f.ServiceAccountImpersonationURL,
				ServiceAccountImpersonationLifetimeSeconds: f.ServiceAccountImpersonation.TokenLifetimeSeconds,
				QuotaProjectID: f.QuotaProjectID, UniverseDomain: f.UniverseDomain,
				Scopes:                         []string{scope},
				AwsSecurityCredentialsProvider: cc.aws,
				Client:                         cc.client,
			})
			if err != nil {
				return nil, configError("the GCP external_account JSON is not usable: " + err.Error())
			}
			return c, nil
		}
		c, err := credentials.NewCredentialsFromJSON(credentials.ExternalAccount, js, opts)
		if err != nil {
			return nil, configError("the GCP external_account JSON is not usable: " + err.Error())
		}
		return c, nil
	}
	return nil, configError("the GCP credentials must be of type service_account or external_account")
}

// externalAccountFile is the part of a credentials JSON the driver reads
// itself (the library reads the rest).
type externalAccountFile struct {
	Type                           string `json:"type"`
	Audience                       string `json:"audience"`
	SubjectTokenType               string `json:"subject_token_type"`
	TokenURL                       string `json:"token_url"`
	ServiceAccountImpersonationURL string `json:"service_account_impersonation_url"`
	ServiceAccountImpersonation    struct {
		TokenLifetimeSeconds int `json:"token_lifetime_seconds"`
	} `json:"service_account_impersonation"`
	QuotaProjectID   string `json:"quota_project_id"`
	UniverseDomain   string `json:"universe_domain"`
	CredentialSource struct {
		EnvironmentID string `json:"environment_id"`
	} `json:"credential_source"`
}

// authorize sets the call's bearer.
func (d *Driver) authorize(r *http.Request, ts tokenSource) *provider.Error {
	t, err := ts.Token(r.Context())
	if err != nil {
		d.log.Warn("gemini: no Google access token", "error", err.Error())
		return &provider.Error{Status: http.StatusBadGateway, Type: provider.TypeServer, Code: "upstream_auth",
			Message: "could not get a Google access token for Vertex AI"}
	}
	typ := t.Type
	if typ == "" {
		typ = "Bearer"
	}
	r.Header.Set("Authorization", typ+" "+t.Value)
	// The proxy never sees this header: the report is how it learns the
	// token, to blank it if the upstream echoes it.
	provider.ReportCredential(r.Context(), typ+" "+t.Value)
	return nil
}

// bearer adds the Google bearer to a relayed (preserve) call.
type bearer struct {
	next http.RoundTripper
	tok  tokenSource
}

func (b *bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	t, err := b.tok.Token(req.Context())
	if err != nil {
		return provider.ErrorResponse(req, &provider.Error{Status: http.StatusBadGateway, Type: provider.TypeServer, Code: "upstream_auth",
			Message: "could not get a Google access token for Vertex AI"}), nil
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+t.Value)
	provider.ReportCredential(r.Context(), "Bearer "+t.Value)
	return b.next.RoundTrip(r)
}
