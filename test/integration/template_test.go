package integration

import (
	"context"
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
)

type mapVault map[string]string

func (m mapVault) ResolveSecrets(_ context.Context, refs []string) (map[string]string, error) {
	return m, nil
}

// templateConfig returns the config document template.yaml deploys, with
// its !Sub variables filled in as CloudFormation would for the defaults.
func templateConfig(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	find := func(n *yaml.Node, key string) *yaml.Node {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
		t.Fatalf("template: no %q", key)
		return nil
	}
	value := find(find(find(find(doc.Content[0], "Resources"), "ConfigParameter"), "Properties"), "Value")
	if value.Tag != "!Sub" || len(value.Content) == 0 {
		t.Fatalf("ConfigParameter.Value is not a !Sub list")
	}
	return strings.NewReplacer("${KeyName}", "aiproxy/openai-api-key", "${ClientKeyName}", "aiproxy/client-key").Replace(value.Content[0].Value)
}

// What `sam deploy` ships must load, route the seed's path, and refuse
// callers without the client key held in SSM.
func TestTemplateDefaultConfig(t *testing.T) {
	vault := mapVault{"{vault://ssm/aiproxy/openai-api-key}": "sk-from-ssm", "{vault://ssm/aiproxy/client-key}": "client-key-from-ssm"}
	cfg, err := config.Parse(context.Background(), []byte(templateConfig(t)), config.Options{Secrets: vault})
	if err != nil {
		t.Fatal(err)
	}
	rt, caps, ok := cfg.Match("POST", "", "/gpt-4o-mini/chat/completions", nil)
	if rt == nil || !ok || caps["model"] != "gpt-4o-mini" {
		t.Fatalf("seed route does not match: %v %v", rt, caps)
	}
	if rt.Plugin.Auth.HeaderValue != "Bearer sk-from-ssm" || !rt.Plugin.Logging.LogStatistics {
		t.Errorf("plugin = %+v", rt.Plugin)
	}
	if rt.KeyAuth == nil {
		t.Fatal("key-auth is off in the deployed default: the Function URL would be an open relay")
	}
	if c, ok := rt.KeyAuth.Identify("client-key-from-ssm"); !ok || c != "default" {
		t.Errorf("the SSM client key is not accepted")
	}
	if _, ok := rt.KeyAuth.Identify("anything-else"); ok {
		t.Errorf("another key is accepted")
	}
}
