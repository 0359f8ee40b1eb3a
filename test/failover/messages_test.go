package failover

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/anthropicstub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/bedrockstub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/binary"
)

// messagesClientKey is the key-auth key the Anthropic client sends in
// x-api-key, as Claude Code does.
const messagesClientKey = "claude-code-key-0123456789"

// messagesConfig is a decK file with one ai-proxy-advanced route per case,
// each llm_format: anthropic with key-auth, its targets the Anthropic test
// server (native relay), the real Bedrock driver against the Bedrock test
// server (native InvokeModel) and the OpenAI stub (the chat hub). Each
// target's model_aliases turn the client's model name into the stub
// scenario that target plays; priority: the heavier target first.
//
//	anthropic-first  Anthropic, then Bedrock; a token budget (total_tokens)
//	bedrock-first    Bedrock, then Anthropic
//	hub              the OpenAI stub twice (fault-503, then a good one)
func messagesConfig(anthropicURL, openaiURL string) string {
	anth := func(weight int, aliases string) string {
		return fmt.Sprintf(`
      - route_type: llm/v1/chat
        weight: %d
        auth: {header_name: x-api-key, header_value: %s}
        logging: {log_statistics: true}
        model_aliases: {%s}
        model: {provider: anthropic, options: {anthropic_version: "2023-06-01", upstream_url: "%s/v1/messages"}}`, weight, anthropicstub.DefaultKey, aliases, anthropicURL)
	}
	bedrock := func(weight int, aliases string) string {
		return fmt.Sprintf(`
      - route_type: llm/v1/chat
        weight: %d
        logging: {log_statistics: true}
        model_aliases: {%s}
        model: {provider: bedrock, options: {bedrock: {aws_region: us-east-1}}}`, weight, aliases)
	}
	hub := func(weight int, model string) string {
		return fmt.Sprintf(`
      - route_type: llm/v1/chat
        weight: %d
        auth: {header_name: Authorization, header_value: "Bearer sk-%s"}
        logging: {log_statistics: true}
        model_aliases: {"*": %s}
        model: {provider: openai, options: {upstream_url: "%s/v1/chat/completions"}}`, weight, model, model, openaiURL)
	}
	doc := "_format_version: \"3.0\"\nroutes:\n"
	plugins := `  - name: key-auth
    config: {key_names: [apikey]}
  - name: ai-rate-limiting-advanced
    route: anthropic-first
    config:
      llm_providers: [{name: openai, limit: [1000000], window_size: [86400]}]
      window_type: fixed
`
	for _, r := range []struct{ name, targets string }{
		{"anthropic-first", anth(100, `claude-429: stub-error-429, claude-529: stub-error-529, claude-event: stub-event, claude-lockstep: stub-error-529, claude-budget: stub-error-500, "*": stub-answer`) +
			bedrock(1, `claude-lockstep: stub.text.lockstep, "*": stub.text`)},
		{"bedrock-first", bedrock(100, `claude-throttle: stub.error-throttle, claude-stream-throttle: `+throttleInStream+`, claude-midstream: stub.error-midstream, claude-allfail: stub.error-throttle, "*": stub.text`) +
			anth(1, `claude-allfail: stub-error-529, "*": stub-answer`)},
		{"hub", hub(100, "fault-503") + hub(1, "secondary")},
	} {
		doc += "  - {name: " + r.name + ", paths: [/" + r.name + "]}\n"
		plugins += `  - name: ai-proxy-advanced
    route: ` + r.name + `
    config:
      llm_format: anthropic
      balancer: {algorithm: priority, retries: 1, failover_criteria: ` + criteria + `}
      targets:` + r.targets + "\n"
	}
	return doc + "plugins:\n" + plugins + "consumers:\n  - username: claude-code\n    keyauth_credentials: [{key: " + messagesClientKey + "}]\n"
}

