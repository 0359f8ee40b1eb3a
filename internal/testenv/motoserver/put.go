package motoserver

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// Client returns an SSM client for this server, independent of the test
// process's own AWS environment.
func (s *Server) Client() *ssm.Client {
	return ssm.New(ssm.Options{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint: aws.String(s.Endpoint()),
	})
}

// Put writes a parameter (a SecureString when secure), overwriting it.
func (s *Server) Put(t testing.TB, name, value string, secure bool) {
	t.Helper()
	typ := types.ParameterTypeString
	if secure {
		typ = types.ParameterTypeSecureString
	}
	_, err := s.Client().PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(value), Type: typ, Overwrite: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("put parameter %s: %v", name, err)
	}
}
