package providers

import (
	"bufio"
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/binary"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/coherestub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/ollamastub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
)

// Keys the config gives each provider; none may appear in the binary's
// output or in an answer.
const (
	azureKey    = "azure-key-5b1f0c2e9d"
	mistralKey  = "mistral-key-77aa31"
	hfKey       = "hf_key_c0ffee1234"
	cohereKey   = "cohere-key-9d8e7f6a"
	ollamaKey   = "ollama-key-4242"
	entraSecret = "entra-secret-s3cr3t"
)

// compat is the binary with one route per provider of the compat drivers,
// each in front of a server of that provider's wire format.
type compat struct {
	proc   *binary.Process
	openai *stub.Server // behind Azure, Mistral, Llama2 (openai) and HF
	paths  *pathLog     // what reached the OpenAI stub, by path and query
	// azure is Azure's Responses and embeddings paths in front of the
	// OpenAI stub (azurePaths), each request logged as Azure got it.
	azure  *pathLog
	ollama *ollamastub.Server
	cohere *coherestub.Server
	entra  *entraServer
}

// pathLog wraps the OpenAI stub: it records each request's path, query
// and auth headers (the stub keeps the body), then forwards.
type pathLog struct {
	next http.Handler
	log  atomic.Pointer[[]*http.Request]
}

func (p *pathLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for {
		old := p.log.Load()
		var l []*http.Request
		if old != nil {
			l = append(l, *old...)
		}
		l = append(l, r.Clone(context.Background()))
		if p.log.CompareAndSwap(old, &l) {
			break
		}
	}
	p.next.ServeHTTP(w, r)
}

func (p *pathLog) last(t *testing.T) *http.Request {
	t.Helper()
	l := p.log.Load()
	if l == nil || len(*l) == 0 {
		t.Fatal("nothing reached the OpenAI stub")
	}
	return (*l)[len(*l)-1]
}

const compatConfig = `_format_version: "3.0"
routes:
- {name: azure, paths: [/azure]}
- {name: azure-entra, paths: [/azure-entra]}
- {name: mistral, paths: [/mistral]}
- {name: mistral-ollama, paths: [/mistral-ollama]}
- {name: llama2, paths: [/llama2]}
- {name: llama2-ollama, paths: [/llama2-ollama]}
- {name: huggingface, paths: [/huggingface]}
- {name: cohere, paths: [/cohere]}
- {name: azure-responses, paths: [/azure-api/responses]}
- {name: azure-embeddings, paths: [/azure-api/embeddings]}
plugins:
- name: ai-proxy
  route: azure
  config:
    route_type: llm/v1/chat
    logging: {log_statistics: true}
    auth: {header_name: api-key, header_value: AZURE_KEY}
    model:
      provider: azure
      options: {azure_instance: my-instance, azure_deployment_id: dep1, azure_api_version: "2024-10-21", upstream_url: "OPENAI/openai/deployments/dep1/chat/completions"}
- name: ai-proxy
  route: azure-responses
  config:
    route_type: llm/v1/responses
    logging: {log_statistics: true}
    auth: {header_name: api-key, header_value: AZURE_KEY}
    model:
      provider: azure
      name: resp1
      options: {azure_instance: my-instance, azure_deployment_id: resp1, azure_api_version: preview, upstream_url: "AZUREAPI/openai/v1/responses"}
- name: ai-proxy
  route: azure-embeddings
  config:
    route_type: llm/v1/embeddings
    genai_category: text/embeddings
    logging: {log_statistics: true}
    auth: {header_name: api-key, header_value: AZURE_KEY}
    model:
      provider: azure
      name: text-embedding-3-small
      options: {azure_instance: my-instance, azure_deployment_id: emb1, azure_api_version: "2024-10-21", upstream_url: "AZUREAPI/openai/deployments/emb1/embeddings"}
- name: ai-proxy
  route: azure-entra
  config:
    route_type: llm/v1/chat
    logging: {log_statistics: true}
    auth: {azure_use_managed_identity: true, azure_client_id: client-1, azure_client_secret: ENTRA_SECRET, azure_tenant_id: tenant-1}
    model:
      provider: azure
      options: {azure_instance: my-instance, azure_deployment_id: dep2, upstream_url: "OPENAI/openai/deployments/dep2/chat/completions"}
- name: ai-proxy
  route: mistral
  config:
    route_type: llm/v1/chat
    logging: {log_statistics: true}
    auth: {header_name: Authorization, header_value: "Bearer MISTRAL_KEY"}
    model: {provider: mistral, options: {mistral_format: openai, upstream_url: "OPENAI/v1/chat/completions"}}
- name: ai-proxy
  route: mistral-ollama
  config:
    route_type: llm/v1/chat
    logging: {log_statistics: true}
    auth: {header_name: Authorization, header_value: "Bearer OLLAMA_KEY"}
    model: {provider: mistral, options: {mistral_format: ollama, upstream_url: "OLLAMA", top_k: 40}}
- name: ai-proxy
  route: llama2
  config:
    route_type: llm/v1/chat
    logging: {log_statistics: true}
    model: {provider: llama2, options: {llama2_format: openai, upstream_url: "OPENAI/v1/chat/completions"}}
- name: ai-proxy
  route: llama2-ollama
  config:
    route_type: llm/v1/chat
    logging: {log_statistics: true}
    auth: {header_name: Authorization, header_value: "Bearer OLLAMA_KEY"}
    model: {provider: llama2, options: {llama2_format: ollama, upstream_url: "OLLAMA/api/chat"}}
- name: ai-proxy
  route: huggingface
  config:
    route_type: llm/v1/chat
    logging: {log_statistics: true}
    auth: {header_name: Authorization, header_value: "Bearer HF_KEY"}
    model: {provider: huggingface, options: {upstream_url: "OPENAI/v1/chat/completions", huggingface: {use_cache: true, wait_for_model: true}}}
- name: ai-proxy
  route: cohere
  config:
    route_type: llm/v1/chat
    logging: {log_statistics: true}
    auth: {header_name: Authorization, header_value: "Bearer COHERE_KEY"}
    model: {provider: cohere, options: {upstream_url: "COHERE/v1/chat", top_k: 20}}
`

