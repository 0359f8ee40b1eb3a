package bedrock

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/bedrockstub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// fakeSource replays events as the SDK's stream would.
type fakeSource struct {
	ch  chan types.ConverseStreamOutput
	err error
}

func source(err error, evs ...types.ConverseStreamOutput) *fakeSource {
	ch := make(chan types.ConverseStreamOutput, len(evs))
	for _, e := range evs {
		ch <- e
	}
	close(ch)
	return &fakeSource{ch: ch, err: err}
}

func (f *fakeSource) Events() <-chan types.ConverseStreamOutput { return f.ch }
func (f *fakeSource) Close() error                              { return nil }
func (f *fakeSource) Err() error                                { return f.err }

func start() types.ConverseStreamOutput {
	return &types.ConverseStreamOutputMemberMessageStart{Value: types.MessageStartEvent{Role: types.ConversationRoleAssistant}}
}
func textDelta(i int32, s string) types.ConverseStreamOutput {
	return &types.ConverseStreamOutputMemberContentBlockDelta{Value: types.ContentBlockDeltaEvent{ContentBlockIndex: aws.Int32(i), Delta: &types.ContentBlockDeltaMemberText{Value: s}}}
}
func toolStart(i int32, id, name string) types.ConverseStreamOutput {
	return &types.ConverseStreamOutputMemberContentBlockStart{Value: types.ContentBlockStartEvent{ContentBlockIndex: aws.Int32(i),
		Start: &types.ContentBlockStartMemberToolUse{Value: types.ToolUseBlockStart{ToolUseId: aws.String(id), Name: aws.String(name)}}}}
}
func toolDelta(i int32, s string) types.ConverseStreamOutput {
	return &types.ConverseStreamOutputMemberContentBlockDelta{Value: types.ContentBlockDeltaEvent{ContentBlockIndex: aws.Int32(i),
		Delta: &types.ContentBlockDeltaMemberToolUse{Value: types.ToolUseBlockDelta{Input: aws.String(s)}}}}
}
func blockStop(i int32) types.ConverseStreamOutput {
	return &types.ConverseStreamOutputMemberContentBlockStop{Value: types.ContentBlockStopEvent{ContentBlockIndex: aws.Int32(i)}}
}
func msgStop(r types.StopReason) types.ConverseStreamOutput {
	return &types.ConverseStreamOutputMemberMessageStop{Value: types.MessageStopEvent{StopReason: r}}
}
func metadata(in, out, cr, cw int32) types.ConverseStreamOutput {
	return &types.ConverseStreamOutputMemberMetadata{Value: types.ConverseStreamMetadataEvent{Usage: &types.TokenUsage{
		InputTokens: aws.Int32(in), OutputTokens: aws.Int32(out), CacheReadInputTokens: aws.Int32(cr), CacheWriteInputTokens: aws.Int32(cw),
		TotalTokens: aws.Int32(in + out + cr + cw)}}}
}

// drain reads every event and returns the data payloads and the end.
func drain(t *testing.T, ev provider.Events) ([]string, error) {
	t.Helper()
	var out []string
	for i := 0; i < 1000; i++ {
		b, err := ev.Next()
		for _, e := range strings.SplitAfter(string(b), "\n\n") {
			if e == "" {
				continue
			}
			if !strings.HasPrefix(e, "data: ") || !strings.HasSuffix(e, "\n\n") {
				t.Fatalf("not an SSE event: %q", e)
			}
			p := strings.TrimSuffix(strings.TrimPrefix(e, "data: "), "\n\n")
			if p != "[DONE]" && !json.Valid([]byte(p)) {
				t.Fatalf("invalid JSON: %s", p)
			}
			out = append(out, p)
		}
		if err != nil {
			return out, err
		}
	}
	t.Fatal("stream never ended")
	return nil, nil
}

