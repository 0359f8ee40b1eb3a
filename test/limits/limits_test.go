package limits_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/motoserver"
)

const (
	rlPrefix = "rate-limiting|"
	aiPrefix = "ai-rate-limiting-advanced|"
)

// A request limit per consumer: team-a's fourth request of the day is
// refused with OpenAI's 429 and nothing goes upstream; team-b counts apart.
func TestRequestLimitPerConsumer(t *testing.T) {
	st, up := upstream(t)
	name, endpoint := table(t)
	p := startProxy(t, document(up, `
  - name: rate-limiting
    config: {day: 3, policy: dynamodb}`, ""), name, endpoint)
	for i := range 3 {
		h, err := chat(p, teamAKey, 0)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		want := strconv.Itoa(2 - i)
		if h.Get("X-RateLimit-Limit-Day") != "3" || h.Get("X-RateLimit-Remaining-Day") != want || h.Get("RateLimit-Remaining") != want || h.Get("RateLimit-Reset") == "" {
			t.Fatalf("request %d headers: %v", i, h)
		}
	}
	h, err := chat(p, teamAKey, 0)
	e := apiError(t, err)
	if e.StatusCode != http.StatusTooManyRequests || e.Code != "rate_limit_exceeded" || e.Type != "requests" || !strings.Contains(e.Message, "API rate limit exceeded") {
		t.Fatalf("fourth request: %d %s %s %q", e.StatusCode, e.Code, e.Type, e.Message)
	}
	if ra, _ := strconv.Atoi(h.Get("Retry-After")); ra < 1 || h.Get("X-RateLimit-Remaining-Day") != "0" {
		t.Fatalf("refusal headers: %v", h)
	}
	if n := len(st.Requests()); n != 3 {
		t.Fatalf("the upstream received %d requests, want 3", n)
	}
	for i := range 3 {
		if _, err := chat(p, teamBKey, 0); err != nil {
			t.Fatalf("team-b request %d: %v", i, err)
		}
	}
	if got := counters(t, name, rlPrefix); got != 6 {
		t.Fatalf("the table counts %v requests, want 6", got)
	}
	// The refusal is a metric for team-a.
	p.waitOutput(t, `"Consumer":"team-a","RateLimitStoreErrors":0,"RateLimited":1`)
}

// reserved reads the worst case of a request from the first answer's
// headers: what the limit lost, since nothing was counted before.
func reserved(t *testing.T, h http.Header, rule string, limit float64) float64 {
	t.Helper()
	rem, err := strconv.ParseFloat(h.Get("X-AI-RateLimit-Remaining-"+rule), 64)
	if err != nil {
		t.Fatalf("no X-AI-RateLimit-Remaining-%s in %v", rule, h)
	}
	return limit - rem
}

// spend sends requests as team-a until one is refused, each after the one
// before has settled to perUse in the table, and returns how many were
// served and the first answer's headers.
func spend(t *testing.T, p *proxyProc, table string, maxTokens int64, perUse float64) (served int, first http.Header, refusal *openai.Error) {
	t.Helper()
	for range 50 {
		h, err := chat(p, teamAKey, maxTokens)
		if err != nil {
			return served, first, apiError(t, err)
		}
		if first == nil {
			first = h
		}
		served++
		settled(t, table, aiPrefix, perUse*float64(served))
	}
	t.Fatal("never refused")
	return
}