func newCompat(t *testing.T) *compat {
	t.Helper()
	c := &compat{openai: stub.New(), ollama: ollamastub.New(ollamaKey), cohere: coherestub.New(cohereKey), entra: newEntra(t)}
	c.paths = &pathLog{next: c.openai}
	c.azure = &pathLog{next: azurePaths{next: c.openai}}
	oa := httptest.NewServer(c.paths)
	az := httptest.NewServer(c.azure)
	t.Cleanup(az.Close)
	ol := httptest.NewServer(c.ollama)
	co := httptest.NewServer(c.cohere)
	t.Cleanup(oa.Close)
	t.Cleanup(ol.Close)
	t.Cleanup(co.Close)
	doc := strings.NewReplacer("AZURE_KEY", azureKey, "MISTRAL_KEY", mistralKey, "HF_KEY", hfKey, "COHERE_KEY", cohereKey,
		"OLLAMA_KEY", ollamaKey, "ENTRA_SECRET", entraSecret, "AZUREAPI", az.URL, "OPENAI", oa.URL, "OLLAMA", ol.URL, "COHERE", co.URL).Replace(compatConfig)
	c.proc = binary.Serve(t, doc, "AZURE_AUTHORITY_HOST="+c.entra.srv.URL+"/", "SSL_CERT_FILE="+c.entra.certFile)
	t.Cleanup(func() {
		out := c.proc.Output.String()
		for _, k := range []string{azureKey, mistralKey, hfKey, cohereKey, ollamaKey, entraSecret, entraToken} {
			if strings.Contains(out, k) {
				t.Errorf("a key appears in the binary's output:\n%s", out)
			}
		}
	})
	return c
}

// azurePaths is Azure OpenAI's API surface for the Responses API and
// embeddings, mapped onto the OpenAI stub's: the v1 API's
// /openai/v1/responses (the deployment in the body's model; no dated
// api-version, which the v1 API refuses) and the deployment's
// /openai/deployments/{d}/embeddings (a dated api-version required), each
// with the key in api-key. Anything else is answered as Azure does.
type azurePaths struct{ next http.Handler }