func TestStreamTools(t *testing.T) {
	src := source(nil, start(), textDelta(0, "Let me "), textDelta(0, "check."), blockStop(0),
		toolStart(1, "a", "f"), toolDelta(1, `{"x"`), toolDelta(1, `:1}`), blockStop(1),
		toolStart(2, "b", "g"), blockStop(2), // no input: "{}"
		msgStop(types.StopReasonToolUse), metadata(10, 5, 3, 2))
	got, err := drain(t, newEvents(src, "m", true))
	if err != io.EOF {
		t.Fatalf("end %v", err)
	}
	want := []string{
		`"delta":{"role":"assistant","content":""}`, `"content":"Let me "`, `"content":"check."`,
		`"tool_calls":[{"index":0,"id":"a","type":"function","function":{"name":"f","arguments":""}}]`,
		`"tool_calls":[{"index":0,"function":{"arguments":"{\"x\""}}]`, `"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]`,
		`"tool_calls":[{"index":1,"id":"b","type":"function","function":{"name":"g","arguments":""}}]`,
		`"tool_calls":[{"index":1,"function":{"arguments":"{}"}}]`,
		`"finish_reason":"tool_calls"`,
		`"usage":{"prompt_tokens":15,"completion_tokens":5,"total_tokens":20,"prompt_tokens_details":{"cached_tokens":3,"cache_creation_tokens":2}}`,
		`[DONE]`,
	}
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) {
			t.Errorf("event %d = %s\nwant it to contain %s", i, got[i], w)
		}
	}
}

func TestStreamEnds(t *testing.T) {
	cases := []struct {
		name string
		src  *fakeSource
		code string
	}{
		{"cut: no messageStop", source(nil, start(), textDelta(0, "a")), "upstream_stream_cut"},
		{"cut: no metadata", source(nil, start(), textDelta(0, "a"), msgStop(types.StopReasonEndTurn)), "upstream_stream_cut"},
		{"exception", source(&types.ModelStreamErrorException{Message: aws.String("boom")}, start(), textDelta(0, "a")), "ModelStreamErrorException"},
		{"throttled mid-stream", source(&types.ThrottlingException{Message: aws.String("slow")}, start()), "ThrottlingException"},
		{"network", source(errors.New("connection reset"), start()), "upstream_stream_error"},
	}
	for _, tc := range cases {
		got, err := drain(t, newEvents(tc.src, "m", true))
		var se *provider.StreamError
		if !errors.As(err, &se) || se.Code != tc.code {
			t.Errorf("%s: %v", tc.name, err)
		}
		for _, e := range got {
			if e == "[DONE]" {
				t.Errorf("%s: [DONE] on a failed stream", tc.name)
			}
		}
	}
	// Without include_usage no usage chunk; reasons map.
	for r, want := range map[types.StopReason]string{types.StopReasonEndTurn: "stop", types.StopReasonStopSequence: "stop", types.StopReasonMaxTokens: "length",
		types.StopReasonGuardrailIntervened: "content_filter", types.StopReasonContentFiltered: "content_filter", "brand_new": "stop"} {
		got, err := drain(t, newEvents(source(nil, start(), msgStop(r), metadata(1, 1, 0, 0)), "m", false))
		if err != io.EOF || len(got) != 3 || !strings.Contains(got[1], `"finish_reason":"`+want+`"`) {
			t.Errorf("%s: %v %v", r, err, got)
		}
	}
}

func TestStreamReasoning(t *testing.T) {
	src := source(nil, start(),
		&types.ConverseStreamOutputMemberContentBlockDelta{Value: types.ContentBlockDeltaEvent{ContentBlockIndex: aws.Int32(0), Delta: &types.ContentBlockDeltaMemberReasoningContent{Value: &types.ReasoningContentBlockDeltaMemberText{Value: "hmm"}}}},
		&types.ConverseStreamOutputMemberContentBlockDelta{Value: types.ContentBlockDeltaEvent{ContentBlockIndex: aws.Int32(0), Delta: &types.ContentBlockDeltaMemberReasoningContent{Value: &types.ReasoningContentBlockDeltaMemberSignature{Value: "SIG"}}}},
		blockStop(0), textDelta(1, "hi"), msgStop(types.StopReasonEndTurn), metadata(1, 1, 0, 0))
	got, err := drain(t, newEvents(src, "m", false))
	if err != io.EOF || !strings.Contains(got[1], `"reasoning_content":"hmm"`) || !strings.Contains(got[2], `"thinking_blocks":[{"type":"thinking","signature":"SIG"}]`) {
		t.Errorf("%v %s", err, strings.Join(got, "\n"))
	}
}

