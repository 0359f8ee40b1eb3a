package bedrockstub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

const (
	haiku   = "anthropic.claude-3-5-haiku-20241022-v1:0"
	profile = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0"
)

// start runs a server for the test and returns it with its endpoint.
func start(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	srv := New(opts)
	endpoint := srv.ListenT(t)
	return srv, endpoint
}

// client is the real SDK client, signing with the server's credentials
// unless fns change them; no retries, so a test sees each answer.
func client(srv *Server, endpoint string, fns ...func(*bedrockruntime.Options)) *bedrockruntime.Client {
	o := srv.Options()
	return bedrockruntime.New(bedrockruntime.Options{
		Region:       o.Region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, o.SessionToken),
		Retryer:      aws.NopRetryer{},
	}, fns...)
}

func userText(s string) types.Message {
	return types.Message{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: s}}}
}

func converseText(t *testing.T, out *bedrockruntime.ConverseOutput) string {
	t.Helper()
	msg, ok := out.Output.(*types.ConverseOutputMemberMessage)
	if !ok {
		t.Fatalf("output is %T", out.Output)
	}
	var b strings.Builder
	for _, c := range msg.Value.Content {
		if tb, ok := c.(*types.ContentBlockMemberText); ok {
			b.WriteString(tb.Value)
		}
	}
	return b.String()
}

func TestConverseEchoesRealModelIDs(t *testing.T) {
	srv, ep := start(t, Options{})
	c := client(srv, ep)
	for _, id := range []string{haiku, "us.amazon.nova-lite-v1:0", profile} {
		out, err := c.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(id), Messages: []types.Message{userText("hi")}})
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if got, want := converseText(t, out), "Answer from "+id+"."; got != want {
			t.Errorf("answer %q, want %q", got, want)
		}
		if out.StopReason != types.StopReasonEndTurn || aws.ToInt32(out.Usage.InputTokens) != InputTokens || out.Metrics == nil {
			t.Errorf("stop %q usage %+v metrics %+v", out.StopReason, out.Usage, out.Metrics)
		}
		last := srv.Last()
		if last.ModelID != id || last.Operation != "Converse" || !last.Signed || last.Converse == nil {
			t.Errorf("recorded %+v", last)
		}
		// The SDK escapes ':' and '/' in the one path segment.
		want := "/model/" + strings.NewReplacer(":", "%3A", "/", "%2F").Replace(id) + "/converse"
		if last.RawPath != want {
			t.Errorf("raw path %q, want %q", last.RawPath, want)
		}
	}
	if srv.Signed() != 3 || srv.Refused() != 0 {
		t.Errorf("signed %d refused %d", srv.Signed(), srv.Refused())
	}
}

func TestConverseJSONScenarios(t *testing.T) {
	srv, ep := start(t, Options{})
	c := client(srv, ep)
	ctx := context.Background()

	out, err := c.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("stub.reasoning"), Messages: []types.Message{userText("hi")}})
	if err != nil {
		t.Fatal(err)
	}
	content := out.Output.(*types.ConverseOutputMemberMessage).Value.Content
	rc, ok := content[0].(*types.ContentBlockMemberReasoningContent)
	if !ok {
		t.Fatalf("first block %T", content[0])
	}
	rt := rc.Value.(*types.ReasoningContentBlockMemberReasoningText).Value
	if aws.ToString(rt.Text) != "The user wants words; answer briefly." || aws.ToString(rt.Signature) != ReasoningSignature {
		t.Errorf("reasoning %q sig %q", aws.ToString(rt.Text), aws.ToString(rt.Signature))
	}
	if got := converseText(t, out); got != "tok0 tok1 tok2 tok3 tok4 " {
		t.Errorf("text %q", got)
	}

	out, err = c.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("stub.tools"), Messages: []types.Message{userText("hi")}})
	if err != nil {
		t.Fatal(err)
	}
	content = out.Output.(*types.ConverseOutputMemberMessage).Value.Content
	if len(content) != 3 || out.StopReason != types.StopReasonToolUse {
		t.Fatalf("content %d stop %q", len(content), out.StopReason)
	}
	tu := content[2].(*types.ContentBlockMemberToolUse).Value
	var in map[string]string
	if err := tu.Input.UnmarshalSmithyDocument(&in); err != nil || in["tz"] != "Europe/Paris" || aws.ToString(tu.ToolUseId) != ToolUseID2 || aws.ToString(tu.Name) != "get_time" {
		t.Errorf("tool use %+v input %v (%v)", tu, in, err)
	}

	out, err = c.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("stub.cache"), Messages: []types.Message{userText("hi")}})
	if err != nil {
		t.Fatal(err)
	}
	if u := out.Usage; aws.ToInt32(u.CacheReadInputTokens) != 100 || aws.ToInt32(u.CacheWriteInputTokens) != 50 || aws.ToInt32(u.TotalTokens) != InputTokens+5+150 {
		t.Errorf("usage %+v", u)
	}
	for id, want := range map[string]types.StopReason{"stub.length": types.StopReasonMaxTokens, "stub.guardrail": types.StopReasonGuardrailIntervened} {
		out, err := c.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(id), Messages: []types.Message{userText("hi")}})
		if err != nil || out.StopReason != want {
			t.Errorf("%s: stop %v, err %v", id, out, err)
		}
	}
}

