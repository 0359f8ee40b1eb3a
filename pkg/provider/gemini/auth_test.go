package gemini

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"cloud.google.com/go/auth"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/geministub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// tokenServer is Google's OAuth2 token endpoint and STS, locally: it
// checks what Google's auth library sends and issues token.
type tokenServer struct {
	*httptest.Server
	calls atomic.Int64
	check func(t *testing.T, form url.Values)
}

func newTokenServer(t *testing.T, token string, check func(t *testing.T, form url.Values)) *tokenServer {
	ts := &tokenServer{check: check}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.calls.Add(1)
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		ts.check(t, r.PostForm)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": token, "token_type": "Bearer", "expires_in": 3600,
			"issued_token_type": "urn:ietf:params:oauth:token-type:access_token"})
	}))
	t.Cleanup(ts.Close)
	return ts
}

func vertexPlugin(credJSON string) *config.Plugin {
	p := plugin()
	p.Model.Options.Gemini = &config.GeminiOptions{APIEndpoint: "europe-west4-aiplatform.googleapis.com", ProjectID: "p1", LocationID: "europe-west4"}
	p.Auth = config.Auth{GCPUseServiceAccount: true, GCPServiceAccountJSON: credJSON}
	return p
}

func TestServiceAccountJWT(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	var tokenURL string
	ts := newTokenServer(t, "ya29.service-account-token", func(t *testing.T, f url.Values) {
		if f.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
			t.Errorf("grant_type %q", f.Get("grant_type"))
		}
		parts := strings.Split(f.Get("assertion"), ".")
		if len(parts) != 3 {
			t.Fatalf("assertion %q", f.Get("assertion"))
		}
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		h := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, h[:], sig); err != nil {
			t.Errorf("JWT signature: %v", err)
		}
		var hdr struct{ Alg, Kid string }
		b, _ := base64.RawURLEncoding.DecodeString(parts[0])
		json.Unmarshal(b, &hdr)
		var claims struct {
			Iss, Scope, Aud string
			Exp, Iat        int64
		}
		b, _ = base64.RawURLEncoding.DecodeString(parts[1])
		json.Unmarshal(b, &claims)
		if hdr.Alg != "RS256" || hdr.Kid != "key-1" || claims.Iss != "proxy@p1.iam.gserviceaccount.com" || claims.Scope != scope || claims.Aud != tokenURL || claims.Exp-claims.Iat != 3600 {
			t.Errorf("JWT %s %+v %+v", b, hdr, claims)
		}
	})
	tokenURL = ts.URL + "/token"
	sa, _ := json.Marshal(map[string]string{"type": "service_account", "project_id": "p1", "private_key_id": "key-1", "private_key": pemKey,
		"client_email": "proxy@p1.iam.gserviceaccount.com", "client_id": "1", "token_uri": tokenURL})
	r := newRig(t, geministub.Options{Bearer: "ya29.service-account-token"}, Options{})
	for i := 0; i < 3; i++ {
		res := r.call(t, vertexPlugin(string(sa)), "gemini-2.5-flash", false, hello)
		if b := readAll(t, res); res.StatusCode != 200 {
			t.Fatalf("%d %s", res.StatusCode, b)
		}
	}
	if n := ts.calls.Load(); n != 1 {
		t.Fatalf("%d token requests for 3 calls, want 1 (cached)", n)
	}
	if got := r.stub.Last().Header.Get("Authorization"); got != "Bearer ya29.service-account-token" {
		t.Fatal(got)
	}
	// From GCP_SERVICE_ACCOUNT when the config holds none.
	r2 := newRig(t, geministub.Options{Bearer: "ya29.service-account-token"}, Options{Getenv: func(k string) string {
		if k == "GCP_SERVICE_ACCOUNT" {
			return string(sa)
		}
		return ""
	}})
	res := r2.call(t, vertexPlugin(""), "gemini-2.5-flash", false, hello)
	if b := readAll(t, res); res.StatusCode != 200 {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
}