func TestAnswer(t *testing.T) {
	out := &bedrockruntime.ConverseOutput{
		Output: &types.ConverseOutputMemberMessage{Value: types.Message{Role: types.ConversationRoleAssistant, Content: []types.ContentBlock{
			&types.ContentBlockMemberReasoningContent{Value: &types.ReasoningContentBlockMemberReasoningText{Value: types.ReasoningTextBlock{Text: aws.String("why"), Signature: aws.String("S")}}},
			&types.ContentBlockMemberText{Value: "calling"},
			&types.ContentBlockMemberToolUse{Value: types.ToolUseBlock{ToolUseId: aws.String("t1"), Name: aws.String("f"), Input: document.NewLazyDocument(map[string]any{"a": 1})}},
			&types.ContentBlockMemberToolUse{Value: types.ToolUseBlock{ToolUseId: aws.String("t2"), Name: aws.String("g"), Input: document.NewLazyDocument(map[string]any{})}},
		}}},
		StopReason: types.StopReasonToolUse,
		Usage:      &types.TokenUsage{InputTokens: aws.Int32(7), OutputTokens: aws.Int32(3), CacheReadInputTokens: aws.Int32(4)},
	}
	var c struct {
		ID, Object, Model string
		Created           int64
		Choices           []struct {
			Message struct {
				Content          *string
				ReasoningContent string                       `json:"reasoning_content"`
				ThinkingBlocks   []struct{ Signature string } `json:"thinking_blocks"`
				ToolCalls        []struct {
					ID       string
					Function struct{ Name, Arguments string }
				} `json:"tool_calls"`
			}
			FinishReason string `json:"finish_reason"`
		}
		Usage struct {
			PromptTokens        int `json:"prompt_tokens"`
			TotalTokens         int `json:"total_tokens"`
			PromptTokensDetails struct {
				CachedTokens int `json:"cached_tokens"`
			} `json:"prompt_tokens_details"`
		}
	}
	if err := json.Unmarshal(answer(out, "us.anthropic.x"), &c); err != nil {
		t.Fatal(err)
	}
	m := c.Choices[0].Message
	if !strings.HasPrefix(c.ID, "chatcmpl-") || c.Object != "chat.completion" || c.Model != "us.anthropic.x" || c.Created == 0 {
		t.Errorf("envelope %+v", c)
	}
	if m.Content == nil || *m.Content != "calling" || m.ReasoningContent != "why" || m.ThinkingBlocks[0].Signature != "S" ||
		len(m.ToolCalls) != 2 || m.ToolCalls[0].Function.Arguments != `{"a":1}` || m.ToolCalls[1].Function.Arguments != `{}` ||
		c.Choices[0].FinishReason != "tool_calls" {
		t.Errorf("message %+v", c.Choices[0])
	}
	if c.Usage.PromptTokens != 11 || c.Usage.TotalTokens != 14 || c.Usage.PromptTokensDetails.CachedTokens != 4 {
		t.Errorf("usage %+v", c.Usage)
	}
}

func TestErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
	}{
		{&types.ValidationException{Message: aws.String("m")}, 400},
		{&types.AccessDeniedException{Message: aws.String("m")}, 403},
		{&types.ResourceNotFoundException{Message: aws.String("m")}, 404},
		{&types.ThrottlingException{Message: aws.String("m")}, 429},
		{&types.ModelNotReadyException{Message: aws.String("m")}, 503},
		{&types.ModelTimeoutException{Message: aws.String("m")}, 504},
		{&types.ServiceUnavailableException{Message: aws.String("m")}, 503},
		{&types.InternalServerException{Message: aws.String("m")}, 500},
	} {
		e, ok := apiError(tc.err)
		if !ok || e.Status != tc.status || e.Type != provider.StatusType(tc.status) || e.Message != "Bedrock: m" {
			t.Errorf("%T: %+v", tc.err, e)
		}
	}
	if _, ok := apiError(context.Canceled); ok {
		t.Error("cancellation taken for a Bedrock answer")
	}
}