// collect reads a ConverseStream to its end, stepping a lockstep server
// after each event when step is set.
func collect(t *testing.T, out *bedrockruntime.ConverseStreamOutput, step func()) ([]types.ConverseStreamOutput, error) {
	t.Helper()
	st := out.GetStream()
	defer st.Close()
	var evs []types.ConverseStreamOutput
	for ev := range st.Events() {
		evs = append(evs, ev)
		if step != nil {
			step()
		}
	}
	return evs, st.Err()
}

func TestConverseStreamTools(t *testing.T) {
	srv, ep := start(t, Options{})
	out, err := client(srv, ep).ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{ModelId: aws.String("stub.tools"), Messages: []types.Message{userText("weather?")}})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := collect(t, out, nil)
	if err != nil {
		t.Fatal(err)
	}
	var text string
	inputs := map[int32]string{}
	ids := map[int32]string{}
	var stop types.StopReason
	var usage *types.TokenUsage
	kinds := []string{}
	for _, ev := range evs {
		switch v := ev.(type) {
		case *types.ConverseStreamOutputMemberMessageStart:
			kinds = append(kinds, "start")
		case *types.ConverseStreamOutputMemberContentBlockStart:
			tu := v.Value.Start.(*types.ContentBlockStartMemberToolUse).Value
			ids[aws.ToInt32(v.Value.ContentBlockIndex)] = aws.ToString(tu.ToolUseId) + " " + aws.ToString(tu.Name)
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			switch d := v.Value.Delta.(type) {
			case *types.ContentBlockDeltaMemberText:
				text += d.Value
			case *types.ContentBlockDeltaMemberToolUse:
				inputs[aws.ToInt32(v.Value.ContentBlockIndex)] += aws.ToString(d.Value.Input)
			default:
				t.Errorf("delta %T", d)
			}
		case *types.ConverseStreamOutputMemberContentBlockStop:
			kinds = append(kinds, "stop")
		case *types.ConverseStreamOutputMemberMessageStop:
			stop = v.Value.StopReason
		case *types.ConverseStreamOutputMemberMetadata:
			usage = v.Value.Usage
		default:
			t.Errorf("event %T", ev)
		}
	}
	if text != "Let me check." || stop != types.StopReasonToolUse || usage == nil || aws.ToInt32(usage.OutputTokens) != 30 {
		t.Errorf("text %q stop %q usage %+v", text, stop, usage)
	}
	if ids[1] != ToolUseID1+" get_weather" || ids[2] != ToolUseID2+" get_time" {
		t.Errorf("tool starts %v", ids)
	}
	if inputs[1] != `{"city":"Paris"}` || inputs[2] != `{"tz":"Europe/Paris"}` {
		t.Errorf("tool inputs %v", inputs)
	}
	if strings.Join(kinds, " ") != "start stop stop stop" {
		t.Errorf("kinds %v", kinds)
	}
	// Pieces arrive one event each: 2 text + 3 + 3 input deltas.
	deltas := 0
	for _, ev := range evs {
		if _, ok := ev.(*types.ConverseStreamOutputMemberContentBlockDelta); ok {
			deltas++
		}
	}
	if deltas != 8 {
		t.Errorf("%d deltas, want 8", deltas)
	}
}

