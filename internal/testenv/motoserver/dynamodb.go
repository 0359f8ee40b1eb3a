package motoserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"go.yaml.in/yaml/v3"
)

// DynamoDB returns a DynamoDB client for this server, independent of the
// test process's own AWS environment. Retries are off, so that a stopped
// server fails a call at once.
func (s *Server) DynamoDB() *dynamodb.Client { return DynamoDBAt(s.Endpoint()) }

// TableSpec is what a template's AWS::DynamoDB::Table says of a table.
type TableSpec struct {
	AttributeDefinitions []struct {
		AttributeName string `yaml:"AttributeName"`
		AttributeType string `yaml:"AttributeType"`
	} `yaml:"AttributeDefinitions"`
	KeySchema []struct {
		AttributeName string `yaml:"AttributeName"`
		KeyType       string `yaml:"KeyType"`
	} `yaml:"KeySchema"`
	BillingMode             string `yaml:"BillingMode"`
	TimeToLiveSpecification struct {
		AttributeName string `yaml:"AttributeName"`
		Enabled       bool   `yaml:"Enabled"`
	} `yaml:"TimeToLiveSpecification"`
}

// TemplateTable reads the Properties of resource logicalID, an
// AWS::DynamoDB::Table, from a CloudFormation/SAM template, so that tests
// create exactly the table the template deploys.
func TemplateTable(templatePath, logicalID string) (*TableSpec, error) {
	data, err := os.ReadFile(templatePath)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	// A yaml.Node, because the template's intrinsic-function tags (!Ref,
	// !If) elsewhere in the file do not decode into plain values.
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse template %s: %w", templatePath, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("template %s is empty", templatePath)
	}
	res := lookup(lookup(doc.Content[0], "Resources"), logicalID)
	if res == nil {
		return nil, fmt.Errorf("template %s has no resource %s", templatePath, logicalID)
	}
	if typ := lookup(res, "Type"); typ == nil || typ.Value != "AWS::DynamoDB::Table" {
		return nil, fmt.Errorf("resource %s is not an AWS::DynamoDB::Table", logicalID)
	}
	var spec TableSpec
	if err := lookup(res, "Properties").Decode(&spec); err != nil {
		return nil, fmt.Errorf("decode %s properties: %w", logicalID, err)
	}
	if len(spec.KeySchema) == 0 {
		return nil, fmt.Errorf("resource %s has no KeySchema", logicalID)
	}
	return &spec, nil
}

func lookup(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// CreateTable creates the table named name as spec defines it, TTL
// included.
func (s *Server) CreateTable(ctx context.Context, spec *TableSpec, name string) error {
	in := &dynamodb.CreateTableInput{TableName: aws.String(name), BillingMode: types.BillingMode(spec.BillingMode)}
	for _, a := range spec.AttributeDefinitions {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(a.AttributeName), AttributeType: types.ScalarAttributeType(a.AttributeType)})
	}
	for _, k := range spec.KeySchema {
		in.KeySchema = append(in.KeySchema, types.KeySchemaElement{
			AttributeName: aws.String(k.AttributeName), KeyType: types.KeyType(k.KeyType)})
	}
	db := s.DynamoDB()
	if _, err := db.CreateTable(ctx, in); err != nil {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	ttl := spec.TimeToLiveSpecification
	if ttl.AttributeName == "" {
		return nil
	}
	_, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(ttl.AttributeName), Enabled: aws.Bool(ttl.Enabled)},
	})
	if err != nil {
		return fmt.Errorf("enable TTL on %s: %w", name, err)
	}
	return nil
}

// CreateTemplateTable creates table name in this server from resource
// logicalID of the template, failing the test on error.
func (s *Server) CreateTemplateTable(t testing.TB, templatePath, logicalID, name string) *TableSpec {
	t.Helper()
	spec, err := TemplateTable(templatePath, logicalID)
	if err != nil {
		t.Fatalf("motoserver: %v", err)
	}
	if err := s.CreateTable(context.Background(), spec, name); err != nil {
		var inUse *types.ResourceInUseException
		if !errors.As(err, &inUse) {
			t.Fatalf("motoserver: %v", err)
		}
	}
	return spec
}

// Serialized returns the base URL of a loopback proxy to this server that
// passes one request at a time, for tests of concurrent conditional
// updates. DynamoDB applies the writes to one item one after another; moto
// 5.x serves each request on its own thread and reads, checks and writes an
// item in UpdateItem without a lock, so two concurrent conditional updates
// can both pass its condition (50 concurrent reservations against a budget
// of 33 served 39). Serializing the requests restores DynamoDB's guarantee.
// The proxy is closed when the test ends.
func (s *Server) Serialized(t testing.TB) string {
	t.Helper()
	target, err := url.Parse(s.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// DynamoDBAt is a DynamoDB client like DynamoDB's, for another endpoint
// (Serialized's).
func DynamoDBAt(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:           Region,
		Credentials:      credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint:     aws.String(endpoint),
		RetryMaxAttempts: 1,
	})
}