func TestServiceAccountFailures(t *testing.T) {
	r := newRig(t, geministub.Options{Bearer: "x"}, Options{})
	for _, js := range []string{"", "not json", `{"type":"authorized_user"}`, `{"type":"service_account","private_key":"nope"}`} {
		_, err := r.d.Prepare(&providerCall(vertexPlugin(js)).c)
		if err == nil || strings.Contains(err.Error(), "nope") {
			t.Errorf("%q: %v", js, err)
		}
	}
	// A token endpoint that refuses: 502, nothing of the credentials in it.
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(400)
		io.WriteString(w, `{"error":"invalid_grant"}`)
	}))
	defer ts.Close()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	sa, _ := json.Marshal(map[string]string{"type": "service_account", "private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "a@b", "token_uri": ts.URL})
	res := r.call(t, vertexPlugin(string(sa)), "gemini-2.5-flash", false, hello)
	if b := readAll(t, res); res.StatusCode != 502 || strings.Contains(b, "PRIVATE") {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
}

// Workload Identity Federation: an external_account with an AWS source,
// its AWS credentials from the supplier (the function's role); the STS
// exchange is checked as Google's STS reads it.
func TestWorkloadIdentityFederationFromAWS(t *testing.T) {
	const audience = "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/aws-pool/providers/aws-provider"
	ts := newTokenServer(t, "sts-federated-token", func(t *testing.T, f url.Values) {
		want := map[string]string{"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "audience": audience,
			"subject_token_type": "urn:ietf:params:aws:token-type:aws4_request", "requested_token_type": "urn:ietf:params:oauth:token-type:access_token", "scope": scope}
		for k, v := range want {
			if f.Get(k) != v {
				t.Errorf("%s = %q, want %q", k, f.Get(k), v)
			}
		}
		raw, _ := url.QueryUnescape(f.Get("subject_token"))
		var st struct {
			URL, Method string
			Headers     []struct{ Key, Value string }
		}
		if err := json.Unmarshal([]byte(raw), &st); err != nil {
			t.Fatalf("subject_token %q: %v", raw, err)
		}
		h := map[string]string{}
		for _, kv := range st.Headers {
			h[strings.ToLower(kv.Key)] = kv.Value
		}
		if st.URL != "https://sts.eu-west-1.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15" || st.Method != "POST" ||
			!strings.HasPrefix(h["authorization"], "AWS4-HMAC-SHA256 Credential=ASIAROLE/") || !strings.Contains(h["authorization"], "/eu-west-1/sts/aws4_request") ||
			h["x-amz-security-token"] != "role-session-token" || h["x-goog-cloud-target-resource"] != audience {
			t.Errorf("subject token %+v", st)
		}
	})
	ext, _ := json.Marshal(map[string]any{"type": "external_account", "audience": audience,
		"subject_token_type": "urn:ietf:params:aws:token-type:aws4_request", "token_url": ts.URL + "/v1/token",
		"credential_source": map[string]any{"environment_id": "aws1", "region_url": "http://169.254.169.254/latest/meta-data/placement/availability-zone",
			"url": "http://169.254.169.254/latest/meta-data/iam/security-credentials", "regional_cred_verification_url": "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"}})
	var retrieved atomic.Int64
	aws := &AWSSource{
		Region: func(context.Context) (string, error) { return "eu-west-1", nil },
		Retrieve: func(context.Context) (string, string, string, error) {
			retrieved.Add(1)
			return "ASIAROLE", "role-secret", "role-session-token", nil
		},
	}
	r := newRig(t, geministub.Options{Bearer: "sts-federated-token"}, Options{AWS: aws})
	for i := 0; i < 2; i++ {
		res := r.call(t, vertexPlugin(string(ext)), "gemini-2.5-flash", true, hello)
		if b := readAll(t, res); res.StatusCode != 200 || !strings.Contains(b, "[DONE]") {
			t.Fatalf("%d %s", res.StatusCode, b)
		}
	}
	if ts.calls.Load() != 1 || retrieved.Load() != 1 {
		t.Fatalf("%d exchanges, %d AWS retrievals for 2 calls", ts.calls.Load(), retrieved.Load())
	}
	if got := r.stub.Last().Header.Get("Authorization"); got != "Bearer sts-federated-token" {
		t.Fatal(got)
	}
}

// staticToken is a token source that always gives the same token, as
// Google's library does from its cache.
type staticToken struct{ typ, value string }

func (s staticToken) Token(context.Context) (*auth.Token, error) {
	return &auth.Token{Value: s.value, Type: s.typ}, nil
}

type lastAuth struct{ got string }

func (l *lastAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	l.got = r.Header.Get("Authorization")
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
}

// Every call reports the bearer it attached (translated calls through
// authorize, preserve calls through bearer), so that the proxy can blank
// it; the header sent and the value reported are the same.
func TestAccessTokenReported(t *testing.T) {
	d := New(Options{})
	tests := []struct {
		name string
		tok  staticToken
		send func(req *http.Request, ts tokenSource) (sent string)
		want string
	}{
		{name: "translated call", tok: staticToken{value: "ya29.minted-1"}, want: "Bearer ya29.minted-1",
			send: func(req *http.Request, ts tokenSource) string {
				if pe := d.authorize(req, ts); pe != nil {
					t.Fatal(pe)
				}
				return req.Header.Get("Authorization")
			}},
		{name: "token type from the library", tok: staticToken{typ: "bearer", value: "ya29.minted-2"}, want: "bearer ya29.minted-2",
			send: func(req *http.Request, ts tokenSource) string {
				_ = d.authorize(req, ts)
				return req.Header.Get("Authorization")
			}},
		{name: "preserve call", tok: staticToken{value: "ya29.minted-3"}, want: "Bearer ya29.minted-3",
			send: func(req *http.Request, ts tokenSource) string {
				next := &lastAuth{}
				if _, err := (&bearer{next: next, tok: ts}).RoundTrip(req); err != nil {
					t.Fatal(err)
				}
				return next.got
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := &provider.Report{}
			req := httptest.NewRequestWithContext(provider.WithReport(context.Background(), rep), http.MethodPost, "https://aiplatform.googleapis.com/", nil)
			sent := tt.send(req, tt.tok)
			if got := rep.Credentials(); sent != tt.want || len(got) != 1 || got[0] != tt.want {
				t.Errorf("sent %q, reported %q, want %q", sent, got, tt.want)
			}
		})
	}
}