func TestConverseStreamReasoning(t *testing.T) {
	srv, ep := start(t, Options{})
	out, err := client(srv, ep).ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{ModelId: aws.String("stub.reasoning.chunks-2"), Messages: []types.Message{userText("hi")}})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := collect(t, out, nil)
	if err != nil {
		t.Fatal(err)
	}
	var reasoning, sig, text string
	for _, ev := range evs {
		d, ok := ev.(*types.ConverseStreamOutputMemberContentBlockDelta)
		if !ok {
			continue
		}
		switch v := d.Value.Delta.(type) {
		case *types.ContentBlockDeltaMemberReasoningContent:
			switch r := v.Value.(type) {
			case *types.ReasoningContentBlockDeltaMemberText:
				reasoning += r.Value
			case *types.ReasoningContentBlockDeltaMemberSignature:
				sig = r.Value
			}
		case *types.ContentBlockDeltaMemberText:
			if aws.ToInt32(d.Value.ContentBlockIndex) != 1 {
				t.Errorf("text at block %d", aws.ToInt32(d.Value.ContentBlockIndex))
			}
			text += v.Value
		}
	}
	if reasoning != "The user wants words; answer briefly." || sig != ReasoningSignature || text != "tok0 tok1 " {
		t.Errorf("reasoning %q sig %q text %q", reasoning, sig, text)
	}
}

func TestErrorsArriveTyped(t *testing.T) {
	srv, ep := start(t, Options{})
	c := client(srv, ep)
	cases := []struct {
		model  string
		status int
		is     func(error) bool
	}{
		{"stub.error-throttle", 429, func(err error) bool { var e *types.ThrottlingException; return errors.As(err, &e) }},
		{"stub.error-validation", 400, func(err error) bool { var e *types.ValidationException; return errors.As(err, &e) }},
		{"stub.error-access", 403, func(err error) bool { var e *types.AccessDeniedException; return errors.As(err, &e) }},
		{"stub.error-notfound", 404, func(err error) bool { var e *types.ResourceNotFoundException; return errors.As(err, &e) }},
		{"stub.error-notready", 429, func(err error) bool { var e *types.ModelNotReadyException; return errors.As(err, &e) }},
		{"stub.error-timeout", 408, func(err error) bool { var e *types.ModelTimeoutException; return errors.As(err, &e) }},
		{"stub.error-unavailable", 503, func(err error) bool { var e *types.ServiceUnavailableException; return errors.As(err, &e) }},
		{"stub.error-internal", 500, func(err error) bool { var e *types.InternalServerException; return errors.As(err, &e) }},
		{"stub.error-midstream", 424, func(err error) bool { var e *types.ModelErrorException; return errors.As(err, &e) }},
	}
	for _, tc := range cases {
		_, err := c.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(tc.model), Messages: []types.Message{userText("hi")}})
		var re *smithyhttp.ResponseError
		if !tc.is(err) || !errors.As(err, &re) || re.HTTPStatusCode() != tc.status {
			t.Errorf("Converse %s: %v", tc.model, err)
		}
		if tc.model == "stub.error-midstream" {
			continue
		}
		_, err = c.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{ModelId: aws.String(tc.model), Messages: []types.Message{userText("hi")}})
		if !tc.is(err) {
			t.Errorf("ConverseStream %s: %v", tc.model, err)
		}
	}
}

