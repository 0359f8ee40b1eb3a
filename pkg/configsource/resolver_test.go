package configsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
)

func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParameterName(t *testing.T) {
	for _, tc := range []struct {
		ref     string
		want    string
		wantSSM bool
		wantErr string
	}{
		{"{vault://ssm/aiproxy/openai-api-key}", "/aiproxy/openai-api-key", true, ""},
		{"{vault://ssm//aiproxy/openai-api-key}", "/aiproxy/openai-api-key", true, ""},
		{"{vault://ssm/flat}", "/flat", true, ""},
		{"{vault://ssm/aiproxy/key:3}", "/aiproxy/key:3", true, ""},
		{"{vault://env/openai-key}", "", false, ""},
		{"{vault://ssm/}", "", false, "expected {vault://VAULT/NAME}"},
		{"{vault://ssm/a//b}", "", false, "not an SSM parameter name"},
		{"{vault://ssm/a/}", "", false, "not an SSM parameter name"},
		{"{vault://ssm/a?ttl=30}", "", false, "query options"},
		{"{vault://ssm}", "", false, "expected {vault://VAULT/NAME}"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			name, ok, err := ParameterName(tc.ref)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || ok != tc.wantSSM || name != tc.want {
				t.Fatalf("= %q, %v, %v; want %q, %v", name, ok, err, tc.want, tc.wantSSM)
			}
		})
	}
}

func TestResolveEnvVault(t *testing.T) {
	env := envMap(map[string]string{
		"OPENAI_KEY":            "sk-env-1",
		"SECRETS":               `{"openai":"sk-json-2","n":3}`,
		"NOT_JSON":              "sk-plain-value",
		"AWS_SECRET_ACCESS_KEY": "role-secret",
	})
	for _, tc := range []struct {
		ref, want, wantErr string
	}{
		{"{vault://env/openai-key}", "sk-env-1", ""},
		{"{vault://env/OPENAI_KEY}", "sk-env-1", ""},
		{"{vault://env/secrets/openai}", "sk-json-2", ""},
		{"{vault://env/secrets/n}", "", `no string field "n"`},
		{"{vault://env/not-json/field}", "", "does not hold a JSON object"},
		{"{vault://env/unset-var}", "", "UNSET_VAR is not set"},
		{"{vault://env/aws-secret-access-key}", "", "AWS_* environment variables cannot be referenced"},
		{"{vault://hcv/secret/key}", "", `unknown vault "hcv"`},
		{"{vault://aws/secret}", "", `unknown vault "aws"`},
		{"{vault://ssm/a}", "", "no SSM client"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			r := &SSMResolver{LookupEnv: env}
			got, err := r.ResolveSecrets(context.Background(), []string{tc.ref})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				assertNoSecret(t, "sk-plain-value", err.Error())
				assertNoSecret(t, "role-secret", err.Error())
				return
			}
			if err != nil || got[tc.ref] != tc.want {
				t.Fatalf("= %q, %v; want %q", got[tc.ref], err, tc.want)
			}
		})
	}
}

func TestResolveBatchesAndDedupes(t *testing.T) {
	fake := newFake()
	var refs []string
	for i := range 23 {
		fake.put(fmt.Sprintf("/b/k%02d", i), fmt.Sprintf("v%02d", i))
		refs = append(refs, fmt.Sprintf("{vault://ssm/b/k%02d}", i))
	}
	// Two spellings of one parameter are read once.
	refs = append(refs, "{vault://ssm//b/k00}")
	r := &SSMResolver{Client: fake}
	got, err := r.ResolveSecrets(context.Background(), refs)
	if err != nil {
		t.Fatal(err)
	}
	if fake.getsCalls != 3 {
		t.Errorf("%d GetParameters calls for 23 names, want 3", fake.getsCalls)
	}
	if got["{vault://ssm//b/k00}"] != "v00" || got["{vault://ssm/b/k22}"] != "v22" || len(got) != 24 {
		t.Errorf("resolved %d refs: %v", len(got), got)
	}
}

func TestResolveMissingNamesAll(t *testing.T) {
	fake := newFake()
	fake.put("/m/present", "sk-present-secret")
	r := &SSMResolver{Client: fake}
	_, err := r.ResolveSecrets(context.Background(), []string{"{vault://ssm/m/present}", "{vault://ssm/m/gone1}", "{vault://ssm/m/gone2}"})
	var me *MissingParametersError
	if !errors.As(err, &me) || strings.Join(me.Names, ",") != "/m/gone1,/m/gone2" {
		t.Fatalf("err = %v, want both missing names", err)
	}
	assertNoSecret(t, "sk-present-secret", err.Error())
}

