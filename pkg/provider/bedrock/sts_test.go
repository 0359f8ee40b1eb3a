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

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/bedrockstub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/motoserver"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// aws_assume_role_arn: the driver assumes the role through STS (moto's),
// caches the role's credentials, and signs Bedrock calls with them.
func TestAssumeRoleThroughSTS(t *testing.T) {
	moto := motoserver.Start(t)
	// Bedrock's stub learns the role's credentials once STS has issued them.
	var stub atomic.Pointer[bedrockstub.Server]
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { stub.Load().ServeHTTP(w, r) }))
	defer front.Close()

	d := New(Options{Config: aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDBASE", "base-secret", ""),
		Retryer: func() aws.Retryer { return aws.NopRetryer{} }}})
	p := plugin()
	p.Model.Options.Bedrock = &config.BedrockOptions{AWSRegion: "us-east-1", AssumeRoleARN: "arn:aws:iam::123456789012:role/bedrock-caller",
		RoleSessionName: "proxy-test", STSEndpointURL: moto.Endpoint()}
	c := d.client(p, "us-east-1", front.URL)
	creds, err := c.Options().Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if creds.AccessKeyID == "AKIDBASE" || creds.SessionToken == "" || !creds.CanExpire {
		t.Fatalf("not the role's credentials: %s session %v", creds.AccessKeyID, creds.SessionToken != "")
	}
	again, _ := c.Options().Credentials.Retrieve(context.Background())
	if again.AccessKeyID != creds.AccessKeyID || again.SessionToken != creds.SessionToken {
		t.Error("the role's credentials were not cached")
	}
	if d.client(p, "us-east-1", front.URL) != c {
		t.Error("a second client for the same role")
	}
	stub.Store(bedrockstub.New(bedrockstub.Options{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken}))
	up, err := d.Prepare(&provider.Call{Plugin: p, Model: "stub.text", Upstream: mustURL(front.URL), Body: []byte(`{"messages":[{"role":"user","content":"hi"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	rep := &provider.Report{}
	req, _ := http.NewRequestWithContext(provider.WithReport(context.Background(), rep), "POST", up.URL.String(), nil)
	res, err := up.Transport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.Contains(string(b), bedrockstub.Word(0)) || stub.Load().Signed() != 1 {
		t.Errorf("%d %s", res.StatusCode, b)
	}
	// The role's session token, which STS issued and only the SDK holds,
	// is reported for the proxy to blank.
	if got := rep.Credentials(); len(got) == 0 || got[0] != creds.SessionToken {
		t.Errorf("reported %d values, not the role's session token first", len(got))
	}
}
