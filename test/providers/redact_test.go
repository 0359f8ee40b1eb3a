package providers

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/binary"
)

// The credentials the proxy attaches upstream, minted at run time or
// configured, never reach the client in an error answer nor the binary's
// logs, whatever the upstream echoes: Azure's Entra ID token (azidentity
// against a local authority), Vertex AI's access token (Google's auth
// library, a service account against a local token endpoint), Bedrock's
// session token and SigV4 signature (the AWS SDK), and the configured
// api-key and x-goog-api-key. Each upstream here is an echo that quotes
// the credential it received in the shape the request's message asks for
// (translating drivers forward no client header). A 2xx answer's body is
// relayed as the upstream sent it (the documented bound): there only the
// logs are checked.

const (
	// googleToken is what the local Google token endpoint issues.
	googleToken      = "ya29.minted-google-token-0123456789"
	echoAWSSession   = "FwoGZXIvYXdzEXAMPLE-session-token-0123456789"
	echoGeminiAPIKey = "AIza-configured-gemini-key-0123"
)

const redactConfig = `
_format_version: "3.0"
routes:
  - {name: entra, paths: [/entra]}
  - {name: vertex, paths: [/vertex]}
  - {name: bedrock, paths: [/bedrock]}
  - {name: azure-key, paths: [/azure-key]}
  - {name: gemini-key, paths: [/gemini-key]}
plugins:
  - name: ai-proxy
    route: entra
    config:
      route_type: llm/v1/chat
      logging: {log_statistics: true, log_payloads: true}
      auth: {azure_use_managed_identity: true, azure_client_id: client-1, azure_client_secret: ENTRA_SECRET, azure_tenant_id: tenant-1}
      model: {provider: azure, name: gpt-4o, options: {azure_instance: inst, azure_deployment_id: dep, upstream_url: "ECHO/openai/deployments/dep/chat/completions"}}
  - name: ai-proxy
    route: vertex
    config:
      route_type: llm/v1/chat
      logging: {log_statistics: true, log_payloads: true}
      auth: {gcp_use_service_account: true, gcp_service_account_json: "{vault://env/GCP_SA_JSON}"}
      model:
        provider: gemini
        name: gemini-2.5-flash
        options:
          upstream_url: "ECHO/gemini/v1/projects/p/locations/l/publishers/google/models/gemini-2.5-flash:generateContent"
          gemini: {api_endpoint: us-central1-aiplatform.googleapis.com, project_id: p, location_id: us-central1}
  - name: ai-proxy
    route: bedrock
    config:
      route_type: llm/v1/chat
      logging: {log_statistics: true, log_payloads: true}
      model: {provider: bedrock, name: anthropic.claude-echo, options: {upstream_url: "ECHO/bedrock", bedrock: {aws_region: us-east-1}}}
  - name: ai-proxy
    route: azure-key
    config:
      route_type: llm/v1/chat
      logging: {log_statistics: true, log_payloads: true}
      auth: {header_name: api-key, header_value: AZURE_KEY}
      model: {provider: azure, name: gpt-4o, options: {azure_instance: inst, azure_deployment_id: dep, upstream_url: "ECHO/openai/deployments/dep/chat/completions"}}
  - name: ai-proxy
    route: gemini-key
    config:
      route_type: llm/v1/chat
      logging: {log_statistics: true, log_payloads: true}
      auth: {header_name: x-goog-api-key, header_value: GEMINI_KEY}
      model: {provider: gemini, name: gemini-2.5-flash, options: {upstream_url: "ECHO/gemini/v1beta/models/gemini-2.5-flash:generateContent"}}
`

// echoUpstream answers as Azure OpenAI, Gemini or Bedrock would (by
// path), quoting back the credential it received; "mode:<name>" in the
// request body picks how. It keeps every credential value it saw.
type echoUpstream struct {
	mu   sync.Mutex
	seen []string
}

var modeRE = regexp.MustCompile(`mode:([a-z-]+)`)

func (e *echoUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	m := modeRE.FindSubmatch(body)
	if m == nil {
		http.Error(w, "no mode", http.StatusTeapot)
		return
	}
	mode := string(m[1])
	// What this call carried: the header the proxy or the driver set.
	auth := r.Header.Get("Authorization")
	if v := r.Header.Get("api-key"); v != "" {
		auth = v
	}
	if v := r.Header.Get("x-goog-api-key"); v != "" {
		auth = v
	}
	token := auth
	if _, tok, ok := strings.Cut(auth, " "); ok {
		token = tok
	}
	session := r.Header.Get("X-Amz-Security-Token")
	sig := ""
	if _, s, ok := strings.Cut(auth, "Signature="); ok {
		sig = s
	}
	vals := []string{session, sig}
	if !strings.HasPrefix(auth, "AWS4-") { // SigV4's access key id is not secret
		vals = append(vals, token)
	}
	e.mu.Lock()
	for _, v := range vals {
		if v != "" {
			e.seen = append(e.seen, v)
		}
	}
	e.mu.Unlock()
	switch {
	case strings.HasPrefix(r.URL.Path, "/bedrock"):
		echoBedrock(w, mode, session, sig)
	case strings.HasPrefix(r.URL.Path, "/gemini"):
		echoGemini(w, mode, auth, token)
	default:
		echoOpenAI(w, mode, auth, token)
	}
}