func (a azurePaths) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, code, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg}})
	}
	if r.Header.Get("api-key") != azureKey || r.Header.Get("Authorization") != "" {
		fail(http.StatusUnauthorized, "401", "Access denied due to invalid subscription key or wrong API endpoint.")
		return
	}
	version, dated := r.URL.Query().Get("api-version"), false
	if len(version) >= 10 && version[4] == '-' && version[7] == '-' {
		dated = true
	}
	out := r.Clone(r.Context())
	switch {
	case r.URL.Path == "/openai/v1/responses":
		if dated {
			fail(http.StatusBadRequest, "BadRequest", "API version not supported")
			return
		}
		out.URL.Path = "/v1/responses"
	case strings.HasPrefix(r.URL.Path, "/openai/deployments/") && strings.HasSuffix(r.URL.Path, "/embeddings") && strings.Count(r.URL.Path, "/") == 4:
		if !dated {
			fail(http.StatusNotFound, "404", "Resource not found")
			return
		}
		out.URL.Path = "/v1/embeddings"
	default:
		fail(http.StatusNotFound, "404", "Resource not found")
		return
	}
	out.URL.RawPath = ""
	a.next.ServeHTTP(w, out)
}

func (c *compat) client(route string, opts ...option.RequestOption) openai.Client {
	return openai.NewClient(append([]option.RequestOption{option.WithBaseURL("http://" + c.proc.Addr + "/" + route),
		option.WithAPIKey("client-key"), option.WithMaxRetries(0)}, opts...)...)
}

// statsLines are the binary's statistics lines so far for route, waiting
// up to 5 s for n of them (they leave in batches).
func (c *compat) statsLines(t *testing.T, route string, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var out []map[string]any
		sc := bufio.NewScanner(strings.NewReader(c.proc.Output.String()))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "request" && m["route"] == route {
				out = append(out, m)
			}
		}
		if len(out) >= n || time.Now().After(deadline) {
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stat is a statistics line's field by its dotted path
// ("ai.proxy.usage.prompt_tokens").
func stat(line map[string]any, path string) any {
	var v any = line
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func ctx30(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// weatherTools are the two tools the stubs' tools scenarios call.
func weatherTools() []openai.ChatCompletionToolUnionParam {
	fn := func(name string) openai.ChatCompletionToolUnionParam {
		return openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{Name: name,
			Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{}}})
	}
	return []openai.ChatCompletionToolUnionParam{fn("get_weather"), fn("get_time")}
}

// entraToken is what the local Entra ID endpoint issues.
const entraToken = "entra-access-token-0123456789"

// entraServer is a local Entra ID authority: OpenID metadata and a token
// endpoint for the client-credentials grant, over TLS as MSAL requires.
type entraServer struct {
	srv      *httptest.Server
	certFile string
	tokens   atomic.Int64
}

func newEntra(t *testing.T) *entraServer {
	e := &entraServer{}
	e.srv = httptest.NewTLSServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.srv.Close)
	e.certFile = filepath.Join(t.TempDir(), "entra.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.srv.Certificate().Raw})
	if err := os.WriteFile(e.certFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *entraServer) serve(w http.ResponseWriter, r *http.Request) {
	base := e.srv.URL
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration"):
		tenant := strings.Split(strings.Trim(r.URL.Path, "/"), "/")[0]
		json.NewEncoder(w).Encode(map[string]any{
			"token_endpoint":         base + "/" + tenant + "/oauth2/v2.0/token",
			"authorization_endpoint": base + "/" + tenant + "/oauth2/v2.0/authorize",
			"issuer":                 base + "/" + tenant + "/v2.0",
		})
	case strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token"):
		_ = r.ParseForm()
		if r.PostForm.Get("client_secret") != entraSecret || r.PostForm.Get("client_id") != "client-1" ||
			!strings.Contains(r.PostForm.Get("scope"), "https://cognitiveservices.azure.com/.default") || r.PostForm.Get("grant_type") != "client_credentials" {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]any{"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."})
			return
		}
		e.tokens.Add(1)
		json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": entraToken})
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}