// frame builds an event-stream prelude announcing total bytes.
func frame(total uint32) []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint32(b, total)
	return b
}

func TestFrameGuard(t *testing.T) {
	// Frames of 20 and 16 bytes pass in 3-byte reads; one announcing 1 GiB
	// fails the read that completes its length.
	var in bytes.Buffer
	in.Write(frame(20))
	in.Write(make([]byte, 8))
	in.Write(frame(16))
	in.Write(make([]byte, 4))
	in.Write(frame(1 << 30))
	g := &frameGuard{r: io.NopCloser(&in), max: 1 << 20}
	var n int
	var err error
	buf := make([]byte, 3)
	for err == nil {
		var k int
		k, err = g.Read(buf)
		n += k
	}
	var fe *frameTooLarge
	if !errors.As(err, &fe) || fe.total != 1<<30 || n != 39 { // 36 + 3 bytes of the bad length, never the whole prelude
		t.Errorf("passed %d bytes, error %v", n, err)
	}
	g = &frameGuard{r: io.NopCloser(bytes.NewReader(frame(3))), max: 1 << 20}
	if _, err := io.ReadAll(g); !errors.As(err, &fe) {
		t.Errorf("corrupt prelude: %v", err)
	}
}

// The guard in front of the SDK's decoder: a stream whose frame announces
// more than the limit ends with a StreamError, not an allocation.
func TestFrameGuardThroughSDK(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
		w.WriteHeader(200)
		_, _ = w.Write(frame(0xF0000000))
	}))
	defer srv.Close()
	d := New(Options{Config: aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")}, MaxFrameBytes: 1 << 16})
	p := &config.Plugin{RouteType: config.RouteChat, Model: config.Model{Provider: config.ProviderBedrock}}
	u, _ := http.NewRequest("POST", srv.URL, nil)
	up, err := d.Prepare(&provider.Call{Plugin: p, Model: "m", Stream: true, Upstream: u.URL, Body: []byte(`{"messages":[{"role":"user","content":"hi"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", up.URL.String(), nil)
	res, err := up.Transport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(res.Body)
	res.Body.Close()
	var se *provider.StreamError
	if !errors.As(err, &se) || se.Code != "upstream_frame_too_large" {
		t.Errorf("%v", err)
	}
}

// stubRig is the Bedrock stub and a driver whose client signs with the
// stub's keys, one attempt per call (a retry would hide what the stub
// did).
type stubRig struct {
	srv *bedrockstub.Server
	d   *Driver
	ep  string
}

func newStubRig(t *testing.T, opts bedrockstub.Options) *stubRig {
	t.Helper()
	srv := bedrockstub.New(opts)
	ep := srv.ListenT(t)
	o := srv.Options()
	d := New(Options{Config: aws.Config{Region: o.Region, Credentials: credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, ""),
		Retryer: func() aws.Retryer { return aws.NopRetryer{} }}})
	return &stubRig{srv: srv, d: d, ep: ep}
}

// The stub through the driver's own client: a real stream, signed.
func TestDriverAgainstStub(t *testing.T) {
	r := newStubRig(t, bedrockstub.Options{})
	d, ep := r.d, r.ep
	p := &config.Plugin{RouteType: config.RouteChat, Model: config.Model{Provider: config.ProviderBedrock}}
	u, _ := http.NewRequest("POST", ep, nil)
	up, err := d.Prepare(&provider.Call{Plugin: p, Model: "stub.tools", Stream: true, Upstream: u.URL, Body: []byte(`{"messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":true},"tools":[{"type":"function","function":{"name":"get_weather"}},{"type":"function","function":{"name":"get_time"}}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", up.URL.String(), nil)
	res, err := up.Transport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || !strings.Contains(string(b), `"finish_reason":"tool_calls"`) || !strings.HasSuffix(string(b), "data: [DONE]\n\n") {
		t.Errorf("%v\n%s", err, b)
	}
}

// Parallel ConverseStream calls on one cached client (go test -race).
func TestParallelStreamsOneClient(t *testing.T) {
	r := newStubRig(t, bedrockstub.Options{})
	d, ep := r.d, r.ep
	p := &config.Plugin{RouteType: config.RouteChat, Model: config.Model{Provider: config.ProviderBedrock}}
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func() {
			up, err := d.Prepare(&provider.Call{Plugin: p, Model: "stub.text.chunks-30", Stream: true, Upstream: mustURL(ep), Body: []byte(`{"messages":[{"role":"user","content":"hi"}]}`)})
			if err != nil {
				errs <- err
				return
			}
			req, _ := http.NewRequest("POST", up.URL.String(), nil)
			res, err := up.Transport.RoundTrip(req)
			if err != nil {
				errs <- err
				return
			}
			b, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err == nil && !strings.Contains(string(b), `"content":"tok29 "`) {
				err = errors.New("incomplete: " + string(b))
			}
			errs <- err
		}()
	}
	for i := 0; i < 8; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if d.Clients() != 1 {
		t.Errorf("%d clients", d.Clients())
	}
}

// A call the proxy retries on another target (an ai-proxy-advanced
// attempt) is one call to a throttled Bedrock; alone, the SDK's own
// retries ask again (three attempts by the standard retryer).
func TestNoSDKRetriesInAChain(t *testing.T) {
	for _, tc := range []struct {
		name  string
		chain bool
		calls int
	}{{"alone", false, 3}, {"chain attempt", true, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := bedrockstub.New(bedrockstub.Options{})
			ep, stop, err := srv.Listen()
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			o := srv.Options()
			standard := func() aws.Retryer {
				return retry.NewStandard(func(s *retry.StandardOptions) {
					s.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
				})
			}
			d := New(Options{Config: aws.Config{Region: o.Region, Credentials: credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, ""), Retryer: standard}})
			p := &config.Plugin{RouteType: config.RouteChat, Model: config.Model{Provider: config.ProviderBedrock}}
			for _, stream := range []bool{false, true} {
				before := len(srv.Requests())
				up, err := d.Prepare(&provider.Call{Plugin: p, Model: "stub.error-throttle", Stream: stream, Upstream: mustURL(ep), Body: []byte(`{"messages":[{"role":"user","content":"hi"}]}`)})
				if err != nil {
					t.Fatal(err)
				}
				ctx := context.Background()
				if tc.chain {
					ctx = provider.WithoutRetries(ctx)
				}
				req, _ := http.NewRequestWithContext(ctx, "POST", up.URL.String(), nil)
				res, err := up.Transport.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != 429 || len(srv.Requests())-before != tc.calls {
					t.Fatalf("stream %v: %d after %d calls, want 429 after %d", stream, res.StatusCode, len(srv.Requests())-before, tc.calls)
				}
			}
		})
	}
}

// Parallel Messages streams (InvokeModelWithResponseStream) on one cached
// client: each gets its own event-stream codec too (go test -race).
func TestParallelMessagesStreamsOneClient(t *testing.T) {
	r := newStubRig(t, bedrockstub.Options{})
	p := &config.Plugin{RouteType: config.RouteChat, LLMFormat: config.FormatAnthropic, Model: config.Model{Provider: config.ProviderBedrock}}
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func() {
			up, err := r.d.PrepareMessages(&provider.MessagesCall{Plugin: p, Model: "stub.text.chunks-30", Stream: true, Upstream: mustURL(r.ep),
				Body: []byte(`{"model":"m","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)})
			if err != nil {
				errs <- err
				return
			}
			req, _ := http.NewRequest("POST", up.URL.String(), nil)
			res, err := up.Transport.RoundTrip(req)
			if err != nil {
				errs <- err
				return
			}
			b, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err == nil && (!strings.Contains(string(b), `"text":"tok29 "`) || !strings.Contains(string(b), "message_stop")) {
				err = errors.New("incomplete: " + string(b))
			}
			errs <- err
		}()
	}
	for i := 0; i < 8; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
