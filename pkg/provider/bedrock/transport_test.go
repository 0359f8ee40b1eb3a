package bedrock

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
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