func TestStreamExceptionsArriveTyped(t *testing.T) {
	srv, ep := start(t, Options{})
	c := client(srv, ep)
	cases := []struct {
		sc *APIError
		is func(error) bool
	}{
		{ErrModelStreamError("boom"), func(err error) bool { var e *types.ModelStreamErrorException; return errors.As(err, &e) }},
		{ErrThrottling("slow"), func(err error) bool { var e *types.ThrottlingException; return errors.As(err, &e) }},
		{ErrValidation("bad"), func(err error) bool { var e *types.ValidationException; return errors.As(err, &e) }},
		{ErrServiceUnavailable("gone"), func(err error) bool { var e *types.ServiceUnavailableException; return errors.As(err, &e) }},
		{ErrInternalServer("oops"), func(err error) bool { var e *types.InternalServerException; return errors.As(err, &e) }},
	}
	for _, tc := range cases {
		srv.Next(Scenario{Blocks: []Block{Text("a", "b")}, StreamError: tc.sc})
		out, err := c.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{ModelId: aws.String(haiku), Messages: []types.Message{userText("hi")}})
		if err != nil {
			t.Fatal(err)
		}
		evs, err := collect(t, out, nil)
		if !tc.is(err) || !strings.Contains(err.Error(), tc.sc.Message) {
			t.Errorf("%s: stream error %v", tc.sc.Type, err)
		}
		if len(evs) != 4 { // messageStart, 2 deltas, contentBlockStop
			t.Errorf("%s: %d events before the exception", tc.sc.Type, len(evs))
		}
	}
	// The model-id convention.
	out, err := c.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{ModelId: aws.String("stub.error-midstream"), Messages: []types.Message{userText("hi")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := collect(t, out, nil); !cases[0].is(err) {
		t.Errorf("stub.error-midstream: %v", err)
	}
}

func TestCutStream(t *testing.T) {
	srv, ep := start(t, Options{})
	out, err := client(srv, ep).ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{ModelId: aws.String("stub.cut"), Messages: []types.Message{userText("hi")}})
	if err != nil {
		t.Fatal(err)
	}
	// The SDK ends a cut stream as if it were complete (its event codec
	// takes io.ErrUnexpectedEOF for io.EOF), so Err may be nil: what tells
	// a driver the answer was cut is the missing messageStop.
	evs, _ := collect(t, out, nil)
	text := ""
	for _, ev := range evs {
		switch v := ev.(type) {
		case *types.ConverseStreamOutputMemberMessageStop, *types.ConverseStreamOutputMemberMetadata:
			t.Errorf("%T after the cut", v)
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			text += v.Value.Delta.(*types.ContentBlockDeltaMemberText).Value
		}
	}
	if text != "tok0 tok1 tok2 tok3 tok4 " || len(evs) != 7 { // start, 5 deltas, stop
		t.Errorf("content before the cut %q in %d events", text, len(evs))
	}
	// Non-streamed: half the JSON, then the connection drops.
	if _, err := client(srv, ep).Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String("stub.cut"), Messages: []types.Message{userText("hi")}}); err == nil {
		t.Error("a cut answer decoded")
	}
}

func TestLockstep(t *testing.T) {
	srv, ep := start(t, Options{})
	out, err := client(srv, ep).ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{ModelId: aws.String("stub.text.chunks-3.lockstep"), Messages: []types.Message{userText("hi")}})
	if err != nil {
		t.Fatal(err)
	}
	st := out.GetStream()
	defer st.Close()
	// messageStart, 3 deltas, contentBlockStop, messageStop, metadata.
	const events = 7
	for i := 0; i < events; i++ {
		select {
		case _, ok := <-st.Events():
			if !ok {
				t.Fatalf("stream ended after %d events: %v", i, st.Err())
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("event %d did not come after its Step", i)
		}
		// Without a Step the next event must not come.
		if i < 2 {
			select {
			case ev := <-st.Events():
				t.Fatalf("event %d (%T) came before its Step (%v) cancelled %d stalled %d", i+1, ev, st.Err(), srv.Cancelled(), srv.Stalled())
			case <-time.After(100 * time.Millisecond):
			}
		}
		srv.Step()
	}
	if _, ok := <-st.Events(); ok || st.Err() != nil {
		t.Errorf("stream did not end cleanly: %v", st.Err())
	}
	if srv.Stalled() != 0 {
		t.Errorf("%d stalled", srv.Stalled())
	}
	srv.DrainSteps()
}

