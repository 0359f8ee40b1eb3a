// Package failover drives ai-proxy-advanced end to end: the real binary,
// the stub's faults as targets, openai-go as the client, and two binaries
// sharing circuit state through moto's DynamoDB.
package failover

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/binary"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/motoserver"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
)

var moto *motoserver.Server

func TestMain(m *testing.M) {
	s, err := motoserver.Launch()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	moto = s
	code := m.Run()
	s.Close()
	binary.Cleanup()
	os.Exit(code)
}

// config is OpenAI's format as primary and secondary (the stub decides
// each one's behaviour by its model name).
func config(url string, balancer string) string {
	target := func(model string, weight int) string {
		return fmt.Sprintf(`
  - route_type: llm/v1/chat
    weight: %d
    auth: {header_name: Authorization, header_value: "Bearer sk-%s"}
    logging: {log_statistics: true}
    model: {provider: openai, name: %s, options: {upstream_url: "%s/v1/chat/completions"}}`, weight, model, model, url)
	}
	return `_format_version: "3.0"
routes:
  - name: chat
    paths: ["~/(?<model>[^/]+)/chat/completions$"]
plugins:
  - name: ai-proxy-advanced
    config:
      balancer: ` + balancer + `
      targets:` + strings.ReplaceAll(target("primary", 100)+target("secondary", 1), "\n", "\n    ") + "\n"
}

func client(p *binary.Process) openai.Client {
	return openai.NewClient(option.WithBaseURL("http://"+p.Addr+"/any"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
}

func upstream(t *testing.T) (*stub.Server, string) {
	s := stub.New()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL
}

const criteria = "[error, timeout, http_429, http_500, http_502, http_503, http_504, non_idempotent]"

// openai-go keeps getting whole answers, streamed and not, from the
// secondary while the primary fails in each way; the statistics line names
// every attempt and the answering target.
func TestClientKeepsAnswering(t *testing.T) {
	up, url := upstream(t)
	p := binary.Serve(t, config(url, "{algorithm: priority, read_timeout: 500, failover_criteria: "+criteria+"}"))
	c := client(p)
	for i, fault := range []string{"fault-429", "fault-429-bare", "fault-500", "fault-502", "fault-503", "fault-504", "fault-reset", "fault-hang", "fault-stream-error-first", ""} {
		up.SetFault("primary", fault)
		want := "secondary"
		if fault == "" {
			want = "primary"
		}
		var res *http.Response
		cc, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}, option.WithResponseInto(&res))
		if err != nil {
			t.Fatalf("%s: %v", fault, err)
		}
		if cc.Model != want || cc.Choices[0].Message.Content != "tok0 tok1 tok2 tok3 tok4 " || res.Header.Get("X-Kong-LLM-Model") != "openai/"+want {
			t.Fatalf("%s: answered by %q (%q): %q", fault, cc.Model, res.Header.Get("X-Kong-LLM-Model"), cc.Choices[0].Message.Content)
		}
		stream := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
		var acc openai.ChatCompletionAccumulator
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil {
			t.Fatalf("%s stream: %v", fault, err)
		}
		if acc.Model != want || acc.Choices[0].Message.Content != "tok0 tok1 tok2 tok3 tok4 " {
			t.Fatalf("%s stream: answered by %q: %q", fault, acc.Model, acc.Choices[0].Message.Content)
		}
		if fault != "" {
			line := `"target":"1:openai/secondary","attempts":[{"target":"0:openai/primary"`
			waitOutput(t, p, line, 2*(i+1))
		}
	}
}

