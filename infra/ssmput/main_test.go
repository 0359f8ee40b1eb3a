package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/motoserver"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/configsource"
)

// The tests run ssmput against moto's SSM through the SDK's default
// chain (AWS_ENDPOINT_URL_SSM), as `make put-config` would against AWS.

type result struct {
	code           int
	stdout, stderr string
}

func runCmd(stdin string, args ...string) result {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return result{code, out.String(), errb.String()}
}

func setup(t *testing.T) *ssm.Client {
	t.Helper()
	s := motoserver.Start(t)
	s.SetEnv(t)
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ssm.NewFromConfig(cfg)
}

func getParam(t *testing.T, c *ssm.Client, name string) (*ssmtypes.Parameter, error) {
	t.Helper()
	out, err := c.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	return out.Parameter, nil
}

func canary(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "sk-canary-" + hex.EncodeToString(b)
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// openDoc is a bare plugin config: its one route needs no client key.
const openDoc = `route_type: llm/v1/chat
auth:
  header_name: Authorization
  header_value: "Bearer {vault://ssm/t/key}"
model:
  provider: openai
  name: gpt-4o
`

// goodDoc is openDoc as a decK file behind key-auth.
const goodDoc = `_format_version: "3.0"
routes:
  - name: chat
    paths: ["~/chat/completions$"]
plugins:
  - name: key-auth
  - name: ai-proxy
    config:
      route_type: llm/v1/chat
      auth:
        header_name: Authorization
        header_value: "Bearer {vault://ssm/t/key}"
      model:
        provider: openai
        name: gpt-4o
consumers:
  - username: team
    keyauth_credentials:
      - key: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
`

func TestKey(t *testing.T) {
	c := setup(t)
	secret := canary(t)
	for _, tc := range []struct {
		name, stdin string
		args        []string
		wantCode    int
		wantOut     string
		wantStored  string
	}{
		{"pipe with trailing newline", secret + "\n", nil, 0, "stored /aiproxy/openai-api-key version 1 (SecureString)", secret},
		{"overwrite, CRLF", secret + "-2\r\n", nil, 0, "version 2", secret + "-2"},
		{"other name, no newline", secret, []string{"-name", "/t/other"}, 0, "stored /t/other version 1", secret},
		{"empty", "\n", nil, 1, "no key on standard input", ""},
		{"two lines", secret + "\nmore\n", nil, 1, "more than one line", ""},
		{"padded", " " + secret + "\n", nil, 1, "leading or trailing spaces", ""},
		{"value on the command line is not a flag", "", []string{"-value", secret}, 2, "flag provided but not defined", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(tc.stdin, append([]string{"key"}, tc.args...)...)
			if r.code != tc.wantCode || !strings.Contains(r.stdout+r.stderr, tc.wantOut) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d with %q", r.code, r.stdout, r.stderr, tc.wantCode, tc.wantOut)
			}
			if strings.Contains(r.stdout+r.stderr, secret) && tc.name != "value on the command line is not a flag" {
				t.Fatalf("output shows the key: %q %q", r.stdout, r.stderr)
			}
			if tc.wantStored == "" {
				return
			}
			name := "/aiproxy/openai-api-key"
			if len(tc.args) > 1 {
				name = tc.args[1]
			}
			p, err := getParam(t, c, name)
			if err != nil {
				t.Fatal(err)
			}
			if p.Type != ssmtypes.ParameterTypeSecureString || aws.ToString(p.Value) != tc.wantStored {
				t.Fatalf("stored type %s, value matches = %v", p.Type, aws.ToString(p.Value) == tc.wantStored)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	c := setup(t)
	if r := runCmd("k\n", "key", "-name", "/t/key"); r.code != 0 {
		t.Fatalf("put key: %+v", r)
	}
	good := writeFile(t, goodDoc)
	open := writeFile(t, openDoc)
	invalid := writeFile(t, strings.Replace(goodDoc, "name: gpt-4o", "name: gpt-4o\n        options:\n          temperature: 99", 1))
	missingRef := writeFile(t, strings.Replace(goodDoc, "ssm/t/key", "ssm/t/absent", 1))
	unknownVault := writeFile(t, strings.Replace(goodDoc, "ssm/t/key", "hcv/t/key", 1))

	for _, tc := range []struct {
		name      string
		args      []string
		wantCode  int
		wantText  string
		wantParam string // parameter expected to exist afterwards
		wantType  ssmtypes.ParameterType
		wantNot   string // parameter expected not to exist afterwards
	}{
		{"no key-auth", []string{"-name", "/t/open", "-file", open}, 1, "routes without key-auth: default; nothing written", "", "", "/t/open"},
		{"no key-auth, allowed", []string{"-name", "/t/open", "-file", open, "-allow-open"}, 0, "warning: routes without key-auth (allowed by -allow-open): default", "/t/open", ssmtypes.ParameterTypeString, ""},
		{"valid", []string{"-name", "/t/config", "-file", good}, 0, "stored /t/config version 1 (String)", "/t/config", ssmtypes.ParameterTypeString, ""},
		{"valid again", []string{"-name", "/t/config", "-file", good}, 0, "version 2", "/t/config", ssmtypes.ParameterTypeString, ""},
		{"secure", []string{"-name", "/t/secure", "-file", good, "-secure"}, 0, "(SecureString)", "/t/secure", ssmtypes.ParameterTypeSecureString, ""},
		{"schema error", []string{"-name", "/t/invalid", "-file", invalid}, 1, "model.options.temperature", "", "", "/t/invalid"},
		{"missing reference", []string{"-name", "/t/missing", "-file", missingRef}, 1, "SSM parameters not found: /t/absent", "", "", "/t/missing"},
		{"missing reference, check skipped", []string{"-name", "/t/skipped", "-file", missingRef, "-skip-ref-check"}, 0, "version 1", "/t/skipped", ssmtypes.ParameterTypeString, ""},
		{"unknown vault", []string{"-name", "/t/hcv", "-file", unknownVault}, 1, "only ssm and env vaults are supported", "", "", "/t/hcv"},
		{"dry run", []string{"-name", "/t/dry", "-file", good, "-dry-run"}, 0, "dry run: /t/dry not written", "", "", "/t/dry"},
		{"no file", []string{"-name", "/t/x"}, 2, "-file is required", "", "", ""},
		{"stray argument", []string{"-file", good, "extra"}, 2, "unexpected arguments", "", "", ""},
		{"unreadable file", []string{"-file", good + ".nope"}, 1, "no such file", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd("", append([]string{"config"}, tc.args...)...)
			if r.code != tc.wantCode || !strings.Contains(r.stdout+r.stderr, tc.wantText) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d with %q", r.code, r.stdout, r.stderr, tc.wantCode, tc.wantText)
			}
			if tc.wantParam != "" {
				p, err := getParam(t, c, tc.wantParam)
				if err != nil {
					t.Fatal(err)
				}
				if p.Type != tc.wantType || aws.ToString(p.Value) != goodDoc && aws.ToString(p.Value) != openDoc && !strings.Contains(aws.ToString(p.Value), "t/absent") {
					t.Fatalf("stored %s %q", p.Type, aws.ToString(p.Value))
				}
			}
			if tc.wantNot != "" {
				var nf *ssmtypes.ParameterNotFound
				if _, err := getParam(t, c, tc.wantNot); !errors.As(err, &nf) {
					t.Fatalf("%s was written: %v", tc.wantNot, err)
				}
			}
		})
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		wantCode int
	}{
		{nil, 2},
		{[]string{"nope"}, 2},
		{[]string{"help"}, 0},
		{[]string{"config", "-h"}, 0},
	} {
		if r := runCmd("", tc.args...); r.code != tc.wantCode {
			t.Errorf("ssmput %v: exit %d, want %d (%s)", tc.args, r.code, tc.wantCode, r.stderr)
		}
	}
}

// TestExamplesDryRun validates the shipped examples without AWS.
func TestExamplesDryRun(t *testing.T) {
	files, _ := filepath.Glob("../examples/*.yaml")
	if len(files) == 0 {
		t.Fatal("no examples found")
	}
	for _, f := range files {
		if r := runCmd("", "config", "-file", f, "-dry-run", "-skip-ref-check"); r.code != 0 {
			t.Errorf("%s: exit %d: %s", f, r.code, r.stderr)
		}
	}
}

// TestEndToEnd stores the seed example and a key with ssmput and loads
// them with the function's own config source.
func TestEndToEnd(t *testing.T) {
	setup(t)
	secret := canary(t)
	if r := runCmd(secret+"\n", "key"); r.code != 0 {
		t.Fatalf("put key: %+v", r)
	}
	if r := runCmd(canary(t)+"\n", "key", "-name", "/aiproxy/clients/team-a"); r.code != 0 {
		t.Fatalf("put client key: %+v", r)
	}
	if r := runCmd("", "config", "-file", "../examples/dynamic-model.yaml"); r.code != 0 {
		t.Fatalf("put config: %+v", r)
	}
	getenv := func(k string) string {
		if k == configsource.EnvParameter {
			return DefaultConfigParameter
		}
		return ""
	}
	src, desc, err := configsource.FromEnv(context.Background(), getenv, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := src.Current(context.Background())
	if err != nil {
		t.Fatalf("%s: %v", desc, err)
	}
	if got := cfg.Routes[0].Plugin.Auth.HeaderValue; got != "Bearer "+secret {
		t.Fatal("the function does not see the key stored by ssmput")
	}
}