func TestPaddingAndChunks(t *testing.T) {
	srv, ep := start(t, Options{Chunks: 7, ChunkBytes: 100})
	out, err := client(srv, ep).ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{ModelId: aws.String("stub.text"), Messages: []types.Message{userText("hi")}})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := collect(t, out, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if d, ok := ev.(*types.ConverseStreamOutputMemberContentBlockDelta); ok {
			n++
			if s := d.Value.Delta.(*types.ContentBlockDeltaMemberText).Value; len(s) != 100 {
				t.Errorf("delta of %d bytes", len(s))
			}
		}
	}
	if n != 7 {
		t.Errorf("%d deltas", n)
	}
	// A model-id modifier overrides the option; delay slows each event.
	began := time.Now()
	out, err = client(srv, ep).ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{ModelId: aws.String("stub.text.chunks-2.delay-30ms"), Messages: []types.Message{userText("hi")}})
	if err != nil {
		t.Fatal(err)
	}
	if evs, err = collect(t, out, nil); err != nil || len(evs) != 6 {
		t.Errorf("%d events, %v", len(evs), err)
	}
	if d := time.Since(began); d < 150*time.Millisecond {
		t.Errorf("6 events with 30ms delays took %v", d)
	}
}

func TestSignatureRefused(t *testing.T) {
	srv, ep := start(t, Options{})
	in := &bedrockruntime.ConverseInput{ModelId: aws.String(haiku), Messages: []types.Message{userText("hi")}}
	refused := func(err error, code string) {
		t.Helper()
		var ae smithy.APIError
		var re *smithyhttp.ResponseError
		if !errors.As(err, &ae) || ae.ErrorCode() != code || !errors.As(err, &re) || re.HTTPStatusCode() != 403 {
			t.Errorf("want 403 %s, got %v", code, err)
		}
	}
	o := srv.Options()
	_, err := client(srv, ep, func(opt *bedrockruntime.Options) {
		opt.Credentials = credentials.NewStaticCredentialsProvider(o.AccessKeyID, "wrong-secret", "")
	}).Converse(context.Background(), in)
	refused(err, "InvalidSignatureException")
	_, err = client(srv, ep, func(opt *bedrockruntime.Options) {
		opt.Credentials = credentials.NewStaticCredentialsProvider("AKIDOTHER", o.SecretAccessKey, "")
	}).Converse(context.Background(), in)
	refused(err, "UnrecognizedClientException")
	_, err = client(srv, ep, func(opt *bedrockruntime.Options) { opt.Region = "eu-west-1" }).Converse(context.Background(), in)
	refused(err, "InvalidSignatureException")

	// Unsigned, and signed for another body.
	body := []byte(`{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`)
	resp := post(t, ep, "/model/"+url.PathEscape(haiku)+"/converse", body, nil)
	if resp.StatusCode != 403 || !strings.HasPrefix(resp.Header.Get("X-Amzn-ErrorType"), "UnrecognizedClientException") {
		t.Errorf("unsigned: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
	resp = post(t, ep, "/model/"+url.PathEscape(haiku)+"/converse", body, func(r *http.Request) {
		sign(t, srv, r, []byte(`{"messages":[]}`))
	})
	if resp.StatusCode != 403 || !strings.HasPrefix(resp.Header.Get("X-Amzn-ErrorType"), "InvalidSignatureException") {
		t.Errorf("tampered body: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
	if srv.Refused() != 5 || srv.Signed() != 0 {
		t.Errorf("refused %d signed %d", srv.Refused(), srv.Signed())
	}
}

func TestSessionToken(t *testing.T) {
	srv, ep := start(t, Options{SessionToken: "stub-token"})
	in := &bedrockruntime.ConverseInput{ModelId: aws.String(haiku), Messages: []types.Message{userText("hi")}}
	if _, err := client(srv, ep).Converse(context.Background(), in); err != nil {
		t.Errorf("with the token: %v", err)
	}
	o := srv.Options()
	if _, err := client(srv, ep, func(opt *bedrockruntime.Options) {
		opt.Credentials = credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, "")
	}).Converse(context.Background(), in); err == nil {
		t.Error("accepted without the session token")
	}
}

// sign signs r for body with the server's credentials.
func sign(t *testing.T, srv *Server, r *http.Request, body []byte) {
	t.Helper()
	o := srv.Options()
	sum := sha256.Sum256(body)
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: o.AccessKeyID, SecretAccessKey: o.SecretAccessKey},
		r, hex.EncodeToString(sum[:]), SigningName, o.Region, time.Now())
	if err != nil {
		t.Fatal(err)
	}
}

// post sends body to path, letting prep sign it.
func post(t *testing.T, ep, path string, body []byte, prep func(*http.Request)) *http.Response {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, ep+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	if prep != nil {
		prep(r)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func signedPost(t *testing.T, srv *Server, ep, model, op string, body []byte) (int, string, string) {
	t.Helper()
	resp := post(t, ep, "/model/"+url.PathEscape(model)+"/"+op, body, func(r *http.Request) { sign(t, srv, r, body) })
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(b, &e)
	return resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), e.Message
}

func TestConverseValidation(t *testing.T) {
	srv, ep := start(t, Options{MaxBodyBytes: 4096})
	tool := `"toolConfig":{"tools":[{"toolSpec":{"name":"get_weather","inputSchema":{"json":{"type":"object"}}}}]}`
	use := `{"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"get_weather","input":{}}}]}`
	cases := []struct{ body, msg string }{
		{`{"messages":[{"role":"user","content":[{"text":"hi"}]}],"model":"x"}`, "extraneous key [model] is not permitted"},
		{`{"messages":[{"role":"user","content":[{"text":"hi"}]}],"inferenceConfig":{"max_tokens":5}}`, "extraneous key [max_tokens] is not permitted"},
		{`{"messages":[{"role":"user","content":[{"text":"hi","cache_control":{}}]}]}`, "extraneous key [cache_control] is not permitted"},
		{`{"messages":[]}`, "must start with a user message"},
		{`{"messages":[{"role":"assistant","content":[{"text":"hi"}]}]}`, "must start with a user message"},
		{`{"messages":[{"role":"user","content":[{"text":"a"}]},{"role":"user","content":[{"text":"b"}]}]}`, "must alternate between user and assistant"},
		{`{"messages":[{"role":"system","content":[{"text":"a"}]}]}`, "enum value set: [user, assistant]"},
		{`{"messages":[{"role":"user","content":[]}]}`, "at messages.0 is empty"},
		{`{"messages":[{"role":"user","content":[{"text":"a"}]},` + use + `,{"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[{"text":"x"}]}},{"toolResult":{"toolUseId":"t1","content":[{"text":"y"}]}}]}],` + tool + `}`,
			"The number of toolResult blocks at messages.2.content exceeds the number of toolUse blocks of previous turn."},
		{`{"messages":[{"role":"user","content":[{"text":"a"}]},` + use + `,{"role":"user","content":[{"toolResult":{"toolUseId":"t9","content":[{"text":"x"}]}}]}],` + tool + `}`, "toolUseId t9"},
		{`{"messages":[{"role":"user","content":[{"text":"a"}]},` + use + `,{"role":"user","content":[{"text":"no result"}]}],` + tool + `}`, "Expected toolResult blocks at messages.2.content for the following Ids: t1"},
		{`{"messages":[{"role":"user","content":[{"text":"a"}]},` + use + `,{"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[{"text":"x"}]}}]}]}`, "toolConfig field must be defined"},
		{`{"messages":[{"role":"user","content":[{"document":{"format":"pdf","name":"d","source":{"bytes":"AA=="}}}]}]}`, "document block must be accompanied by a text block"},
		{`{"messages":[{"role":"user","content":[{"text":"a"},{"image":{"format":"bmp","source":{"bytes":"AA=="}}}]}]}`, "[png, jpeg, gif, webp]"},
		{`{"messages":[{"role":"user","content":[{"text":"a"}]}],"inferenceConfig":{"temperature":1.5}}`, "inferenceConfig.temperature"},
		{`{"messages":[{"role":"user","content":[{"text":"a"}]}],"inferenceConfig":{"maxTokens":0}}`, "inferenceConfig.maxTokens"},
		{`{"messages":[{"role":"user","content":[{"text":"a"}]}],"toolConfig":{"tools":[]}}`, "toolConfig.tools"},
		{`{"messages":[{"role":"user","content":[{"text":"a"}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"bad name","inputSchema":{"json":{}}}}]}}`, "toolSpec.name"},
		{`{"messages":[{"role":"user","content":[{"text":"a"}]}],` + strings.TrimSuffix(tool, "}") + `,"toolChoice":{"tool":{"name":"nope"}}}}`, "nope"},
		{`{"messages":[{"role":"user","content":[{"text":"` + strings.Repeat("x", 5000) + `"}]}]}`, "too long"},
	}
	for _, tc := range cases {
		for _, op := range []string{"converse", "converse-stream"} {
			status, typ, msg := signedPost(t, srv, ep, haiku, op, []byte(tc.body))
			if status != 400 || !strings.HasPrefix(typ, "ValidationException:") || !strings.Contains(msg, tc.msg) {
				t.Errorf("%s %.80s: %d %s %q, want %q", op, tc.body, status, typ, msg, tc.msg)
			}
		}
	}
	// A valid tool round trip, with passthrough fields recorded.
	good := `{"messages":[{"role":"user","content":[{"text":"a"},{"document":{"format":"pdf","name":"d","source":{"bytes":"AA=="}}},{"image":{"format":"webp","source":{"bytes":"AA=="}}}]},` + use +
		`,{"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[{"json":{"t":1}}]}}]}],"inferenceConfig":{"maxTokens":5,"temperature":0.2,"topP":0.9,"stopSequences":["x"]},` +
		`"additionalModelRequestFields":{"top_k":7},` + strings.TrimSuffix(tool, "}") + `,"toolChoice":{"auto":{}}}}`
	if status, typ, msg := signedPost(t, srv, ep, haiku, "converse", []byte(good)); status != 200 {
		t.Fatalf("valid request: %d %s %s", status, typ, msg)
	}
	cr := srv.Last().Converse
	if cr == nil || string(cr.AdditionalModelRequestFields) != `{"top_k":7}` || *cr.InferenceConfig.MaxTokens != 5 || cr.ToolConfig.Tools[0].ToolSpec.Name != "get_weather" {
		t.Errorf("recorded %+v", cr)
	}
}

func TestAdditionalFieldsFromSDK(t *testing.T) {
	srv, ep := start(t, Options{})
	_, err := client(srv, ep).Converse(context.Background(), &bedrockruntime.ConverseInput{
		ModelId:                      aws.String(haiku),
		Messages:                     []types.Message{userText("hi")},
		System:                       []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: "be brief"}},
		InferenceConfig:              &types.InferenceConfiguration{MaxTokens: aws.Int32(64), Temperature: aws.Float32(0.5)},
		AdditionalModelRequestFields: document.NewLazyDocument(map[string]any{"thinking": map[string]any{"type": "enabled", "budget_tokens": 1024}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	cr := srv.Last().Converse
	var extra map[string]map[string]any
	if err := json.Unmarshal(cr.AdditionalModelRequestFields, &extra); err != nil || extra["thinking"]["budget_tokens"] != float64(1024) {
		t.Errorf("additional fields %s", cr.AdditionalModelRequestFields)
	}
	if *cr.System[0].Text != "be brief" || *cr.InferenceConfig.MaxTokens != 64 {
		t.Errorf("recorded %+v", cr)
	}
}

func TestScriptAndQueue(t *testing.T) {
	srv, ep := start(t, Options{})
	c := client(srv, ep)
	srv.Script(func(r Request) *Scenario {
		if strings.Contains(r.Converse.Texts()[0], "script") {
			return &Scenario{Blocks: []Block{Text("scripted")}}
		}
		return nil
	})
	srv.Next(Scenario{Blocks: []Block{Text("queued")}})
	ask := func(q string) string {
		out, err := c.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String("stub.text.chunks-1"), Messages: []types.Message{userText(q)}})
		if err != nil {
			t.Fatal(err)
		}
		return converseText(t, out)
	}
	if got := []string{ask("script"), ask("script"), ask("plain")}; strings.Join(got, "|") != "queued|scripted|tok0 " {
		t.Errorf("answers %q", got)
	}
}

func TestInvokeModelAnthropic(t *testing.T) {
	srv, ep := start(t, Options{})
	c := client(srv, ep)
	body := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,"system":"be brief","messages":[{"role":"user","content":"hi"}]}`)
	out, err := c.InvokeModel(context.Background(), &bedrockruntime.InvokeModelInput{ModelId: aws.String(haiku), Body: body, ContentType: aws.String("application/json")})
	if err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Type    string `json:"type"`
		Model   string `json:"model"`
		Content []struct {
			Type, Text string
		} `json:"content"`
		StopReason string         `json:"stop_reason"`
		Usage      map[string]int `json:"usage"`
	}
	if err := json.Unmarshal(out.Body, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Type != "message" || msg.Model != haiku || msg.Content[0].Text != "Answer from "+haiku+"." || msg.StopReason != "end_turn" || msg.Usage["input_tokens"] != InputTokens {
		t.Errorf("answer %+v", msg)
	}
	if srv.Last().Anthropic == nil || srv.Last().Anthropic.MaxTokens != 64 {
		t.Errorf("recorded %+v", srv.Last().Anthropic)
	}
	// Bedrock's Claude refuses "model" and "stream" in the body.
	_, err = c.InvokeModel(context.Background(), &bedrockruntime.InvokeModelInput{ModelId: aws.String(haiku),
		Body: []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,"model":"x","messages":[{"role":"user","content":"hi"}]}`)})
	var ve *types.ValidationException
	if !errors.As(err, &ve) || !strings.Contains(ve.ErrorMessage(), "extraneous key [model] is not permitted") {
		t.Errorf("model in body: %v", err)
	}
}