// waitOutput waits until the binary's output holds s at least n times
// (statistics leave in batches, a little after the answer).
func waitOutput(t *testing.T, p *binary.Process, s string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(p.Output.String(), s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the output has %s %d times, want %d:\n%s", s, strings.Count(p.Output.String(), s), n, p.Output)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var tables atomic.Int64

// sharedTable makes a new table from the template's RateLimitTable and
// returns the environment that points a binary at it in moto.
func sharedTable(t *testing.T, prefix string) (string, []string) {
	name := prefix + "-" + strconv.FormatInt(tables.Add(1), 10)
	moto.CreateTemplateTable(t, "../../template.yaml", "RateLimitTable", name)
	return name, []string{"AIPROXY_RATE_LIMIT_TABLE=" + name, "AWS_ENDPOINT_URL_DYNAMODB=" + moto.Endpoint(),
		"AWS_REGION=" + motoserver.Region, "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null"}
}

// answeredBy asks p once, non-streamed, and returns the model that answered.
func answeredBy(t *testing.T, p *binary.Process) string {
	t.Helper()
	c := client(p)
	cc, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	if err != nil {
		t.Fatal(err)
	}
	return cc.Model
}

// Two processes, one table: once the first has opened the primary's
// circuit (max_fails 3), the second skips the primary without failing on
// it three times itself; when the primary answers again, each half-opens.
func TestCircuitSharedByTwoProcesses(t *testing.T) {
	up, url := upstream(t)
	name, env := sharedTable(t, "failover")
	doc := config(url, "{algorithm: priority, max_fails: 3, fail_timeout: 60000, failover_criteria: "+criteria+"}")
	a := binary.Serve(t, doc, env...)
	up.SetFault("primary", "fault-503")
	ask := func(p *binary.Process) string { return answeredBy(t, p) }
	for i := 0; i < 3; i++ {
		if m := ask(a); m != "secondary" {
			t.Fatalf("a: answered by %s", m)
		}
	}
	if up.Hits("primary") != 3 {
		t.Fatalf("primary hits %d", up.Hits("primary"))
	}
	waitOutput(t, a, "circuit opened", 1)
	waitItem(t, name, "health#chat|0:openai/primary", a)
	b := binary.Serve(t, doc, env...)
	for i := 0; i < 5; i++ {
		if m := ask(b); m != "secondary" {
			t.Fatalf("b: answered by %s", m)
		}
	}
	if up.Hits("primary") != 3 {
		t.Fatalf("b sent %d requests to the primary a had opened", up.Hits("primary")-3)
	}
}

// Two processes, one table, lowest-usage: the usage one process's answers
// add to a target's figure is in the other's view, so a new instance
// sends its first request to the target the fleet has used least, where
// on its own view (all figures 0, a tie) it would pick the first target.
func TestFiguresSharedByTwoProcesses(t *testing.T) {
	up, url := upstream(t)
	name, env := sharedTable(t, "figures")
	doc := strings.Replace(config(url, "{algorithm: lowest-usage, failover_criteria: "+criteria+"}"), "weight: 100", "weight: 1", 1)
	ask := func(p *binary.Process) string { return answeredBy(t, p) }
	// Alone, a fresh instance's tie goes to the first target.
	if m := ask(binary.Serve(t, doc)); m != "primary" {
		t.Fatalf("a lone fresh instance picked %s", m)
	}
	a := binary.Serve(t, doc, env...)
	if m := ask(a); m != "primary" {
		t.Fatalf("a: answered by %s", m)
	}
	waitItem(t, name, "health#chat|0:openai/primary w", a)
	b := binary.Serve(t, doc, env...)
	if m := ask(b); m != "secondary" {
		t.Fatalf("b's first request went to %s, which a had used; the secondary had no usage", m)
	}
	if up.Hits("primary") != 2 || up.Hits("secondary") != 1 {
		t.Fatalf("hits %d %d", up.Hits("primary"), up.Hits("secondary"))
	}
}

// waitItem waits until the table lists want (see scan): items are
// written off the request path.
func waitItem(t *testing.T, table, want string, p *binary.Process) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(scan(t, table), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the table lacks %q: %s\n%s", want, scan(t, table), p.Output)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// scan lists the table's items as their key, followed by " w" when the
// item holds figures.
func scan(t *testing.T, table string) string {
	out, err := moto.DynamoDB().Scan(context.Background(), &dynamodb.ScanInput{TableName: &table})
	if err != nil {
		t.Fatal(err)
	}
	var items []string
	for _, it := range out.Items {
		k, _ := it["pk"].(*types.AttributeValueMemberS)
		s := k.Value
		for attr := range it {
			if strings.HasPrefix(attr, "w") {
				s += " w"
				break
			}
		}
		items = append(items, s)
	}
	return strings.Join(items, ", ")
}
