package integration

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/samtransform"
)

var (
	deployedOnce sync.Once
	deployedTpl  *samtransform.Template
)

// deployed is the template `sam deploy` submits for template.yaml, with
// SAM's generated resources (role, stages, deployments) in it. It is made
// once per test binary (the transform takes a second or two); tests only
// read it.
func deployed(t *testing.T) *samtransform.Template {
	t.Helper()
	deployedOnce.Do(func() { deployedTpl = samtransform.Transform(t, "../../template.yaml") })
	if deployedTpl == nil {
		t.Fatal("the template transform failed in an earlier test")
	}
	return deployedTpl
}

// jsonOf is v as compact JSON, for comparing intrinsic functions.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// statement is one IAM policy statement and the condition (if any) that
// includes the policy holding it.
type statement struct {
	condition string
	body      map[string]any
}

// roleStatements returns every statement of the inline policies of role,
// unwrapping Fn::If [cond, policy, AWS::NoValue].
func roleStatements(t *testing.T, tpl *samtransform.Template, role string) []statement {
	t.Helper()
	r, ok := tpl.Resources[role]
	if !ok || r.Type != "AWS::IAM::Role" {
		t.Fatalf("no role %s", role)
	}
	var out []statement
	policies, _ := r.Properties["Policies"].([]any)
	for _, p := range policies {
		cond := ""
		pm, _ := p.(map[string]any)
		if f, ok := pm["Fn::If"].([]any); ok {
			if len(f) != 3 || jsonOf(t, f[2]) != `{"Ref":"AWS::NoValue"}` {
				t.Fatalf("conditional policy must be Fn::If [cond, policy, AWS::NoValue]: %s", jsonOf(t, f))
			}
			cond, _ = f[0].(string)
			pm, _ = f[1].(map[string]any)
		}
		doc, _ := pm["PolicyDocument"].(map[string]any)
		stmts, _ := doc["Statement"].([]any)
		for _, s := range stmts {
			out = append(out, statement{cond, s.(map[string]any)})
		}
	}
	if managed, ok := r.Properties["ManagedPolicyArns"].([]any); ok {
		for _, m := range managed {
			if s := jsonOf(t, m); !strings.Contains(s, "AWSLambdaBasicExecutionRole") {
				t.Errorf("unexpected managed policy %s", s)
			}
		}
	}
	return out
}

// actions returns a statement's Action as a sorted list.
func actions(s map[string]any) []string {
	var out []string
	switch a := s["Action"].(type) {
	case string:
		out = []string{a}
	case []any:
		for _, x := range a {
			out = append(out, x.(string))
		}
	}
	sort.Strings(out)
	return out
}

// The rate-limit table: names other code depends on (the limiter's tests
// create it in moto from this definition), on-demand, TTL-expired,
// encrypted, and reachable by the function with four item actions on this
// table only, and only when enabled.
func TestStackRateLimitTable(t *testing.T) {
	tpl := deployed(t)

	p := tpl.Parameters["EnableRateLimits"]
	if p["Default"] != "true" || jsonOf(t, p["AllowedValues"]) != `["true","false"]` {
		t.Errorf("EnableRateLimits = %v", p)
	}
	if got := jsonOf(t, tpl.Conditions["RateLimitsEnabled"]); got != `{"Fn::Equals":[{"Ref":"EnableRateLimits"},"true"]}` {
		t.Errorf("RateLimitsEnabled = %s", got)
	}

	table, ok := tpl.Resources["RateLimitTable"]
	if !ok || table.Type != "AWS::DynamoDB::Table" || table.Condition != "RateLimitsEnabled" {
		t.Fatalf("RateLimitTable = %+v", table)
	}
	want := map[string]string{
		"BillingMode":             `"PAY_PER_REQUEST"`,
		"AttributeDefinitions":    `[{"AttributeName":"pk","AttributeType":"S"}]`,
		"KeySchema":               `[{"AttributeName":"pk","KeyType":"HASH"}]`,
		"TimeToLiveSpecification": `{"AttributeName":"expires_at","Enabled":true}`,
		"SSESpecification":        `{"SSEEnabled":true}`,
	}
	for k, w := range want {
		if got := jsonOf(t, table.Properties[k]); got != w {
			t.Errorf("RateLimitTable.%s = %s, want %s", k, got, w)
		}
	}
	if len(table.Properties) != len(want) {
		t.Errorf("RateLimitTable has other properties (a fixed TableName would block a second stack): %v", table.Properties)
	}

	fn := tpl.Resources["AiProxyFunction"]
	env := fn.Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
	if got := jsonOf(t, env["AIPROXY_RATE_LIMIT_TABLE"]); got != `{"Fn::If":["RateLimitsEnabled",{"Ref":"RateLimitTable"},""]}` {
		t.Errorf("AIPROXY_RATE_LIMIT_TABLE = %s", got)
	}

	var dynamo []statement
	for _, s := range roleStatements(t, tpl, "AiProxyFunctionRole") {
		for _, a := range actions(s.body) {
			if strings.HasPrefix(strings.ToLower(a), "dynamodb:") {
				dynamo = append(dynamo, s)
				break
			}
		}
	}
	if len(dynamo) != 1 {
		t.Fatalf("want one DynamoDB statement, got %d", len(dynamo))
	}
	s := dynamo[0]
	if s.condition != "RateLimitsEnabled" {
		t.Errorf("DynamoDB access is not conditional on RateLimitsEnabled (condition %q): a disabled table would break the policy", s.condition)
	}
	if got := actions(s.body); !reflect.DeepEqual(got, []string{"dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}) {
		t.Errorf("DynamoDB actions = %v", got)
	}
	if got := jsonOf(t, s.body["Resource"]); got != `{"Fn::GetAtt":["RateLimitTable","Arn"]}` {
		t.Errorf("DynamoDB resource = %s, want the table's ARN only", got)
	}
	if s.body["Effect"] != "Allow" || s.body["Condition"] != nil {
		t.Errorf("DynamoDB statement = %v", s.body)
	}
}