// Claude Code's client, anthropic-sdk-go, against ai-proxy-advanced with
// llm_format: anthropic: whichever target fails before the first byte
// (a status, an error event inside the stream before content, an
// exception inside Bedrock's stream), the other answers, streamed and
// not; after content, a failure is Anthropic's event: error; when every
// target fails, the SDK gets the last one's error in Anthropic's shape;
// the budget is charged once, to the answering target's usage.
func TestMessagesAcrossTargets(t *testing.T) {
	as := anthropicstub.New("")
	asrv := httptest.NewServer(as)
	t.Cleanup(asrv.Close)
	up, openaiURL := upstream(t)
	br := bedrockstub.New(bedrockstub.Options{})
	br.Script(func(r bedrockstub.Request) *bedrockstub.Scenario {
		if r.ModelID != throttleInStream {
			return nil
		}
		// Streamed: message_start, then a ThrottlingException: no
		// content has reached the client yet.
		sc := bedrockstub.Scenario{Error: bedrockstub.ErrThrottling("Too many tokens, please wait before trying again.")}
		if r.Operation == "InvokeModelWithResponseStream" {
			sc = bedrockstub.Scenario{StreamError: sc.Error}
		}
		return &sc
	})
	endpoint := br.ListenT(t)
	p := binary.Serve(t, messagesConfig(asrv.URL, openaiURL), br.Env(endpoint)...)
	p.NeverLogs(t, br.Options().SecretAccessKey, messagesClientKey)
	client := func(route string) anthropic.Client {
		return anthropic.NewClient(aoption.WithBaseURL("http://"+p.Addr+"/"+route), aoption.WithAPIKey(messagesClientKey), aoption.WithMaxRetries(0))
	}
	bedrockText := strings.Join([]string{bedrockstub.Word(0), bedrockstub.Word(1), bedrockstub.Word(2), bedrockstub.Word(3), bedrockstub.Word(4)}, "")
	anthropicText := "Hello from stub-answer."
	// ask asks route for model once non-streamed and once streamed, and
	// checks that target (X-Kong-LLM-Model) answered both with want.
	ask := func(t *testing.T, route, model, target, want string) {
		t.Helper()
		c := client(route)
		var res *http.Response
		m, err := c.Messages.New(msgCtx(t), askParams(model), aoption.WithResponseInto(&res))
		if err != nil {
			t.Fatalf("non-streamed: %v", err)
		}
		if got := res.Header.Get("X-Kong-LLM-Model"); got != target || msgText(m) != want || m.StopReason != "end_turn" {
			t.Fatalf("non-streamed: answered by %q: %q %q", got, msgText(m), m.StopReason)
		}
		s := c.Messages.NewStreaming(msgCtx(t), askParams(model), aoption.WithResponseInto(&res))
		var acc anthropic.Message
		var types []string
		for s.Next() {
			types = append(types, s.Current().Type)
			if err := acc.Accumulate(s.Current()); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Err(); err != nil {
			t.Fatalf("streamed: %v", err)
		}
		if got := res.Header.Get("X-Kong-LLM-Model"); got != target || msgText(&acc) != want || acc.StopReason != "end_turn" ||
			types[0] != "message_start" || types[len(types)-1] != "message_stop" {
			t.Fatalf("streamed: answered by %q: %q %q, events %v", got, msgText(&acc), acc.StopReason, types)
		}
	}
	// attempts waits for n statistics lines naming target as the answer
	// after a failed attempt on first, with its status and outcome.
	attempts := func(t *testing.T, target, first string, status int, outcome string, n int) {
		t.Helper()
		waitOutput(t, p, fmt.Sprintf(`"target":%q,"attempts":[{"target":%q,"status":%d,"outcome":%q`, target, first, status, outcome), n)
	}

	t.Run("anthropic 429 and 529, bedrock answers", func(t *testing.T) {
		ask(t, "anthropic-first", "claude-429", "bedrock/stub.text", bedrockText)
		attempts(t, "1:bedrock/(aliases)", "0:anthropic/(aliases)", 429, "http_429", 2)
		ask(t, "anthropic-first", "claude-529", "bedrock/stub.text", bedrockText)
		attempts(t, "1:bedrock/(aliases)", "0:anthropic/(aliases)", 529, "http_503", 2)
		// The Anthropic server got its own key and version, never the
		// client's key.
		if h := as.Last().Header; h.Get("X-Api-Key") != anthropicstub.DefaultKey || h.Get("Anthropic-Version") == "" {
			t.Fatalf("the Anthropic server got %v", h)
		}
	})
	t.Run("anthropic error event before content, bedrock answers", func(t *testing.T) {
		as.Next(anthropicstub.Scenario{Ping: true, StreamError: &anthropicstub.APIError{Type: "overloaded_error", Message: "Overloaded"}})
		m, _ := streamMsg(t, client("anthropic-first"), askParams("claude-event"))
		if msgText(m) != bedrockText {
			t.Fatalf("answer %q", msgText(m))
		}
		attempts(t, "1:bedrock/(aliases)", "0:anthropic/(aliases)", 502, "error", 1)
	})
	t.Run("bedrock throttled, before and inside the stream; anthropic answers", func(t *testing.T) {
		ask(t, "bedrock-first", "claude-throttle", "anthropic/stub-answer", anthropicText)
		attempts(t, "1:anthropic/(aliases)", "0:bedrock/(aliases)", 429, "http_429", 2)
		m, _ := streamMsg(t, client("bedrock-first"), askParams("claude-stream-throttle"))
		if msgText(m) != anthropicText {
			t.Fatalf("answer %q", msgText(m))
		}
		// A throttle inside the stream is http_429 (attempt status 429),
		// as on chat routes: the third such line.
		attempts(t, "1:anthropic/(aliases)", "0:bedrock/(aliases)", 429, "http_429", 3)
		if last := br.Last(); last.Operation != "InvokeModelWithResponseStream" || last.ModelID != throttleInStream {
			t.Fatalf("bedrock got %s %s", last.Operation, last.ModelID)
		}
	})
	t.Run("the chat hub fails over too", func(t *testing.T) {
		ask(t, "hub", "claude-any", "openai/secondary", "tok0 tok1 tok2 tok3 tok4 ")
		attempts(t, "1:openai/(aliases)", "0:openai/(aliases)", 503, "http_503", 2)
	})
	t.Run("after content, event: error and no second answer", func(t *testing.T) {
		before := len(as.Requests())
		c := client("bedrock-first")
		s := c.Messages.NewStreaming(msgCtx(t), askParams("claude-midstream"))
		var text string
		for s.Next() {
			if ev := s.Current(); ev.Type == "content_block_delta" {
				text += ev.Delta.Text
			}
		}
		var ae *anthropic.Error
		if !errors.As(s.Err(), &ae) || !strings.Contains(ae.Error(), "The model stream was interrupted") || !strings.HasPrefix(text, bedrockstub.Word(0)) {
			t.Fatalf("text %q then %v", text, s.Err())
		}
		if n := len(as.Requests()) - before; n != 0 {
			t.Fatalf("the secondary was asked %d times after content had been sent", n)
		}
	})
	t.Run("every target fails: the last one's error, Anthropic-shaped", func(t *testing.T) {
		c := client("bedrock-first")
		_, err := c.Messages.New(msgCtx(t), askParams("claude-allfail"))
		var ae *anthropic.Error
		if !errors.As(err, &ae) || ae.StatusCode != 529 || ae.Type() != "overloaded_error" || !strings.Contains(ae.Error(), "Overloaded") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("count_tokens: the target that counts, else 404", func(t *testing.T) {
		c := client("bedrock-first")
		n, err := c.Messages.CountTokens(msgCtx(t), anthropic.MessageCountTokensParams{Model: "claude-count",
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("one two three"))}})
		if err != nil || n.InputTokens != 3 || br.Last().Operation != "CountTokens" {
			t.Fatalf("count %+v, %v (%s)", n, err, br.Last().Operation)
		}
		hits := len(up.Requests())
		hub := client("hub")
		_, err = hub.Messages.CountTokens(msgCtx(t), anthropic.MessageCountTokensParams{Model: "claude-count",
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("one two three"))}})
		var ae *anthropic.Error
		if !errors.As(err, &ae) || ae.StatusCode != 404 || ae.Type() != "not_found_error" || len(up.Requests()) != hits {
			t.Fatalf("hub count: %v", err)
		}
	})
	t.Run("streamed through the chain: each event as the answering target sends it", func(t *testing.T) {
		// The secondary's stream is lockstep: message_start goes at once,
		// each later event only after a Step. The proxy holds the opening
		// until content, so two Steps (the empty text block's start, the
		// first delta) let the client see its first text while the stub
		// has not been allowed to write the second word.
		br.Step()
		br.Step()
		c := client("anthropic-first")
		s := c.Messages.NewStreaming(msgCtx(t), askParams("claude-lockstep"))
		var text string
		for text == "" && s.Next() {
			if ev := s.Current(); ev.Type == "content_block_delta" {
				text += ev.Delta.Text
			}
		}
		if text != bedrockstub.Word(0) {
			t.Fatalf("first text %q, err %v", text, s.Err())
		}
		for range 20 {
			br.Step() // the remaining deltas and the end
		}
		for s.Next() {
			if ev := s.Current(); ev.Type == "content_block_delta" {
				text += ev.Delta.Text
			}
		}
		br.DrainSteps()
		if s.Err() != nil || text != bedrockText || br.Stalled() != 0 {
			t.Fatalf("text %q, err %v, stalled %d", text, s.Err(), br.Stalled())
		}
	})
	t.Run("the budget is charged once, to the answering target's usage", func(t *testing.T) {
		// Each request reserves the same worst case; the remaining budget
		// an answer reports is what the earlier settled requests left
		// minus its own reservation. So two requests apart is exactly the
		// first one's settled usage: the answering target's, charged once
		// (a failed attempt or a second reservation would show).
		c := client("anthropic-first")
		remaining := func(m *anthropic.Message, res *http.Response) (float64, int64) {
			t.Helper()
			v, err := strconv.ParseFloat(res.Header.Get("X-AI-RateLimit-Remaining-86400-openai"), 64)
			if err != nil {
				t.Fatalf("no budget header in %v", res.Header)
			}
			return v, m.Usage.InputTokens + m.Usage.OutputTokens
		}
		var res *http.Response
		m, err := c.Messages.New(msgCtx(t), askParams("claude-budget"), aoption.WithResponseInto(&res))
		if err != nil {
			t.Fatal(err)
		}
		r1, used := remaining(m, res)
		// Settled before its statistics line leaves.
		attempts(t, "1:bedrock/(aliases)", "0:anthropic/(aliases)", 500, "http_500", 1)
		m, err = c.Messages.New(msgCtx(t), askParams("claude-budget"), aoption.WithResponseInto(&res))
		if err != nil {
			t.Fatal(err)
		}
		r2, _ := remaining(m, res)
		if used == 0 || r1-r2 != float64(used) {
			t.Fatalf("the budget fell by %v between two answers; the first used %d tokens", r1-r2, used)
		}
	})
}

func msgCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return c
}

func askParams(model string) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{Model: anthropic.Model(model), MaxTokens: 256,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}}
}

func msgText(m *anthropic.Message) string {
	var b strings.Builder
	for _, c := range m.Content {
		if c.Type == "text" {
			b.WriteString(c.Text)
		}
	}
	return b.String()
}

func streamMsg(t *testing.T, c anthropic.Client, p anthropic.MessageNewParams) (*anthropic.Message, []string) {
	t.Helper()
	s := c.Messages.NewStreaming(msgCtx(t), p)
	var m anthropic.Message
	var types []string
	for s.Next() {
		types = append(types, s.Current().Type)
		if err := m.Accumulate(s.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	return &m, types
}
