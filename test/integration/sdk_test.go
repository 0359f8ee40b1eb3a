package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
)

func TestSDKChatCompletion(t *testing.T) {
	e := newEnv(t, seedConfig)
	client := e.client("gpt-4o-mini")
	var res *http.Response
	got, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: userMessage("Say hello"),
	}, option.WithResponseInto(&res))
	if err != nil {
		t.Fatal(err)
	}
	if want := stub.Word(0) + stub.Word(1) + stub.Word(2) + stub.Word(3) + stub.Word(4); got.Choices[0].Message.Content != want {
		t.Errorf("content = %q, want %q", got.Choices[0].Message.Content, want)
	}
	if got.Usage.TotalTokens != stub.PromptTokens+5 {
		t.Errorf("usage = %+v", got.Usage)
	}
	if h := res.Header.Get("X-Kong-LLM-Model"); h != "openai/gpt-4o-mini" {
		t.Errorf("X-Kong-LLM-Model = %q", h)
	}
	up := e.stub.Last()
	if up.Path != "/v1/chat/completions" || up.Header.Get("Authorization") != "Bearer "+upstreamKey {
		t.Errorf("upstream got %s with Authorization %q", up.Path, up.Header.Get("Authorization"))
	}
	var body map[string]any
	_ = json.Unmarshal(up.Body, &body)
	if body["model"] != "gpt-4o-mini" {
		t.Errorf("upstream model = %v", body["model"])
	}
}

// The SDK sends no model of its own choosing when the path names it: an
// empty body model is filled in from the path.
func TestSDKModelFromPathOnly(t *testing.T) {
	e := newEnv(t, seedConfig)
	client := e.client("gpt-4o")
	_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "", Messages: userMessage("hi")})
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.Unmarshal(e.stub.Last().Body, &body)
	if body["model"] != "gpt-4o" {
		t.Errorf("upstream model = %v", body["model"])
	}
}

// The acceptance case: ten chunks reach an openai-go client one by
// one, while the upstream is still writing. Proven by order: the stub writes
// chunk i+1 only after this client has seen chunk i, so a relay that holds
// any chunk back stalls the stream (the stub counts it) instead of passing
// on a fast machine and flaking on a slow one.
func TestSDKStreamArrivesChunkByChunk(t *testing.T) {
	e := newEnv(t, seedConfig)
	client := e.client("gpt-4o-mini", option.WithHeader("X-Stub-Chunks", "10"), option.WithHeader("X-Stub-Lockstep", "1"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: userMessage("Count to ten"),
	})
	defer stream.Close()
	var got []string
	for stream.Next() {
		c := stream.Current()
		if len(c.Choices) == 0 {
			t.Errorf("client received a usage-only chunk it did not ask for: %s", c.RawJSON())
			continue
		}
		if c.Choices[0].Delta.Content == "" {
			continue
		}
		got = append(got, c.Choices[0].Delta.Content)
		e.stub.Step() // only now may the upstream write the next chunk
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if n := e.stub.Stalled(); n != 0 {
		t.Fatalf("the upstream waited in vain for the client to see a chunk (%d stalls): the relay buffered", n)
	}
	if len(got) != 10 {
		t.Fatalf("got %d content chunks, want 10", len(got))
	}
	for i, c := range got {
		if c != stub.Word(i) {
			t.Errorf("chunk %d = %q, want %q", i, c, stub.Word(i))
		}
	}
	// Usage was asked upstream for statistics, and hidden from this client.
	var up map[string]any
	_ = json.Unmarshal(e.stub.Last().Body, &up)
	if so, _ := up["stream_options"].(map[string]any); so["include_usage"] != true {
		t.Errorf("upstream stream_options = %v", up["stream_options"])
	}
}

func TestSDKStreamWithUsageRequested(t *testing.T) {
	e := newEnv(t, seedConfig)
	client := e.client("gpt-4o")
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:         "gpt-4o",
		Messages:      userMessage("hi"),
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Usage.TotalTokens != stub.PromptTokens+5 {
		t.Errorf("usage = %+v, want the upstream's usage chunk", acc.Usage)
	}
	if acc.Choices[0].Message.Content != stub.Word(0)+stub.Word(1)+stub.Word(2)+stub.Word(3)+stub.Word(4) {
		t.Errorf("content = %q", acc.Choices[0].Message.Content)
	}
}

// A stream the upstream cuts must make the SDK raise, not end quietly with
// half an answer.
func TestSDKStreamUpstreamFailureRaises(t *testing.T) {
	e := newEnv(t, seedConfig)
	client := e.client("gpt-4o", option.WithHeader("X-Stub-Chunks", "6"), option.WithHeader("X-Stub-Fail-After", "3"))
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: userMessage("hi")})
	n := 0
	for stream.Next() {
		n++
	}
	err := stream.Err()
	if err == nil {
		t.Fatalf("stream ended without error after %d chunks", n)
	}
	if !strings.Contains(err.Error(), "upstream stream failed") {
		t.Errorf("err = %v", err)
	}
	if n != 3 {
		t.Errorf("received %d chunks before the failure, want 3", n)
	}
}

func TestSDKLegacyCompletions(t *testing.T) {
	e := newEnv(t, `{_format_version: "3.0",
	  routes: [{name: completions, paths: ["~/(?<model>[^/]+)/completions$"], methods: [POST]}],
	  plugins: [{name: ai-proxy, config: {route_type: llm/v1/completions, auth: {header_name: Authorization, header_value: "Bearer KEY"},
	    model: {provider: openai, name: "$(uri_captures.model)", options: {upstream_url: "UPSTREAM/v1/completions"}}}}]}`)
	client := e.client("gpt-3.5-turbo-instruct")
	got, err := client.Completions.New(context.Background(), openai.CompletionNewParams{
		Model:  "gpt-3.5-turbo-instruct",
		Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("Say hi")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.Choices[0].Text, stub.Word(0)) || e.stub.Last().Path != "/v1/completions" {
		t.Errorf("text = %q, upstream path %s", got.Choices[0].Text, e.stub.Last().Path)
	}
}

// Upstream errors reach the SDK as the upstream sent them, with the headers
// a client needs to back off.
func TestSDKUpstreamErrorPassesThrough(t *testing.T) {
	e := newEnv(t, seedConfig)
	client := e.client("gpt-4o", option.WithHeader("X-Stub-Status", "429"))
	_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: userMessage("hi")})
	var apiErr *openai.Error
	if !asAPIError(err, &apiErr) {
		t.Fatalf("err = %v, want an API error", err)
	}
	if apiErr.StatusCode != 429 || apiErr.Code != "stub_429" || apiErr.Response.Header.Get("Retry-After") != "7" {
		t.Errorf("got %d %q retry-after %q", apiErr.StatusCode, apiErr.Code, apiErr.Response.Header.Get("Retry-After"))
	}
	if apiErr.Response.Header.Get("X-Kong-LLM-Model") != "" {
		t.Error("X-Kong-LLM-Model on an error response")
	}
}
