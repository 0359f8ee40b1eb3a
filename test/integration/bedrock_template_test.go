package integration

import (
	"reflect"
	"strings"
	"testing"
)

// Bedrock permissions: InvokeModel and InvokeModelWithResponseStream on
// exactly the listed ARNs, the statement gone when none is listed;
// sts:AssumeRole only on the named role, only when one is named.
func TestStackBedrockPermissions(t *testing.T) {
	tpl := deployed(t)
	p := tpl.Parameters["BedrockModelArns"]
	if p["Type"] != "CommaDelimitedList" || p["Default"] != "" || !strings.Contains(p["Description"].(string), "WARNING") {
		t.Errorf("BedrockModelArns = %v", p)
	}
	if p := tpl.Parameters["BedrockAssumeRoleArn"]; p["Type"] != "String" || p["Default"] != "" {
		t.Errorf("BedrockAssumeRoleArn = %v", p)
	}
	if got := jsonOf(t, tpl.Conditions["HasBedrockModels"]); got != `{"Fn::Not":[{"Fn::Equals":[{"Fn::Join":["",{"Ref":"BedrockModelArns"}]},""]}]}` {
		t.Errorf("HasBedrockModels = %s", got)
	}
	if got := jsonOf(t, tpl.Conditions["HasBedrockAssumeRole"]); got != `{"Fn::Not":[{"Fn::Equals":[{"Ref":"BedrockAssumeRoleArn"},""]}]}` {
		t.Errorf("HasBedrockAssumeRole = %s", got)
	}
	found := map[string]bool{}
	for _, s := range roleStatements(t, tpl, "AiProxyFunctionRole") {
		acts := actions(s.body)
		for _, a := range acts {
			if strings.HasPrefix(a, "bedrock:") || strings.HasPrefix(a, "sts:") {
				found[a] = true
			}
		}
		switch {
		case reflect.DeepEqual(acts, []string{"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"}):
			if s.condition != "HasBedrockModels" || jsonOf(t, s.body["Resource"]) != `{"Ref":"BedrockModelArns"}` {
				t.Errorf("bedrock statement %s under %q", jsonOf(t, s.body), s.condition)
			}
		case reflect.DeepEqual(acts, []string{"sts:AssumeRole"}):
			if s.condition != "HasBedrockAssumeRole" || jsonOf(t, s.body["Resource"]) != `{"Ref":"BedrockAssumeRoleArn"}` {
				t.Errorf("sts statement %s under %q", jsonOf(t, s.body), s.condition)
			}
		}
	}
	if len(found) != 3 {
		t.Errorf("bedrock/sts actions granted: %v", found)
	}
}