// A token budget on team-a alone (a consumer-scoped plugin): each request
// reserves its worst case, settles to the stub's real 16 tokens, and the
// request that would not fit is refused.
func TestTokenLimitPerConsumer(t *testing.T) {
	_, up := upstream(t)
	name, endpoint := table(t)
	p := startProxy(t, document(up, "", `
      - name: ai-rate-limiting-advanced
        config:
          llm_providers: [{name: openai, limit: [200], window_size: [86400]}]
          window_type: fixed
          strategy: dynamodb`), name, endpoint)
	served, first, refusal := spend(t, p, name, 50, realTokens)
	worst := reserved(t, first, "86400-openai", 200)
	if worst < 50 || worst > 120 {
		t.Fatalf("a request with max_tokens 50 reserved %v tokens", worst)
	}
	// Served while the settled spend plus one worst case fit.
	if float64(realTokens*(served-1))+worst > 200 || float64(realTokens*served)+worst <= 200 {
		t.Fatalf("served %d requests of %d real tokens with a worst case of %v in a limit of 200", served, realTokens, worst)
	}
	if refusal.StatusCode != 429 || refusal.Code != "rate_limit_exceeded" || refusal.Type != "tokens" {
		t.Fatalf("refusal %d %s %s", refusal.StatusCode, refusal.Code, refusal.Type)
	}
	settled(t, name, aiPrefix, float64(realTokens*served))
	// team-b has no budget of its own, and no headers for one.
	h, err := chat(p, teamBKey, 50)
	if err != nil || h.Get("X-AI-RateLimit-Remaining-86400-openai") != "" {
		t.Fatalf("team-b: %v, headers %v", err, h)
	}
}

// A dollar budget: tokens_count_strategy cost with the ai-proxy's
// input_cost/output_cost (1000 and 2000 per million tokens here).
func TestCostBudget(t *testing.T) {
	_, up := upstream(t)
	name, endpoint := table(t)
	p := startProxy(t, document(up, "", `
      - name: ai-rate-limiting-advanced
        config:
          llm_providers: [{name: openai, limit: [0.2], window_size: [2592000]}]
          tokens_count_strategy: cost
          strategy: dynamodb`), name, endpoint)
	realCost := (11*1000.0 + 5*2000.0) / 1e6 // 0.021
	served, first, refusal := spend(t, p, name, 20, realCost)
	worst := reserved(t, first, "2592000-openai", 0.2)
	if worst < 20*2000.0/1e6 {
		t.Fatalf("reserved $%v, less than the completion alone", worst)
	}
	// Sums of dollars are floats: at exactly the limit, rounding decides,
	// so both sides allow the same 1e-9.
	if realCost*float64(served-1)+worst > 0.2+1e-9 || realCost*float64(served)+worst < 0.2-1e-9 {
		t.Fatalf("served %d requests costing $%v with a worst case of $%v in a budget of $0.2", served, realCost, worst)
	}
	if refusal.StatusCode != 429 {
		t.Fatalf("refusal %d", refusal.StatusCode)
	}
	settled(t, name, aiPrefix, realCost*float64(served))
	// What is left of team-a's budget is a metric.
	p.waitOutput(t, `"Consumer":"team-a","Limit":"ai-rate-limiting-advanced 2592000-openai"`)
}

// Two proxy processes (two Lambda instances) hold one limit together.
func TestTwoProcessesShareOneLimit(t *testing.T) {
	st, up := upstream(t)
	name, endpoint := table(t)
	doc := document(up, `
  - name: rate-limiting
    config: {day: 6, policy: dynamodb}`, "")
	p1 := startProxy(t, doc, name, endpoint)
	p2 := startProxy(t, doc, name, endpoint)
	served := 0
	for i := range 10 {
		p := p1
		if i%2 == 1 {
			p = p2
		}
		if _, err := chat(p, teamAKey, 0); err == nil {
			served++
		} else if apiError(t, err).StatusCode != 429 {
			t.Fatal(err)
		}
	}
	if served != 6 || len(st.Requests()) != 6 {
		t.Fatalf("served %d (upstream saw %d) across two processes with a limit of 6", served, len(st.Requests()))
	}
}

