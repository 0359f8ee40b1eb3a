package lambda_test

import (
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/motoserver"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/rie"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
)

// The deployed shape end to end: the bootstrap under the emulator reads its
// decK document, the upstream key and the client key from SSM (moto), serves
// every sample event source with key-auth on, and writes neither key to its
// output, whatever it logs.
func TestFromSSMThroughEmulator(t *testing.T) {
	const (
		upstreamKey = "sk-canary-upstream-5d1f0a"
		clientKey   = "sk-canary-client-8b2e47"
	)
	up := stub.New()
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	moto := motoserver.Start(t)
	moto.Put(t, "/aiproxy/openai-api-key", upstreamKey, true)
	moto.Put(t, "/aiproxy/client-key", clientKey, true)
	moto.Put(t, "/aiproxy/config", fmt.Sprintf(`_format_version: "3.0"
routes:
  - name: openai-chat
    paths: ["~/(?<model>[^#?/]+)/chat/completions$"]
    methods: [POST]
plugins:
  - name: key-auth
  - name: ai-proxy
    config:
      route_type: llm/v1/chat
      auth: {header_name: Authorization, header_value: "Bearer {vault://ssm/aiproxy/openai-api-key}"}
      logging: {log_statistics: true, log_payloads: true}
      model: {provider: openai, name: "$(uri_captures.model)", options: {upstream_url: %q}}
consumers:
  - username: team-a
    keyauth_credentials: [{key: "{vault://ssm/aiproxy/client-key}"}]
`, srv.URL+"/v1/chat/completions"), false)

	env := append(moto.Environ(), "AIPROXY_CONFIG_PARAMETER=/aiproxy/config", "AIPROXY_REST_RESPONSE_MODE=STREAM", "AIPROXY_LOG_LEVEL=DEBUG", "AIPROXY_METRICS=on")
	emu := rie.StartT(t, bootstrap, env)

	files, _ := filepath.Glob(filepath.Join(repoRoot, "events", "*.json"))
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			want := sampleEvents[name]
			resp := invokeEmulator(t, emu, withHeaders(t, readEvent(t, name), map[string]string{"authorization": "Bearer " + clientKey}))
			checkAnswer(t, resp, want)
			if want.status == 200 && up.Last().Header.Get("Authorization") != "Bearer "+upstreamKey {
				t.Errorf("upstream Authorization = %q", up.Last().Header.Get("Authorization"))
			}
		})
	}
	t.Run("no client key", func(t *testing.T) {
		resp := invokeEmulator(t, emu, readEvent(t, "function-url.json"))
		checkAnswer(t, resp, openAIError(401))
	})
	out := emu.Output()
	if !strings.Contains(out, `"consumer":"team-a"`) || !strings.Contains(out, `"CloudWatchMetrics"`) {
		t.Errorf("no statistics or EMF in the function's output:\n%s", out)
	}
	for _, secret := range []string{upstreamKey, clientKey} {
		if strings.Contains(out, secret) {
			t.Errorf("a secret appears in the function's output")
		}
	}
}
