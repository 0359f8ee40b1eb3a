// Package limits_test runs the proxy binary with rate-limiting and
// ai-rate-limiting-advanced plugins against moto's real DynamoDB API, with
// the official openai-go SDK as the client.
package limits_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/motoserver"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/syncbuf"
)

const (
	templatePath = "../../template.yaml"
	logicalID    = "RateLimitTable"
	teamAKey     = "team-a-key-0123456789"
	teamBKey     = "team-b-key-0123456789"
	// The stub's usage: 11 prompt tokens, one completion token per chunk
	// (5 by default).
	realTokens = stub.PromptTokens + 5
)

var (
	moto    *motoserver.Server
	binPath string
)

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "aiproxy-limits")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(dir)
	binPath = filepath.Join(dir, "aiproxy")
	cmd := exec.Command("go", "build", "-o", binPath, "../../functions/aiproxy")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return 1, fmt.Errorf("build: %v\n%s", err, out)
	}
	moto, err = motoserver.Launch()
	if err != nil {
		return 1, err
	}
	defer moto.Close()
	return m.Run(), nil
}

var tableSeq atomic.Int64

// table creates a table from template.yaml's RateLimitTable and returns its
// name and an endpoint that serializes requests to moto (see
// motoserver.Server.Serialized).
func table(t *testing.T) (name, endpoint string) {
	t.Helper()
	name = "limits-it-" + strconv.FormatInt(tableSeq.Add(1), 10)
	moto.CreateTemplateTable(t, templatePath, logicalID, name)
	return name, moto.Serialized(t)
}

// counters sums the counts of the table's items whose key starts with prefix
// (a plugin name).
func counters(t *testing.T, name, prefix string) float64 {
	t.Helper()
	out, err := moto.DynamoDB().Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, it := range out.Items {
		if !strings.HasPrefix(it["pk"].(*types.AttributeValueMemberS).Value, prefix) {
			continue
		}
		v, _ := strconv.ParseFloat(it["n"].(*types.AttributeValueMemberN).Value, 64)
		sum += v
	}
	return sum
}

// settled waits until the counters under prefix hold want: a request is
// settled after its answer has reached the client, so a client can be
// faster than the settlement.
func settled(t *testing.T, name, prefix string, want float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := counters(t, name, prefix)
		if math.Abs(got-want) < 1e-9 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the table holds %v under %q, want %v", got, prefix, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// document is a decK file with key-auth, two consumers and the stub as
// upstream; plugins is YAML for more top-level plugin entries and teamA for
// team-a's own plugins (each indented as list items under "plugins:").
func document(upstream, plugins, teamA string) string {
	if teamA == "" {
		teamA = "[]"
	}
	return `
_format_version: "3.0"
routes:
  - name: chat
    paths: ["~/(?<model>gpt-4o-mini)/chat/completions$"]
    methods: [POST]
plugins:
  - name: key-auth
    config: {key_names: [apikey]}
  - name: ai-proxy
    config:
      route_type: llm/v1/chat
      auth: {header_name: Authorization, header_value: Bearer sk-upstream-0123}
      model:
        provider: openai
        name: "$(uri_captures.model)"
        options: {upstream_url: ` + upstream + `/v1/chat/completions, input_cost: 1000, output_cost: 2000}
` + plugins + `
consumers:
  - username: team-a
    keyauth_credentials: [{key: ` + teamAKey + `}]
    plugins: ` + teamA + `
  - username: team-b
    keyauth_credentials: [{key: ` + teamBKey + `}]
`
}

type proxyProc struct {
	url    string
	output *syncbuf.Buffer
}

// startProxy runs the binary with doc as its config, counting in table
// through endpoint ("" for no table).
func startProxy(t *testing.T, doc, tableName, endpoint string) *proxyProc {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(),
		"AIPROXY_CONFIG_FILE=" + cfg, "AIPROXY_LISTEN=" + addr, "AIPROXY_METRICS=on",
		"AWS_REGION=" + motoserver.Region, "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	}
	if tableName != "" {
		env = append(env, "AIPROXY_RATE_LIMIT_TABLE="+tableName, "AWS_ENDPOINT_URL_DYNAMODB="+endpoint)
	}
	p := &proxyProc{url: "http://" + addr, output: &syncbuf.Buffer{}}
	cmd := exec.Command(binPath)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = p.output, p.output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return p
		}
		select {
		case err := <-done:
			t.Fatalf("proxy exited: %v\n%s", err, p.output)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy not listening:\n%s", p.output)
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitOutput waits until the proxy's output holds s: statistics and
// metrics leave in batches, a little after the answer.
func (p *proxyProc) waitOutput(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p.output.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("the proxy's output lacks %s:\n%s", s, p.output)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// upstream starts the stub.
func upstream(t *testing.T) (*stub.Server, string) {
	t.Helper()
	st := stub.New()
	srv := httptest.NewServer(st)
	t.Cleanup(srv.Close)
	return st, srv.URL
}

// client is the SDK as a team uses it, without retries so that each call
// is one request.
func (p *proxyProc) client(key string, opts ...option.RequestOption) openai.Client {
	return openai.NewClient(append([]option.RequestOption{
		option.WithBaseURL(p.url + "/gpt-4o-mini"),
		option.WithAPIKey(key),
		option.WithMaxRetries(0),
	}, opts...)...)
}

// chat sends one chat completion and returns the answer's headers.
func chat(p *proxyProc, key string, maxTokens int64, opts ...option.RequestOption) (http.Header, error) {
	var resp *http.Response
	client := p.client(key, append(opts, option.WithResponseInto(&resp))...)
	params := openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello")}}
	if maxTokens > 0 {
		params.MaxTokens = openai.Int(maxTokens)
	}
	_, err := client.Chat.Completions.New(context.Background(), params)
	if resp == nil {
		return nil, err
	}
	return resp.Header, err
}

// apiError returns the SDK's error, failing if err is something else.
func apiError(t *testing.T, err error) *openai.Error {
	t.Helper()
	var e *openai.Error
	if !errors.As(err, &e) {
		t.Fatalf("want an API error, got %v", err)
	}
	return e
}

// concurrently runs f n times at once and counts the nil errors.
func concurrently(n int, f func() error) (ok int, errs []error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			err := f()
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				ok++
			} else {
				errs = append(errs, err)
			}
		})
	}
	close(start)
	wg.Wait()
	return ok, errs
}