// values are the credentials seen so far.
func (e *echoUpstream) values() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.seen...)
}

func flushPause(w http.ResponseWriter) {
	_ = http.NewResponseController(w).Flush()
	time.Sleep(5 * time.Millisecond)
}

// uEscape spells every character of s as a JSON \u escape.
func uEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		fmt.Fprintf(&b, `\u%04x`, r)
	}
	return b.String()
}

func echoOpenAI(w http.ResponseWriter, mode, auth, token string) {
	half := len(token) / 2
	switch mode {
	case "error-json":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":{"code":"invalid_header","message":"Authorization header %s is not accepted here"}}`, auth)
	case "error-escaped":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error":{"code":"401","message":"token %s expired"}}`, uEscape(token))
	case "error-header":
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", token="`+token+`"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"error":{"code":"403","message":"forbidden"}}`)
	case "error-sse-split":
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, `data: {"error":{"message":"request with %s`, token[:half])
		flushPause(w)
		fmt.Fprintf(w, `%s failed"}}`+"\n\n", token[half:])
	case "ok-json":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"c1","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"you sent %s"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":3,"total_tokens":4}}`, auth)
	case "ok-stream-split":
		w.Header().Set("Content-Type", "text/event-stream")
		for _, piece := range []string{"you sent " + token[:half], token[half:]} {
			fmt.Fprintf(w, `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"%s"}}]}`+"\n\n", piece)
			flushPause(w)
		}
		fmt.Fprint(w, `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`+"\n\ndata: [DONE]\n\n")
	default:
		http.Error(w, "mode "+mode, http.StatusTeapot)
	}
}

func echoGemini(w http.ResponseWriter, mode, auth, token string) {
	half := len(token) / 2
	text := func(s string, finish bool) string {
		f := ""
		if finish {
			f = `,"finishReason":"STOP"`
		}
		return `{"candidates":[{"content":{"role":"model","parts":[{"text":"` + s + `"}]}` + f + `}],"usageMetadata":{"promptTokenCount":1,"candidatesTokenCount":2,"totalTokenCount":3}}`
	}
	switch mode {
	case "error-json":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":{"code":400,"message":"Request had invalid credentials: %s","status":"INVALID_ARGUMENT"}}`, auth)
	case "error-escaped":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, `{"error":{"code":500,"message":"internal error for token %s","status":"INTERNAL"}}`, uEscape(token))
	case "midstream-error":
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: "+text("Hello", false)+"\r\n\r\n")
		flushPause(w)
		fmt.Fprintf(w, `data: {"error":{"code":500,"message":"stream broke for %s","status":"INTERNAL"}}`+"\r\n\r\n", auth)
	case "ok-json":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, text("you sent "+auth, true))
	case "ok-stream-split":
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: "+text("you sent "+token[:half], false)+"\r\n\r\n")
		flushPause(w)
		fmt.Fprint(w, "data: "+text(token[half:], true)+"\r\n\r\n")
	default:
		http.Error(w, "mode "+mode, http.StatusTeapot)
	}
}

func echoBedrock(w http.ResponseWriter, mode, session, sig string) {
	w.Header().Set("Content-Type", "application/json")
	switch mode {
	case "error-token":
		w.Header().Set("X-Amzn-Errortype", "UnrecognizedClientException:http://internal.amazon.com/coral/com.amazon.coral.service/")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `{"message":"The security token included in the request is invalid: %s"}`, session)
	case "error-signature":
		w.Header().Set("X-Amzn-Errortype", "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"message":"request signed %s with %s is malformed"}`, sig, session)
	case "ok-json":
		fmt.Fprintf(w, `{"output":{"message":{"role":"assistant","content":[{"text":"you sent %s"}]}},"stopReason":"end_turn","usage":{"inputTokens":1,"outputTokens":3,"totalTokens":4}}`, session)
	default:
		w.WriteHeader(http.StatusTeapot)
	}
}

// googleTokenServer is Google's OAuth2 token endpoint, locally: it issues
// googleToken for any assertion and counts the calls.
func googleTokenServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": googleToken, "token_type": "Bearer", "expires_in": 3600})
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func serviceAccountJSON(t *testing.T, tokenURI string) string {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	sa, _ := json.Marshal(map[string]string{"type": "service_account", "project_id": "p", "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "proxy@p.iam.gserviceaccount.com", "client_id": "1", "token_uri": tokenURI})
	return string(sa)
}

// readable is s with every JSON document in it decoded, recursively (a
// log line's payload is JSON inside a JSON string; an SSE body is one
// document per data line), so that an escaped spelling of a credential
// is found as the credential.
func readable(s string) string {
	var b strings.Builder
	b.WriteString(s)
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			b.WriteString("\n" + x)
			var inner any
			if json.Unmarshal([]byte(x), &inner) == nil {
				walk(inner)
			}
		case map[string]any:
			for k, y := range x {
				b.WriteString("\n" + k)
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "data:"))
		var v any
		if json.Unmarshal([]byte(line), &v) == nil {
			walk(v)
		}
	}
	var whole any
	if json.Unmarshal([]byte(s), &whole) == nil {
		walk(whole)
	}
	return b.String()
}

