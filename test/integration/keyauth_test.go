package integration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
)

const teamKey = "team-a-key-0123456789"
const otherKey = "team-b-key-9876543210"

func keyAuthConfig() string {
	digest := sha256.Sum256([]byte(otherKey))
	return `
_format_version: "3.0"
routes:
  - name: chat
    paths: ["~/(?<model>gpt-4o|gpt-4o-mini)/chat/completions$"]
    methods: [POST]
plugins:
  - name: key-auth
    config: {key_names: [apikey]}
  - name: ai-proxy
    config:
      route_type: llm/v1/chat
      auth: {header_name: Authorization, header_value: Bearer KEY}
      logging: {log_statistics: true, log_payloads: true}
      model: {provider: openai, name: "$(uri_captures.model)", options: {upstream_url: UPSTREAM/v1/chat/completions}}
consumers:
  - username: team-a
    keyauth_credentials: [{key: ` + teamKey + `}]
  - username: team-b
    keyauth_credentials: [{key: "sha256:` + hex.EncodeToString(digest[:]) + `"}]
`
}

// No open relay: the SDK's api_key is the client key; a wrong or missing one
// is refused before anything is sent upstream, and the right one never
// travels further than the proxy.
func TestKeyAuthWithSDK(t *testing.T) {
	e := newEnv(t, keyAuthConfig())
	call := func(key, model string) error {
		client := e.clientWithKey(model, key)
		_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: openai.ChatModel(model), Messages: userMessage("hi")})
		return err
	}
	tests := []struct {
		name, key, model string
		status           int
		consumer         string
	}{
		{"plaintext key", teamKey, "gpt-4o", 200, "team-a"},
		{"hashed key", otherKey, "gpt-4o-mini", 200, "team-b"},
		{"wrong key", "team-a-key-wrong", "gpt-4o", 401, ""},
		{"model outside the allow-list", teamKey, "o1", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.stub.Requests())
			err := call(tt.key, tt.model)
			if tt.status == 200 {
				if err != nil {
					t.Fatal(err)
				}
				up := e.stub.Last()
				if up.Header.Get("Authorization") != "Bearer "+upstreamKey || strings.Contains(string(up.Body), tt.key) {
					t.Errorf("client key leaked upstream: %v %s", up.Header, up.Body)
				}
				l := waitLines(t, e.logs, "request", len(e.stub.Requests()))
				if last := l[len(l)-1]; last["consumer"] != tt.consumer {
					t.Errorf("consumer = %v, want %s", last["consumer"], tt.consumer)
				}
				return
			}
			var apiErr *openai.Error
			if !asAPIError(err, &apiErr) || apiErr.StatusCode != tt.status {
				t.Fatalf("err = %v, want %d", err, tt.status)
			}
			if tt.status == 401 && apiErr.Code != "invalid_api_key" {
				t.Errorf("code = %q", apiErr.Code)
			}
			if len(e.stub.Requests()) != before {
				t.Error("a refused request reached the upstream")
			}
		})
	}
	if strings.Contains(e.logs.String(), teamKey) || strings.Contains(e.logs.String(), otherKey) {
		t.Errorf("a client key appears in the logs:\n%s", e.logs)
	}
}

func TestKeyAuthHeaderAndQuery(t *testing.T) {
	e := newEnv(t, keyAuthConfig())
	tests := []struct {
		name    string
		path    string
		headers []string
		status  int
		message string
	}{
		{"no key", "/gpt-4o/chat/completions", nil, 401, "No API key found in request"},
		{"apikey header", "/gpt-4o/chat/completions", []string{"apikey", teamKey}, 200, ""},
		{"apikey query", "/gpt-4o/chat/completions?apikey=" + teamKey, nil, 200, ""},
		{"bad bearer", "/gpt-4o/chat/completions", []string{"Authorization", "Bearer nope-nope-nope"}, 401, "Invalid authentication credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := e.post(t, tt.path, chatBody, tt.headers...)
			if res.StatusCode != tt.status || !strings.Contains(body, tt.message) {
				t.Fatalf("got %d %s", res.StatusCode, body)
			}
			if tt.status == 401 && res.Header.Get("WWW-Authenticate") == "" {
				t.Error("no WWW-Authenticate")
			}
			if tt.status == 200 {
				up := e.stub.Last()
				if up.Header.Get("Apikey") != "" || strings.Contains(up.Query, teamKey) {
					t.Errorf("client key forwarded: header %q query %q", up.Header.Get("Apikey"), up.Query)
				}
			}
		})
	}
}

// With allow_override on the Authorization header, the key a client sent for
// key-auth is still its client key, not an upstream key to pass on.
func TestKeyAuthKeyIsNeverAnOverride(t *testing.T) {
	doc := strings.Replace(keyAuthConfig(), "auth: {header_name: Authorization, header_value: Bearer KEY}", "auth: {header_name: Authorization, header_value: Bearer KEY, allow_override: true}", 1)
	e := newEnv(t, doc)
	res, body := e.post(t, "/gpt-4o/chat/completions", chatBody, "Authorization", "Bearer "+teamKey)
	if res.StatusCode != 200 {
		t.Fatalf("got %d %s", res.StatusCode, body)
	}
	if got := e.stub.Last().Header.Get("Authorization"); got != "Bearer "+upstreamKey {
		t.Errorf("upstream Authorization = %q: the client key was passed on", got)
	}
}
