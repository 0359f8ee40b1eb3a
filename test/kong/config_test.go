package kong

import (
	"context"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
)

// parse loads a configuration document as the proxy does.
func parse(doc string) (*config.Config, error) {
	return config.Parse(context.Background(), []byte(doc), config.Options{})
}

// schemaConfig is the spec's OpenAI config with auth (and extra top-level
// members) replaced, as a bare plugin config.
func schemaConfig(auth, extra string) string {
	return `{"route_type": "llm/v1/chat", "auth": ` + auth + extra + `,
	"model": {"name": "openai", "provider": "openai",
	          "options": {"max_tokens": 256, "temperature": 1.0, "upstream_url": "http://nowhere"}}}`
}

func valid(c *check, doc string) {
	if _, err := parse(doc); err != nil {
		c.errorf("refused: %v", err)
	}
}

// invalid asserts a load error holding want (Kong's message).
func invalid(c *check, doc, want string) {
	_, err := parse(doc)
	switch {
	case err == nil:
		c.errorf("accepted, want an error %q", want)
	case !strings.Contains(err.Error(), want):
		c.errorf("error %q, want one holding %q", err, want)
	}
}

func configRows() []row {
	const spec = "00-config"
	return []row{
		{spec: spec, it: "requires both [config.auth.header_name] and [config.auth.header_value] to be set", run: func(c *check) {
			invalid(c, schemaConfig(`{"header_name": "Authorization"}`, ""), "all or none of these fields must be set: 'auth.header_name', 'auth.header_value'")
		}},
		{spec: spec, it: "requires both [config.auth.header_name] and [config.auth.header_value] to be set (the spec's second it: both set)", run: func(c *check) {
			valid(c, schemaConfig(`{"header_name": "Authorization", "header_value": "Bearer token"}`, ""))
		}},
		{spec: spec, it: "requires all of [config.auth.param_name] and [config.auth.param_value] and [config.auth.param_location] to be set", run: func(c *check) {
			invalid(c, schemaConfig(`{"param_name": "apikey", "param_value": "key"}`, ""), "all or none of these fields must be set: 'auth.param_name', 'auth.param_value', 'auth.param_location'")
		}},
		{spec: spec, it: "requires all of [config.auth.param_name] and [config.auth.param_value] and [config.auth.param_location] to be set (the spec's second it: all set)", run: func(c *check) {
			valid(c, schemaConfig(`{"param_name": "apikey", "param_value": "key", "param_location": "query"}`, ""))
		}},
		{spec: spec, it: "requires all auth parameters set in order to use both header and param types", run: func(c *check) {
			valid(c, schemaConfig(`{"param_name": "apikey", "param_value": "key", "param_location": "query", "header_name": "Authorization", "header_value": "Bearer token"}`, ""))
		}},
		{spec: spec, it: "bedrock llm_format can only use bedrock provider (the openai half)",
			note: "Kong's message is \"native llm_format 'bedrock' can only be used with the 'bedrock' model.provider\"; the native bedrock and gemini formats are not served here (openai and anthropic are), so they are refused with our own message", run: func(c *check) {
				invalid(c, schemaConfig(`{"header_name": "Authorization", "header_value": "Bearer token", "allow_override": false}`, `, "llm_format": "bedrock"`), "llm_format")
			}},
		{spec: spec, it: "gemini llm_format can only use gemini provider (the openai half)",
			note: "as for bedrock: any llm_format but openai and anthropic is refused", run: func(c *check) {
				invalid(c, schemaConfig(`{"header_name": "Authorization", "header_value": "Bearer token", "allow_override": false}`, `, "llm_format": "gemini"`), "llm_format")
			}},
	}
}