func TestInvokeModelWithResponseStream(t *testing.T) {
	srv, ep := start(t, Options{})
	body := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}`)
	out, err := client(srv, ep).InvokeModelWithResponseStream(context.Background(), &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String("stub.cache.chunks-2"), Body: body})
	if err != nil {
		t.Fatal(err)
	}
	st := out.GetStream()
	defer st.Close()
	var kinds []string
	var text string
	var cacheRead, inputCount float64
	for ev := range st.Events() {
		ch, ok := ev.(*types.ResponseStreamMemberChunk)
		if !ok {
			t.Fatalf("event %T", ev)
		}
		var e map[string]any
		if err := json.Unmarshal(ch.Value.Bytes, &e); err != nil {
			t.Fatalf("chunk %q: %v", ch.Value.Bytes, err)
		}
		kinds = append(kinds, e["type"].(string))
		switch e["type"] {
		case "message_start":
			cacheRead = e["message"].(map[string]any)["usage"].(map[string]any)["cache_read_input_tokens"].(float64)
		case "content_block_delta":
			text += e["delta"].(map[string]any)["text"].(string)
		case "message_stop":
			inputCount = e["amazon-bedrock-invocationMetrics"].(map[string]any)["inputTokenCount"].(float64)
		}
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	want := "message_start content_block_start content_block_delta content_block_delta content_block_stop message_delta message_stop"
	if strings.Join(kinds, " ") != want || text != "tok0 tok1 " || cacheRead != 100 || inputCount != InputTokens {
		t.Errorf("kinds %v text %q cache read %v input %v", kinds, text, cacheRead, inputCount)
	}

	// A mid-stream error arrives typed here too.
	out, err = client(srv, ep).InvokeModelWithResponseStream(context.Background(), &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String("stub.error-midstream"), Body: body})
	if err != nil {
		t.Fatal(err)
	}
	for range out.GetStream().Events() {
	}
	var me *types.ModelStreamErrorException
	if err := out.GetStream().Err(); !errors.As(err, &me) {
		t.Errorf("midstream: %v", err)
	}
}

func TestCountTokens(t *testing.T) {
	srv, ep := start(t, Options{})
	out, err := client(srv, ep).CountTokens(context.Background(), &bedrockruntime.CountTokensInput{
		ModelId: aws.String(haiku),
		Input: &types.CountTokensInputMemberConverse{Value: types.ConverseTokensRequest{
			Messages: []types.Message{userText("one two three")},
			System:   []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: "four five"}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(out.InputTokens) != 5 || srv.Last().Operation != "CountTokens" {
		t.Errorf("input tokens %d", aws.ToInt32(out.InputTokens))
	}
}
