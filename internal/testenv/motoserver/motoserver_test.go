package motoserver_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/motoserver"
)

func newClient(t *testing.T, s *motoserver.Server) *ssm.Client {
	t.Helper()
	s.SetEnv(t)
	cfg, err := awsconfig.LoadDefaultConfig(context.Background(), awsconfig.WithRetryMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	return ssm.NewFromConfig(cfg)
}

// TestSSMFacts pins the moto behaviours the configsource tests rely on,
// going through the SDK's default configuration chain
// (AWS_ENDPOINT_URL_SSM).
func TestSSMFacts(t *testing.T) {
	s := motoserver.Start(t)
	c := newClient(t, s)
	ctx := context.Background()

	put := func(name, value string, typ ssmtypes.ParameterType) int64 {
		t.Helper()
		out, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value), Type: typ, Overwrite: aws.Bool(true)})
		if err != nil {
			t.Fatalf("put %s: %v", name, err)
		}
		return out.Version
	}
	if v := put("/facts/secret", "s3cret", ssmtypes.ParameterTypeSecureString); v != 1 {
		t.Errorf("first version = %d, want 1", v)
	}
	if v := put("/facts/secret", "s3cret2", ssmtypes.ParameterTypeSecureString); v != 2 {
		t.Errorf("overwrite version = %d, want 2", v)
	}

	for _, tc := range []struct {
		decrypt bool
		want    string
	}{
		{false, "kms:alias/aws/ssm:s3cret2"},
		{true, "s3cret2"},
	} {
		out, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/facts/secret"), WithDecryption: aws.Bool(tc.decrypt)})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(out.Parameter.Value); got != tc.want {
			t.Errorf("decrypt=%v: value %q, want %q", tc.decrypt, got, tc.want)
		}
	}

	// A missing parameter is a ParameterNotFound API error.
	_, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/facts/missing")})
	var nf *ssmtypes.ParameterNotFound
	if !errors.As(err, &nf) {
		t.Errorf("missing parameter: %v, want ParameterNotFound", err)
	}

	// GetParameters lists unknown names in InvalidParameters and refuses
	// more than 10 names, like SSM.
	out, err := c.GetParameters(ctx, &ssm.GetParametersInput{Names: []string{"/facts/secret", "/facts/missing"}, WithDecryption: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Parameters) != 1 || len(out.InvalidParameters) != 1 || out.InvalidParameters[0] != "/facts/missing" {
		t.Errorf("GetParameters = %d params, invalid %v", len(out.Parameters), out.InvalidParameters)
	}
	var eleven []string
	for i := range 11 {
		eleven = append(eleven, fmt.Sprintf("/facts/p%d", i))
	}
	_, err = c.GetParameters(ctx, &ssm.GetParametersInput{Names: eleven})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ValidationException" {
		t.Errorf("11 names: %v, want ValidationException", err)
	}
}

func TestStopRestartKeepsPort(t *testing.T) {
	s := motoserver.Start(t)
	// A restart inside a test that has set the SDK environment (which
	// empties AWS_PROFILE) must still give a working SSM.
	c := newClient(t, s)
	endpoint := s.Endpoint()
	get := func() error {
		resp, err := (&http.Client{Timeout: time.Second}).Get(endpoint + "/moto-api/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(); err != nil {
		t.Fatalf("running server: %v", err)
	}
	s.Stop()
	if err := get(); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("stopped server: %v, want connection refused", err)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if s.Endpoint() != endpoint {
		t.Fatalf("endpoint changed: %s -> %s", endpoint, s.Endpoint())
	}
	if err := get(); err != nil {
		t.Fatalf("restarted server: %v", err)
	}
	if _, err := c.PutParameter(context.Background(), &ssm.PutParameterInput{Name: aws.String("/x"), Value: aws.String("v"), Type: ssmtypes.ParameterTypeString}); err != nil {
		t.Fatalf("SSM after restart: %v", err)
	}
}

func TestResetEmptiesState(t *testing.T) {
	s := motoserver.Start(t)
	c := newClient(t, s)
	ctx := context.Background()
	if _, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/r/x"), Value: aws.String("v"), Type: ssmtypes.ParameterTypeString}); err != nil {
		t.Fatal(err)
	}
	if err := s.Reset(); err != nil {
		t.Fatal(err)
	}
	_, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/r/x")})
	var nf *ssmtypes.ParameterNotFound
	if !errors.As(err, &nf) {
		t.Fatalf("after reset: %v, want ParameterNotFound", err)
	}
}

func TestNewStoppedStartsOnRestart(t *testing.T) {
	s := motoserver.NewStopped(t)
	c := newClient(t, s)
	ctx := context.Background()
	_, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/x")})
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("before start: %v, want connection refused", err)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/x"), Value: aws.String("v"), Type: ssmtypes.ParameterTypeString}); err != nil {
		t.Fatalf("after start: %v", err)
	}
}