func TestRunTimeCredentialsRedacted(t *testing.T) {
	echo := &echoUpstream{}
	up := httptest.NewServer(echo)
	t.Cleanup(up.Close)
	entra := newEntra(t)
	gts, googleCalls := googleTokenServer(t)
	doc := strings.NewReplacer("ECHO", up.URL, "ENTRA_SECRET", entraSecret, "AZURE_KEY", azureKey, "GEMINI_KEY", echoGeminiAPIKey).Replace(redactConfig)
	p := binary.Serve(t, doc,
		"AZURE_AUTHORITY_HOST="+entra.srv.URL+"/", "SSL_CERT_FILE="+entra.certFile,
		"GCP_SA_JSON="+serviceAccountJSON(t, gts.URL+"/token"),
		"AWS_ACCESS_KEY_ID=AKIDECHOEXAMPLE", "AWS_SECRET_ACCESS_KEY=echo-secret-access-key", "AWS_SESSION_TOKEN="+echoAWSSession,
		"AWS_MAX_ATTEMPTS=1", "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent")

	// leak names the credential (seen by the echo, or known) that s
	// shows in any spelling, "" when none.
	leak := func(s string) string {
		r := readable(s)
		for _, v := range append(echo.values(), entraToken, googleToken, echoAWSSession, azureKey, echoGeminiAPIKey, entraSecret) {
			if strings.Contains(r, v) {
				return v
			}
		}
		return ""
	}
	tests := []struct {
		route, mode string
		stream      bool
		status      int
		// relayed: the answer is one the proxy redacts (an error, or the
		// event that ends a failed stream); a 2xx body is not checked.
		relayed bool
	}{
		{route: "entra", mode: "error-json", status: 400, relayed: true},
		{route: "entra", mode: "error-escaped", status: 401, relayed: true},
		{route: "entra", mode: "error-header", status: 403, relayed: true},
		{route: "entra", mode: "error-sse-split", stream: true, status: 500, relayed: true},
		{route: "entra", mode: "ok-json", status: 200},
		{route: "entra", mode: "ok-stream-split", stream: true, status: 200},
		{route: "vertex", mode: "error-json", status: 400, relayed: true},
		{route: "vertex", mode: "error-escaped", status: 500, relayed: true},
		{route: "vertex", mode: "midstream-error", stream: true, status: 200, relayed: true},
		{route: "vertex", mode: "ok-json", status: 200},
		{route: "vertex", mode: "ok-stream-split", stream: true, status: 200},
		{route: "bedrock", mode: "error-token", status: 403, relayed: true},
		{route: "bedrock", mode: "error-signature", status: 400, relayed: true},
		{route: "bedrock", mode: "ok-json", status: 200},
		{route: "azure-key", mode: "error-json", status: 400, relayed: true},
		{route: "gemini-key", mode: "error-json", status: 400, relayed: true},
	}
	for _, tt := range tests {
		t.Run(tt.route+"/"+tt.mode, func(t *testing.T) {
			body := fmt.Sprintf(`{"stream":%v,"messages":[{"role":"user","content":"mode:%s"}]}`, tt.stream, tt.mode)
			res, err := http.Post("http://"+p.Addr+"/"+tt.route+"/chat/completions", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tt.status, b)
			}
			if !tt.relayed {
				return
			}
			if v := leak(string(b)); v != "" || !strings.Contains(string(b), "[REDACTED]") && tt.mode != "error-header" {
				t.Errorf("the client got %q (%s)", v, b)
			}
			for k, vs := range res.Header {
				if v := leak(strings.Join(vs, "\n")); v != "" {
					t.Errorf("the client got %q in %s: %q", v, k, vs)
				}
			}
		})
	}
	// Every request's statistics line is out (they leave in batches).
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(p.Output.String(), `"msg":"request"`) < len(tests) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	out := p.Output.String()
	if n := strings.Count(out, `"msg":"request"`); n != len(tests) || !strings.Contains(out, `"payload":{`) {
		t.Fatalf("%d statistics lines for %d requests, payloads logged: %v\n%s", n, len(tests), strings.Contains(out, `"payload":{`), out)
	}
	if v := leak(out); v != "" {
		t.Errorf("the logs show %q:\n%s", v, out)
	}
	// The checks above covered what the upstream saw, the signatures too.
	seen := strings.Join(echo.values(), " ")
	for _, v := range []string{entraToken, googleToken, echoAWSSession, azureKey, echoGeminiAPIKey} {
		if !strings.Contains(seen, v) {
			t.Errorf("the echo never received %q", v)
		}
	}
	// One token each for all those requests: the cached token is
	// redacted in every request that carried it, not only the first.
	if n, m := entra.tokens.Load(), googleCalls.Load(); n != 1 || m != 1 {
		t.Errorf("token requests: Entra ID %d, Google %d; want 1 each", n, m)
	}
}