// TestParseErrorsAreScrubbed feeds secrets into fields whose validation
// messages quote the value and checks that the error hides them.
func TestParseErrorsAreScrubbed(t *testing.T) {
	const secret = "sk-scrub-me-0123"
	env := envMap(map[string]string{"PROV": secret})
	fake := newFake()
	fake.put("/s/name", secret)
	for _, tc := range []struct{ name, doc string }{
		{"vault value in a quoted field", `{"route_type":"llm/v1/chat","model":{"provider":"{vault://ssm/s/name}"}}`},
		{"env vault value in a quoted field", `{"route_type":"llm/v1/chat","model":{"provider":"{vault://env/prov}"}}`},
		{"decK env value in a quoted field", "route_type: llm/v1/chat\nmodel:\n  provider: '${{ env \"PROV\" }}'\n"},
		{"template error quoting a secret", `{"route_type":"llm/v1/chat","model":{"provider":"openai","name":"$(x{vault://ssm/s/name}"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := parseDocument(context.Background(), []byte(tc.doc), env, fake)
			if err == nil {
				t.Fatal("want a validation error")
			}
			assertNoSecret(t, secret, err.Error())
			if !strings.Contains(err.Error(), "[redacted]") {
				t.Errorf("error %q: want the value replaced by [redacted]", err)
			}
		})
	}
	// A value that quoting or JSON escaping changes must not get through
	// in its escaped form either.
	for _, escaped := range []string{`sk-"quote\back-0123`, "sk-tab\there-<&>-0123", "sk-uni-\u00e9-é-0123"} {
		fake.put("/s/esc", escaped)
		_, _, err := parseDocument(context.Background(), []byte(`{"route_type":"llm/v1/chat","model":{"provider":"{vault://ssm/s/esc}"}}`), env, fake)
		if err == nil {
			t.Fatal("want a validation error")
		}
		for _, form := range secretForms(escaped) {
			assertNoSecret(t, form, err.Error())
		}
		if !strings.Contains(err.Error(), "[redacted]") {
			t.Errorf("error %q: want the value replaced by [redacted]", err)
		}
	}
	// An error that quotes no secret keeps its type.
	_, _, err := parseDocument(context.Background(), []byte(`{"route_type":"x","model":{"provider":"openai"}}`), env, fake)
	var fe *config.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want a *config.FieldError", err)
	}
}

func TestDeckEnvRefusesAWSVariables(t *testing.T) {
	env := envMap(map[string]string{"AWS_SECRET_ACCESS_KEY": "role-secret-value"})
	d := "route_type: llm/v1/chat\nauth: {header_name: X, header_value: '${{ env \"AWS_SECRET_ACCESS_KEY\" }}'}\nmodel: {provider: openai}\n"
	_, _, err := parseDocument(context.Background(), []byte(d), env, nil)
	if err == nil || !strings.Contains(err.Error(), "AWS_SECRET_ACCESS_KEY") {
		t.Fatalf("err = %v, want the AWS variable refused", err)
	}
	assertNoSecret(t, "role-secret-value", err.Error())
}

// leakyClient fails like the SDK does when a response body cannot be
// decoded: the decoder's message can quote the body, which holds values.
type leakyClient struct{ *fakeSSM }

func (*leakyClient) GetParameters(context.Context, *ssm.GetParametersInput, ...func(*ssm.Options)) (*ssm.GetParametersOutput, error) {
	return nil, &smithy.OperationError{ServiceID: "SSM", OperationName: "GetParameters",
		Err: &smithy.DeserializationError{Err: errors.New(`invalid character 'x' after "sk-leaked-value"`)}}
}

func TestSafeErrorWithholdsResponseBodies(t *testing.T) {
	fake := newFake()
	fake.put(unitParam, doc("A", unitRef))
	c := &leakyClient{fake}
	logger, logs := newLogger()
	src, err := NewSSM(context.Background(), SSMOptions{Client: c, Parameter: unitParam, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Current(context.Background())
	if !errors.Is(err, config.ErrNoConfig) || !strings.Contains(err.Error(), "could not be decoded") {
		t.Fatalf("err = %v", err)
	}
	assertNoSecret(t, "sk-leaked-value", err.Error(), logs.String())

	plain := errors.New("connection refused")
	if SafeError(plain) != plain {
		t.Error("SafeError changed an error that cannot hold values")
	}
}

// secretForms are the ways a message may spell a value: as is, Go-quoted
// (%q, also ASCII-only) and JSON-escaped, each without its quotes.
func secretForms(v string) []string {
	j, _ := json.Marshal(v)
	forms := []string{v}
	for _, q := range []string{strconv.Quote(v), strconv.QuoteToASCII(v), string(j)} {
		forms = append(forms, q[1:len(q)-1])
	}
	return forms
}