// Fifty requests at once, from two processes, against a budget with room
// for only some: what is served never exceeds the budget by more than one
// reservation, and once all are settled the table holds the real usage.
func TestConcurrentRequestsAtTheEdge(t *testing.T) {
	st, up := upstream(t)
	name, endpoint := table(t)
	doc := document(up, "", `
      - name: ai-rate-limiting-advanced
        config:
          llm_providers: [{name: openai, limit: [1000], window_size: [86400]}]
          window_type: fixed
          strategy: dynamodb`)
	p1 := startProxy(t, doc, name, endpoint)
	p2 := startProxy(t, doc, name, endpoint)
	// A first request tells the worst case (and settles before the rest).
	h, err := chat(p1, teamAKey, 50)
	if err != nil {
		t.Fatal(err)
	}
	worst := reserved(t, h, "86400-openai", 1000)
	settled(t, name, aiPrefix, realTokens)
	var i atomic.Int64
	served, errs := concurrently(50, func() error {
		p := p1
		if i.Add(1)%2 == 1 {
			p = p2
		}
		// The stub holds each answer, so that all reservations overlap.
		_, err := chat(p, teamAKey, 50, option.WithHeader("X-Stub-Delay", "300ms"))
		return err
	})
	for _, err := range errs {
		if e := apiError(t, err); e.StatusCode != 429 {
			t.Fatalf("error %v", err)
		}
	}
	served++ // the probe
	// While the 50 overlapped, the probe had settled to its real usage.
	if bound := (1000-realTokens)/worst + 1; float64(served-1) > bound {
		t.Fatalf("served %d of 50 with a worst case of %v in a budget of 1000", served-1, worst)
	}
	if served < 2 {
		t.Fatal("nothing served")
	}
	settled(t, name, aiPrefix, float64(realTokens*served))
	if len(st.Requests()) != served {
		t.Fatalf("the upstream saw %d requests, %d served", len(st.Requests()), served)
	}
}

// A stream settles to the usage of its final chunk, which the client did
// not ask for.
func TestStreamSettlesToRealUsage(t *testing.T) {
	p, name := settlingProxy(t)
	client := p.client(teamAKey, option.WithHeader("X-Stub-Chunks", "7"))
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello")}, MaxTokens: openai.Int(500)})
	chunks := 0
	for stream.Next() {
		if c := stream.Current(); c.Usage.TotalTokens != 0 {
			t.Fatal("the client got a usage chunk it did not ask for")
		}
		chunks++
	}
	if err := stream.Err(); err != nil || chunks < 7 {
		t.Fatalf("stream: %d chunks, %v", chunks, err)
	}
	// Settlement follows the end of the stream, after the client has it.
	settled(t, name, aiPrefix, 11+7)
}

// A stream without a usage chunk settles to Kong's estimate, not to its
// worst case: "Hello" is 1 word x 1.8 = 2 prompt tokens, "tok0 ... tok6"
// stripped is 34 bytes / 4 = 9 completion tokens.
func TestStreamWithoutUsageSettlesToEstimate(t *testing.T) {
	p, name := settlingProxy(t)
	client := p.client(teamAKey, option.WithHeader("X-Stub-Chunks", "7"), option.WithHeader("X-Stub-Answer", "no-usage"))
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello")}, MaxTokens: openai.Int(500)})
	for stream.Next() {
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	settled(t, name, aiPrefix, 2+9)
}

// Settlement never undercounts: an upstream error gives the tokens back
// (OpenAI bills none), a stream the client abandons keeps its whole
// reservation (the upstream may have generated it all).
func TestFailuresSettleSafely(t *testing.T) {
	p, name := settlingProxy(t)
	_, err := chat(p, teamAKey, 100, option.WithHeader("X-Stub-Status", "500"))
	if e := apiError(t, err); e.StatusCode != 500 {
		t.Fatalf("status %d", e.StatusCode)
	}
	settled(t, name, aiPrefix, 0)

	var resp *http.Response
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := p.client(teamAKey, option.WithHeader("X-Stub-Chunks", "50"), option.WithHeader("X-Stub-Interval", "20ms"), option.WithResponseInto(&resp))
	stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello")}, MaxTokens: openai.Int(300)})
	if !stream.Next() {
		t.Fatalf("no first chunk: %v", stream.Err())
	}
	cancel()
	for stream.Next() {
	}
	worst := reserved(t, resp.Header, "86400-openai", 100000)
	// The request's log line is written after its settlement.
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(p.output.String(), `"msg":"request"`) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no log line for the abandoned stream:\n%s", p.output)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := counters(t, name, aiPrefix); got != worst {
		t.Fatalf("an abandoned stream settled to %v, want its reservation %v", got, worst)
	}
}

