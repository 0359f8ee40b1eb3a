package providers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"go.yaml.in/yaml/v3"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/anthropicstub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/bedrockstub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/binary"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/coherestub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/geministub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/ollamastub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
)

// providersExample is the config a user starts from: one route per
// provider.
const providersExample = "../../infra/examples/providers.yaml"

const (
	openaiKey    = "sk-openai-e2e-31337"
	allClientKey = "team-a-client-key-8c1d"
)

// exampleForTests is the example with each SSM reference turned into an
// environment reference ({vault://ssm/aiproxy/a/b} → {vault://env/a-b},
// i.e. the variable A_B) and each route's upstream_url set from
// upstreams. Every ai-proxy route of the example must be in upstreams
// ("" for one that needs none), so that a route added to the example
// without a case here fails.
func exampleForTests(t *testing.T, upstreams map[string]string) string {
	t.Helper()
	data, err := os.ReadFile(providersExample)
	if err != nil {
		t.Fatal(err)
	}
	data = regexp.MustCompile(`\{vault://ssm/aiproxy/([^}]+)\}`).ReplaceAllFunc(data, func(ref []byte) []byte {
		name := bytes.TrimSuffix(bytes.TrimPrefix(ref, []byte("{vault://ssm/aiproxy/")), []byte("}"))
		return []byte("{vault://env/" + strings.ReplaceAll(string(name), "/", "-") + "}")
	})
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range doc["plugins"].([]any) {
		pm := p.(map[string]any)
		if pm["name"] != "ai-proxy" {
			continue
		}
		route, _ := pm["route"].(string)
		u, ok := upstreams[route]
		if !ok {
			t.Fatalf("the example's route %q has no case in this test", route)
		}
		seen[route] = true
		if u == "" {
			continue
		}
		model := pm["config"].(map[string]any)["model"].(map[string]any)
		opts, _ := model["options"].(map[string]any)
		if opts == nil {
			opts = map[string]any{}
			model["options"] = opts
		}
		opts["upstream_url"] = u
	}
	for r := range upstreams {
		if !seen[r] {
			t.Fatalf("the example has no route %q", r)
		}
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// allCase is one provider's route in the example, and how its test server
// is steered: a lockstep stream, and a tool-call round trip.
type allCase struct {
	route string

	// streamModel asks the stub for a lockstep text stream (with
	// streamOpts); before runs first (a scenario queued in process).
	streamModel string
	streamOpts  []option.RequestOption
	before      func()
	// want is the streamed text in its pieces (joined only when
	// wantJoined is set: the stub's own pieces are not exported).
	want       []string
	wantJoined string
	// steps is how many Steps to give once the client holds a chunk
	// (content: the chunk carries text; seen: text chunks so far): the
	// stub writes its next event only then, so each piece is proven to
	// have reached the client before the next existed.
	steps func(content bool, seen int) int
	step  func()
	after func()

	// toolsModel streams text then two parallel tool calls
	// (toolsBefore queues them when the stub is steered in process);
	// finalModel answers the results. Empty: the stub has no tools
	// scenario.
	toolsModel  string
	toolsBefore func()
	toolsText   string
	calls       [][3]string // id ("" = any, distinct), name, arguments (compared compact)
	finalModel  string
}

func onContent(content bool, _ int) int {
	if content {
		return 1
	}
	return 0
}

// TestAllProviders is the done-criterion: one config file (the
// example, pointed at the test servers) with a route per provider serves
// openai-go streaming and tool calls through every driver, in one binary.
func TestAllProviders(t *testing.T) {
	oa := stub.New()
	oaLog := &pathLog{next: oa}
	oaSrv := httptest.NewServer(oaLog)
	t.Cleanup(oaSrv.Close)
	an := anthropicstub.New("")
	anSrv := httptest.NewServer(an)
	t.Cleanup(anSrv.Close)
	gm := geministub.New(geministub.Options{APIKey: geminiKey})
	gmURL := gm.ListenT(t)
	ol := ollamastub.New(ollamaKey)
	olSrv := httptest.NewServer(ol)
	t.Cleanup(olSrv.Close)
	co := coherestub.New(cohereKey)
	coSrv := httptest.NewServer(co)
	t.Cleanup(coSrv.Close)
	br, _, awsEnv := listenBedrock(t, bedrockstub.Options{})

	doc := exampleForTests(t, map[string]string{
		"openai":      oaSrv.URL + "/v1/chat/completions",
		"bedrock":     "", // AWS_ENDPOINT_URL_BEDROCK_RUNTIME
		"azure":       oaSrv.URL + "/openai/deployments/gpt-4o/chat/completions",
		"anthropic":   anSrv.URL + "/v1/messages",
		"gemini":      gmURL + "/v1beta/models/gemini-2.5-flash:generateContent",
		"mistral":     oaSrv.URL + "/v1/chat/completions",
		"llama2":      olSrv.URL + "/api/chat",
		"huggingface": oaSrv.URL + "/v1/chat/completions",
		"cohere":      coSrv.URL + "/v1/chat",
	})
	keys := map[string]string{"OPENAI_API_KEY": openaiKey, "AZURE_API_KEY": azureKey, "ANTHROPIC_API_KEY": an.Key,
		"GEMINI_API_KEY": geminiKey, "MISTRAL_API_KEY": mistralKey, "OLLAMA_API_KEY": ollamaKey, "HUGGINGFACE_API_KEY": hfKey,
		"COHERE_API_KEY": cohereKey, "CLIENTS_TEAM_A": allClientKey}
	env := slices.Clone(awsEnv)
	for k, v := range keys {
		env = append(env, k+"="+v)
	}
	proc := binary.Serve(t, doc, env...)
	proc.NeverLogs(t, br.Options().SecretAccessKey)
	t.Cleanup(func() {
		out := proc.Output.String()
		for name, k := range keys {
			if strings.Contains(out, k) {
				t.Errorf("%s appears in the binary's output", name)
			}
		}
	})
	client := func(route string) openai.Client {
		return openai.NewClient(option.WithBaseURL("http://"+proc.Addr+"/"+route), option.WithAPIKey("unused"),
			option.WithHeader("apikey", allClientKey), option.WithMaxRetries(0))
	}

	// key-auth is on: without the client key, no route answers.
	anon := openai.NewClient(option.WithBaseURL("http://"+proc.Addr+"/openai"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	_, err := anon.Chat.Completions.New(ctx30(t), openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: user("hi")})
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusUnauthorized || len(oa.Requests()) != 0 {
		t.Fatalf("without the client key: %v", err)
	}

	openaiStub := func(route, model string) allCase {
		return allCase{route: route, streamModel: model,
			streamOpts: []option.RequestOption{option.WithHeader("X-Stub-Lockstep", "1"), option.WithHeader("X-Stub-Chunks", "4")},
			want:       []string{stub.Word(0), stub.Word(1), stub.Word(2), stub.Word(3)},
			steps:      onContent, step: oa.Step, after: oa.DrainSteps}
	}
	cases := []allCase{
		openaiStub("openai", "gpt-4o-mini"),
		{route: "bedrock", streamModel: "stub.text.chunks-4.lockstep",
			want: []string{bedrockstub.Word(0), bedrockstub.Word(1), bedrockstub.Word(2), bedrockstub.Word(3)},
			// One event per chunk; after the last word, contentBlockStop
			// (no chunk) too.
			steps: func(content bool, seen int) int {
				if content && seen == 4 {
					return 2
				}
				return 1
			}, step: br.Step, after: br.DrainSteps,
			toolsModel: "stub.tools", toolsText: "Let me check.", finalModel: "stub.text",
			calls: [][3]string{{bedrockstub.ToolUseID1, "get_weather", `{"city":"Paris"}`}, {bedrockstub.ToolUseID2, "get_time", `{"tz":"Europe/Paris"}`}}},
		openaiStub("azure", "gpt-4o"),
		// Anthropic's stream has events that make no chunk (ping,
		// content_block_start/stop): once the client holds the first
		// chunk, the rest is let out.
		{route: "anthropic", streamModel: "hello-lockstep", wantJoined: "Hello from hello.",
			steps: func(content bool, seen int) int {
				if !content && seen == 0 {
					return 32
				}
				return 0
			}, step: an.Step,
			toolsModel: "stub-tools", toolsText: anthropicstub.ToolsText, finalModel: "done",
			calls: [][3]string{anthropicstub.ToolCalls[0], anthropicstub.ToolCalls[1]}},
		{route: "gemini", streamModel: "gemini-2.5-flash", want: geministub.TextPieces,
			before: func() {
				sc := geministub.TextScenario(geministub.TextPieces...)
				sc.Lockstep = true
				gm.Next(sc)
			}, steps: onContent, step: gm.Step,
			toolsModel: "gemini-2.5-flash", toolsBefore: func() { gm.Next(geministub.ToolsScenario()) }, toolsText: "Let me check both.",
			finalModel: "gemini-2.5-flash",
			calls:      [][3]string{{"", "get_weather", `{"city":"Paris","unit":"celsius"}`}, {"", "get_time", `{"tz":"Europe/Paris"}`}}},
		openaiStub("mistral", "mistral-large-latest"),
		{route: "llama2", streamModel: "llama3+lockstep", want: ollamastub.Pieces, steps: onContent, step: ol.Step,
			toolsModel: "llama3+tools", toolsText: "Let me check.", finalModel: "llama3",
			calls: [][3]string{{"", ollamastub.ToolCalls[0][0], ollamastub.ToolCalls[0][1]}, {"", ollamastub.ToolCalls[1][0], ollamastub.ToolCalls[1][1]}}},
		openaiStub("huggingface", "meta-llama/Llama-3.1-8B-Instruct"),
		{route: "cohere", streamModel: "command-a+lockstep", want: coherestub.Pieces,
			steps: func(bool, int) int { return 1 }, step: co.Step,
			toolsModel: "command-a+tools", toolsText: strings.Join(coherestub.Plan, ""), finalModel: "command-a",
			calls: [][3]string{{coherestub.ToolCalls[0].ID, coherestub.ToolCalls[0].Name, strings.Join(coherestub.ToolCalls[0].Args, "")},
				{coherestub.ToolCalls[1].ID, coherestub.ToolCalls[1].Name, strings.Join(coherestub.ToolCalls[1].Args, "")}}},
	}
	for _, tc := range cases {
		t.Run(tc.route, func(t *testing.T) {
			c := client(tc.route)
			allStream(t, c, tc, proc)
			if tc.toolsModel != "" {
				allTools(t, c, tc)
			}
		})
	}

	// What reached the OpenAI-format upstreams, each with its own key.
	auth := map[string]string{}
	var reached []*http.Request
	if l := oaLog.log.Load(); l != nil {
		reached = *l
	}
	for _, r := range reached {
		if strings.HasPrefix(r.URL.Path, "/openai/deployments/") {
			auth["azure"] = r.Header.Get("api-key") + " " + r.URL.Query().Get("api-version")
			continue
		}
		auth[r.Header.Get("Authorization")] = r.URL.Path
	}
	if auth["azure"] != azureKey+" 2024-10-21" || auth["Bearer "+openaiKey] == "" || auth["Bearer "+mistralKey] == "" || auth["Bearer "+hfKey] == "" {
		t.Errorf("upstream credentials %v", auth)
	}
	if oa.Stalled() != 0 || an.Stalled() != 0 || br.Stalled() != 0 {
		t.Errorf("stalled lockstep streams: openai %d anthropic %d bedrock %d", oa.Stalled(), an.Stalled(), br.Stalled())
	}
}

// allStream streams tc's text in lockstep and checks the whole answer:
// every piece in order, finish_reason stop, usage, and the stream ended by
// data: [DONE].
func allStream(t *testing.T, c openai.Client, tc allCase, proc *binary.Process) {
	t.Helper()
	if tc.before != nil {
		tc.before()
	}
	tail := &tailBody{}
	opts := append(slices.Clone(tc.streamOpts), option.WithMiddleware(tail.middleware))
	stream := c.Chat.Completions.NewStreaming(ctx30(t), openai.ChatCompletionNewParams{Model: tc.streamModel, Messages: user("hi"),
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}}, opts...)
	var pieces []string
	var finish string
	var usage openai.CompletionUsage
	for stream.Next() {
		ch := stream.Current()
		content := len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != ""
		if content {
			pieces = append(pieces, ch.Choices[0].Delta.Content)
		}
		if len(ch.Choices) > 0 && ch.Choices[0].FinishReason != "" {
			finish = ch.Choices[0].FinishReason
		}
		if ch.Usage.TotalTokens > 0 {
			usage = ch.Usage
		}
		for range tc.steps(content, len(pieces)) {
			tc.step()
		}
	}
	if tc.after != nil {
		tc.after()
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v\n%s", err, proc.Output)
	}
	got := strings.Join(pieces, "|")
	if tc.wantJoined != "" {
		if strings.Join(pieces, "") != tc.wantJoined || len(pieces) < 2 {
			t.Errorf("streamed %q, want %q in pieces", got, tc.wantJoined)
		}
	} else if got != strings.Join(tc.want, "|") {
		t.Errorf("streamed %q, want %q", got, strings.Join(tc.want, "|"))
	}
	if finish != "stop" || usage.PromptTokens == 0 || usage.CompletionTokens == 0 {
		t.Errorf("finish %q usage %+v", finish, usage)
	}
	if !strings.HasSuffix(strings.TrimSpace(tail.String()), "data: [DONE]") {
		t.Errorf("the stream ended with %q, not data: [DONE]", tail.String())
	}
}

// allTools streams two parallel tool calls, reassembled exactly by the
// SDK's accumulator, then sends their results back for the final answer.
func allTools(t *testing.T, c openai.Client, tc allCase) {
	t.Helper()
	if tc.toolsBefore != nil {
		tc.toolsBefore()
	}
	params := openai.ChatCompletionNewParams{Model: tc.toolsModel, Messages: user("weather and time in Paris?"), Tools: weatherTools()}
	stream := c.Chat.Completions.NewStreaming(ctx30(t), params)
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		if !acc.AddChunk(stream.Current()) {
			t.Fatalf("the accumulator refused a chunk: %s", stream.Current().RawJSON())
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	msg := acc.Choices[0].Message
	if msg.Content != tc.toolsText || acc.Choices[0].FinishReason != "tool_calls" || len(msg.ToolCalls) != len(tc.calls) {
		t.Fatalf("accumulated %+v", acc.Choices[0])
	}
	ids := map[string]bool{}
	for i, want := range tc.calls {
		got := msg.ToolCalls[i]
		ids[got.ID] = true
		if (want[0] != "" && got.ID != want[0]) || got.ID == "" || got.Function.Name != want[1] || compact(t, got.Function.Arguments) != compact(t, want[2]) {
			t.Errorf("call %d = %s %s %s, want %q", i, got.ID, got.Function.Name, got.Function.Arguments, want)
		}
	}
	if len(ids) != len(tc.calls) {
		t.Errorf("tool call ids not distinct: %v", ids)
	}
	params.Messages = append(params.Messages, msg.ToParam(),
		openai.ToolMessage("18°C and sunny", msg.ToolCalls[0].ID), openai.ToolMessage(`{"time":"12:00"}`, msg.ToolCalls[1].ID))
	params.Model = tc.finalModel
	res, err := c.Chat.Completions.New(ctx30(t), params)
	if err != nil {
		var ae *openai.Error
		if errors.As(err, &ae) {
			t.Fatalf("final answer: %s", ae.RawJSON())
		}
		t.Fatal(err)
	}
	if res.Choices[0].Message.Content == "" || res.Choices[0].FinishReason != "stop" {
		t.Errorf("final answer %+v", res.Choices[0])
	}
}

func compact(t *testing.T, s string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Errorf("not JSON: %q", s)
		return s
	}
	return b.String()
}

// tailBody keeps the last bytes of a response body the SDK reads.
type tailBody struct {
	rc  io.ReadCloser
	buf []byte
}

func (b *tailBody) middleware(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	res, err := next(req)
	if err == nil {
		b.rc, res.Body = res.Body, b
	}
	return res, err
}

func (b *tailBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.buf = append(b.buf, p[:n]...)
	if len(b.buf) > 256 {
		b.buf = b.buf[len(b.buf)-256:]
	}
	return n, err
}

func (b *tailBody) Close() error   { return b.rc.Close() }
func (b *tailBody) String() string { return string(b.buf) }
