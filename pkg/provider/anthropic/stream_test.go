package anthropic

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/anthropicstub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

func streamBody(model string) string {
	return `{"model":"` + model + `","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hi"}]}`
}

// chunks reads a translated stream into its chunk objects, the error
// that ended it, and whether [DONE] came.
func chunks(t *testing.T, r io.Reader) (out []map[string]any, done bool, err error) {
	t.Helper()
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("not an SSE data line: %q", line)
		}
		if data == "[DONE]" {
			done = true
			continue
		}
		var m map[string]any
		if e := json.Unmarshal([]byte(data), &m); e != nil {
			t.Fatalf("%s: %v", data, e)
		}
		out = append(out, m)
	}
	return out, done, sc.Err()
}

func TestStreamTools(t *testing.T) {
	res := roundTrip(t, anthropicstub.New(""), streamBody("stub-tools"))
	cs, done, err := chunks(t, res.Body)
	if err != nil || !done {
		t.Fatalf("done %v err %v", done, err)
	}
	var text string
	args := map[int]string{}
	ids := map[int]string{}
	var finish any
	var usage any
	id := cs[0]["id"]
	for _, c := range cs {
		if c["id"] != id {
			t.Fatalf("ids differ: %v %v", c["id"], id)
		}
		if u := c["usage"]; u != nil {
			usage = u
		}
		ch, _ := c["choices"].([]any)
		if len(ch) == 0 {
			continue
		}
		if f := at(ch[0], "finish_reason"); f != nil {
			finish = f
		}
		if s, ok := at(ch[0], "delta.content").(string); ok {
			text += s
		}
		tcs, _ := at(ch[0], "delta.tool_calls").([]any)
		for _, tc := range tcs {
			i := int(at(tc, "index").(float64))
			if v, ok := at(tc, "id").(string); ok {
				ids[i] = v
			}
			args[i] += at(tc, "function.arguments").(string)
		}
	}
	if text != anthropicstub.ToolsText || finish != "tool_calls" {
		t.Fatalf("text %q finish %v", text, finish)
	}
	for i, want := range anthropicstub.ToolCalls {
		var a, b any
		_ = json.Unmarshal([]byte(args[i]), &a)
		_ = json.Unmarshal([]byte(want[2]), &b)
		if ids[i] != want[0] || js(a) != js(b) {
			t.Fatalf("call %d: id %q args %q", i, ids[i], args[i])
		}
	}
	if js(usage) != `{"completion_tokens":88,"prompt_tokens":310,"total_tokens":398}` {
		t.Fatalf("usage %s", js(usage))
	}
}

func TestStreamThinkingAndCache(t *testing.T) {
	res := roundTrip(t, anthropicstub.New(""), streamBody("stub-thinking"))
	cs, done, _ := chunks(t, res.Body)
	var reasoning string
	var blocks []any
	for _, c := range cs {
		if s, ok := at(c, "choices.0.delta.reasoning_content").(string); ok {
			reasoning += s
		}
		if b, ok := at(c, "choices.0.delta.thinking_blocks").([]any); ok {
			blocks = append(blocks, b...)
		}
	}
	if !done || reasoning != anthropicstub.ThinkText || js(blocks) != `[{"signature":"EqQBCkYIBxgCKkBsignature==","thinking":"The user greets me. I should greet back.","type":"thinking"}]` {
		t.Fatalf("reasoning %q blocks %s", reasoning, js(blocks))
	}
	res = roundTrip(t, anthropicstub.New(""), streamBody("stub-cache"))
	cs, _, _ = chunks(t, res.Body)
	if u := js(cs[len(cs)-1]["usage"]); u != `{"completion_tokens":7,"prompt_tokens":1212,"prompt_tokens_details":{"cache_creation_tokens":200,"cached_tokens":1000},"total_tokens":1219}` {
		t.Fatalf("usage %s", u)
	}
}

func TestStreamFailures(t *testing.T) {
	for _, c := range []struct{ model, code string }{
		{"stub-error-midstream", "overloaded_error"},
		{"stub-cut", "stream_cut"},
	} {
		res := roundTrip(t, anthropicstub.New(""), streamBody(c.model))
		_, done, err := chunks(t, res.Body)
		var se *provider.StreamError
		if done || !errors.As(err, &se) || se.Code != c.code {
			t.Errorf("%s: done %v err %v", c.model, done, err)
		}
	}
}

// Events are translated as they are pulled: the first chunk is out before
// the stub writes its second event.
func TestStreamLockstep(t *testing.T) {
	s := anthropicstub.New("")
	res := roundTrip(t, s, streamBody("hello-lockstep"))
	ev := res.Body.(io.Reader)
	buf := make([]byte, 64<<10)
	n, err := ev.Read(buf)
	if err != nil || !strings.Contains(string(buf[:n]), `"role":"assistant"`) {
		t.Fatalf("first read %q %v", buf[:n], err)
	}
	for range 20 {
		s.Step()
	}
	rest, _ := io.ReadAll(ev)
	if !strings.Contains(string(rest), "Hello from ") || !strings.HasSuffix(string(rest), "data: [DONE]\n\n") {
		t.Fatalf("rest %q", rest)
	}
}

func TestStreamBounds(t *testing.T) {
	big := "data: " + strings.Repeat("x", MaxEventBytes+10) + "\n\n"
	e := newEvents(io.NopCloser(strings.NewReader(big)), "m", true)
	var se *provider.StreamError
	if _, err := e.Next(); !errors.As(err, &se) || se.Code != "bad_upstream_response" {
		t.Fatalf("oversized event: %v", err)
	}
	e = newEvents(io.NopCloser(strings.NewReader("data: {not json\n\n")), "m", true)
	if _, err := e.Next(); !errors.As(err, &se) {
		t.Fatalf("bad json: %v", err)
	}
}
