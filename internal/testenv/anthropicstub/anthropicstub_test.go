package anthropicstub

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
)

// client is the official SDK pointed at the server: what it reads is the
// real wire format.
func client(t *testing.T, key string) (anthropic.Client, *Server) {
	s := New("")
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return anthropic.NewClient(option.WithBaseURL(ts.URL), option.WithHeader("x-api-key", key), option.WithMaxRetries(0)), s
}

func params(model string) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{Model: anthropic.Model(model), MaxTokens: 100,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}}
}

func TestSDKReadsAnswers(t *testing.T) {
	c, s := client(t, DefaultKey)
	m, err := c.Messages.New(context.Background(), params("stub-tools"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Content) != 3 || m.Content[0].Text != ToolsText || m.Content[1].Name != "get_weather" || string(m.Content[2].Input) != ToolCalls[1][2] && m.Content[2].ID != ToolCalls[1][0] {
		t.Fatalf("content %+v", m.Content)
	}
	if m.StopReason != anthropic.StopReasonToolUse || m.Usage.InputTokens != 310 {
		t.Fatalf("stop %q usage %+v", m.StopReason, m.Usage)
	}
	if h := s.Last().Header; h.Get("anthropic-version") == "" || h.Get("x-api-key") != DefaultKey {
		t.Fatalf("headers %v", h)
	}
}

func TestSDKAccumulatesStreams(t *testing.T) {
	c, _ := client(t, DefaultKey)
	for _, model := range []string{"stub-tools", "stub-thinking", "stub-cache", "any-model"} {
		st := c.Messages.NewStreaming(context.Background(), params(model))
		var acc anthropic.Message
		for st.Next() {
			if err := acc.Accumulate(st.Current()); err != nil {
				t.Fatal(model, err)
			}
		}
		if err := st.Err(); err != nil {
			t.Fatal(model, err)
		}
		want := ScenarioFor(model)
		if len(acc.Content) != len(want.Blocks) {
			t.Fatalf("%s: %d blocks, want %d", model, len(acc.Content), len(want.Blocks))
		}
		for i, b := range want.Blocks {
			got := acc.Content[i]
			switch b.Kind {
			case "text":
				if got.Text != b.Joined() {
					t.Fatalf("%s: text %q", model, got.Text)
				}
			case "thinking":
				if got.Thinking != b.Joined() || got.Signature != b.Signature {
					t.Fatalf("%s: thinking %+v", model, got)
				}
			}
		}
		if acc.Usage.OutputTokens != want.Usage.Output || acc.Usage.CacheReadInputTokens != want.Usage.CacheRead {
			t.Fatalf("%s: usage %+v", model, acc.Usage)
		}
	}
}

func TestErrorsAndValidation(t *testing.T) {
	c, _ := client(t, "wrong")
	_, err := c.Messages.New(context.Background(), params("x"))
	var ae *anthropic.Error
	if !errors.As(err, &ae) || ae.StatusCode != 401 {
		t.Fatalf("err %v", err)
	}
	c, _ = client(t, DefaultKey)
	_, err = c.Messages.New(context.Background(), params("stub-error-429"))
	if !errors.As(err, &ae) || ae.StatusCode != 429 || ae.Response.Header.Get("Retry-After") != "7" {
		t.Fatalf("err %v", err)
	}
	p := params("x")
	p.Messages = append(p.Messages, anthropic.NewUserMessage(anthropic.NewToolResultBlock("toolu_x", "r", false)))
	if _, err = c.Messages.New(context.Background(), p); !errors.As(err, &ae) || ae.StatusCode != 400 {
		t.Fatalf("an orphan tool result passed: %v", err)
	}
}

func TestLockstep(t *testing.T) {
	c, s := client(t, DefaultKey)
	st := c.Messages.NewStreaming(context.Background(), params("stub-cache-lockstep"))
	if !st.Next() || st.Current().Type != "message_start" {
		t.Fatal("no first event", st.Err())
	}
	n := 1
	for {
		s.Step()
		if !st.Next() {
			break
		}
		n++
	}
	if st.Err() != nil || n != len(streamEvents("x", "m", ScenarioFor("stub-cache"))) {
		t.Fatalf("events %d err %v", n, st.Err())
	}
}
