package bedrock

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

type countingTransport struct {
	n     atomic.Int32
	inner http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.inner.RoundTrip(r)
}

// TestTransport: with Options.Transport the SDK client's calls go through
// it (the proxy's pooled transport), not through Config.HTTPClient (the
// SDK's default client, 10 idle connections per host).
func TestTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"output":{"message":{"role":"assistant","content":[{"text":"hi"}]}},"stopReason":"end_turn","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2}}`))
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name          string
		withTransport bool
	}{{"transport", true}, {"config client", false}} {
		t.Run(tc.name, func(t *testing.T) {
			given := &countingTransport{inner: http.DefaultTransport}
			cfgClient := &countingTransport{inner: http.DefaultTransport}
			o := Options{Config: aws.Config{Region: "us-east-1", Retryer: func() aws.Retryer { return aws.NopRetryer{} },
				HTTPClient:  &http.Client{Transport: cfgClient},
				Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")}}
			if tc.withTransport {
				o.Transport = given
			}
			c := New(o).client(&config.Plugin{}, "us-east-1", srv.URL)
			_, err := c.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String("m"), Messages: []types.Message{
				{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "x"}}}}}, ownCodec)
			if err != nil {
				t.Fatal(err)
			}
			want, other := cfgClient, given
			if tc.withTransport {
				want, other = given, cfgClient
			}
			if want.n.Load() != 1 || other.n.Load() != 0 {
				t.Fatalf("calls through the wanted client %d, the other %d; want 1 and 0", want.n.Load(), other.n.Load())
			}
		})
	}
}

// Each signed attempt reports its session token and signature, which the
// SDK attaches where the proxy cannot see them; the access key id is not
// secret and is not reported.
func TestCredentialsReported(t *testing.T) {
	var sent atomic.Pointer[http.Header]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		sent.Store(&h)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"output":{"message":{"role":"assistant","content":[{"text":"hi"}]}},"stopReason":"end_turn","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2}}`))
	}))
	defer srv.Close()
	tests := []struct {
		name, session string
	}{
		{name: "session credentials", session: "FwoGZXIvYXdzEXAMPLEsessiontoken"},
		{name: "long-term keys", session: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{Config: aws.Config{Region: "us-east-1", Retryer: func() aws.Retryer { return aws.NopRetryer{} },
				Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", tt.session)}, Transport: http.DefaultTransport}
			c := New(o).client(&config.Plugin{}, "us-east-1", srv.URL)
			rep := &provider.Report{}
			_, err := c.Converse(provider.WithReport(context.Background(), rep), &bedrockruntime.ConverseInput{ModelId: aws.String("m"), Messages: []types.Message{
				{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "x"}}}}}, ownCodec)
			if err != nil {
				t.Fatal(err)
			}
			h := *sent.Load()
			want := []string{signature(h.Get("Authorization"))}
			if tt.session != "" {
				want = []string{h.Get("X-Amz-Security-Token"), want[0]}
			}
			got := rep.Credentials()
			if len(want[len(want)-1]) != 64 || strings.Join(got, "|") != strings.Join(want, "|") || strings.Contains(strings.Join(got, ""), "AKIDEXAMPLE") {
				t.Errorf("reported %q, want %q (Authorization %q)", got, want, h.Get("Authorization"))
			}
		})
	}
}

func TestSignature(t *testing.T) {
	tests := []struct{ authz, want string }{
		{"AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc123", "abc123"},
		{"AWS4-HMAC-SHA256 Signature=abc123, Credential=AKID", "abc123"},
		{"Bearer xyz", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := signature(tt.authz); got != tt.want {
			t.Errorf("signature(%q) = %q, want %q", tt.authz, got, tt.want)
		}
	}
}

// closedAfterDo is smithy-go's request body: once closed (which smithy
// does as soon as Do returns), every read is io.EOF.
type closedAfterDo struct {
	r      *strings.Reader
	closed bool
}

func (b *closedAfterDo) Read(p []byte) (int, error) {
	if b.closed {
		return 0, io.EOF
	}
	return b.r.Read(p)
}

func (b *closedAfterDo) Close() error { b.closed = true; return nil }

// lateReader is an HTTP client that, like net/http's transport, may still
// be reading the request body after Do has returned the answer.
type lateReader struct{ got *http.Request }

func (l *lateReader) Do(r *http.Request) (*http.Response, error) {
	l.got = r
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("{}"))}, nil
}

// The transport reads a body of its own: smithy's closing its body when
// Do returns does not cut what the transport has yet to read (which made
// net/http close the connection under a 200 being read).
func TestBodyDetachedFromSmithy(t *testing.T) {
	inner := &lateReader{}
	g := &guardClient{inner: inner, maxFrame: 1 << 20, maxBody: 1 << 20}
	body := &closedAfterDo{r: strings.NewReader(`{"texts":["a"]}`)}
	req, _ := http.NewRequest(http.MethodPost, "http://bedrock.test/model/m/invoke", body)
	if _, err := g.Do(req); err != nil {
		t.Fatal(err)
	}
	_ = req.Body.Close() // smithy-go, after Do
	_ = body.Close()
	got, err := io.ReadAll(inner.got.Body)
	if err != nil || string(got) != `{"texts":["a"]}` {
		t.Fatalf("the transport read %q, %v", got, err)
	}
}