// A window rolls over: refused in one second, served in the next.
func TestWindowsRollOver(t *testing.T) {
	_, up := upstream(t)
	name, endpoint := table(t)
	p := startProxy(t, document(up, `
  - name: rate-limiting
    config: {second: 2, policy: dynamodb}`, ""), name, endpoint)
	var reset int
	for range 10 {
		h, err := chat(p, teamAKey, 0)
		if err != nil {
			apiError(t, err)
			reset, _ = strconv.Atoi(h.Get("Retry-After"))
			break
		}
	}
	if reset != 1 {
		t.Fatalf("never refused with Retry-After 1 (got %d)", reset)
	}
	time.Sleep(time.Duration(reset) * time.Second)
	if _, err := chat(p, teamAKey, 0); err != nil {
		t.Fatalf("after Retry-After: %v", err)
	}
}

// DynamoDB unreachable: fault_tolerant true serves, false refuses with 503;
// either way one warning, not one per request.
func TestDynamoDBDown(t *testing.T) {
	down := motoserver.NewStopped(t)
	for _, tolerant := range []bool{true, false} {
		t.Run("fault_tolerant="+strconv.FormatBool(tolerant), func(t *testing.T) {
			st, up := upstream(t)
			p := startProxy(t, document(up, `
  - name: rate-limiting
    config: {minute: 100, policy: dynamodb, fault_tolerant: `+strconv.FormatBool(tolerant)+`}`, ""), "limits", down.Endpoint())
			for range 5 {
				_, err := chat(p, teamAKey, 0)
				if tolerant && err != nil {
					t.Fatalf("fault-tolerant: %v", err)
				}
				if !tolerant {
					if e := apiError(t, err); e.StatusCode != 503 || e.Code != "rate_limit_unavailable" {
						t.Fatalf("refusal %d %s", e.StatusCode, e.Code)
					}
				}
			}
			if want := map[bool]int{true: 5, false: 0}[tolerant]; len(st.Requests()) != want {
				t.Fatalf("upstream saw %d requests, want %d", len(st.Requests()), want)
			}
			if n := strings.Count(p.output.String(), "rate-limit store unavailable"); n != 1 {
				t.Fatalf("%d warnings for one outage:\n%s", n, p.output)
			}
		})
	}
}

// A bad field in a rate-limiting plugin stops the binary with its path.
func TestConfigErrorNamesTheField(t *testing.T) {
	doc := document("http://127.0.0.1:9", `
  - name: rate-limiting
    config: {minute: 10, hour: 5, policy: redis}`, "")
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binPath)
	cmd.Env = []string{"AIPROXY_CONFIG_FILE=" + cfg, "AIPROXY_LISTEN=" + freeAddr(t)}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatal("the binary started with a bad config")
	}
	for _, want := range []string{"plugins[2].config.hour: the limit for hour (5) cannot be lower than the limit for minute (10)", `plugins[2].config.policy: policy "redis" is not available here`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// settlingProxy is the binary with team-a on a daily token budget too large
// to refuse anything, for tests that watch what a request settles to.
func settlingProxy(t *testing.T) (*proxyProc, string) {
	t.Helper()
	_, up := upstream(t)
	name, endpoint := table(t)
	return startProxy(t, document(up, "", `
      - name: ai-rate-limiting-advanced
        config:
          llm_providers: [{name: openai, limit: [100000], window_size: [86400]}]
          strategy: dynamodb`), name, endpoint), name
}
