package messages

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// recorded is one request an upstream received.
type recorded struct {
	Path   string
	Header http.Header
	Body   []byte
}

type recorder struct {
	mu   sync.Mutex
	reqs []recorded
}

func (r *recorder) add(req *http.Request) []byte {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.reqs = append(r.reqs, recorded{Path: req.URL.Path, Header: req.Header.Clone(), Body: b})
	r.mu.Unlock()
	return b
}

func (r *recorder) last(t *testing.T) recorded {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		t.Fatal("the upstream received nothing")
	}
	return r.reqs[len(r.reqs)-1]
}

// hasToolResult reports whether the last message of a chat or Messages
// body answers a tool call.
func hasToolResult(body []byte) bool {
	var req struct {
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	_ = json.Unmarshal(body, &req)
	if len(req.Messages) == 0 {
		return false
	}
	m := req.Messages[len(req.Messages)-1]
	return m.Role == "tool" || strings.Contains(string(m.Content), `"tool_result"`)
}

// openAITools is an OpenAI-compatible upstream that answers a tool call
// (get_weather, arguments in three pieces when streamed) unless the last
// message is a tool result, which it answers with text.
func openAITools(t *testing.T) (*httptest.Server, *recorder) {
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := rec.add(r)
		var req struct {
			Stream bool `json:"stream"`
		}
		_ = json.Unmarshal(body, &req)
		final := hasToolResult(body)
		usage := `{"prompt_tokens":20,"completion_tokens":7,"total_tokens":27,"prompt_tokens_details":{"cached_tokens":5}}`
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			if final {
				fmt.Fprintf(w, `{"id":"c1","object":"chat.completion","created":1,"model":"gpt-test","choices":[{"index":0,"message":{"role":"assistant","content":"It is sunny."},"finish_reason":"stop"}],"usage":%s}`, usage)
				return
			}
			fmt.Fprintf(w, `{"id":"c1","object":"chat.completion","created":1,"model":"gpt-test","choices":[{"index":0,"message":{"role":"assistant","content":"Let me check.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},"finish_reason":"tool_calls"}],"usage":%s}`, usage)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		send := func(s string) { fmt.Fprintf(w, "data: %s\n\n", s); w.(http.Flusher).Flush() }
		head := `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-test","choices":`
		send(head + `[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`)
		if final {
			send(head + `[{"index":0,"delta":{"content":"It is "},"finish_reason":null}]}`)
			send(head + `[{"index":0,"delta":{"content":"sunny."},"finish_reason":null}]}`)
			send(head + `[{"index":0,"delta":{},"finish_reason":"stop"}]}`)
		} else {
			send(head + `[{"index":0,"delta":{"content":"Let me check."},"finish_reason":null}]}`)
			send(head + `[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}`)
			for _, p := range []string{`{\"ci`, `ty\":\"Pa`, `ris\"}`} {
				send(head + `[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"` + p + `"}}]},"finish_reason":null}]}`)
			}
			send(head + `[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`)
		}
		send(`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-test","choices":[],"usage":` + usage + `}`)
		send("[DONE]")
	}))
	t.Cleanup(srv.Close)
	return srv, rec
}

// anthropicUpstream is a small server in Anthropic's Messages format: a
// tool_use answer (get_weather) unless the last message is a tool result,
// streamed as Anthropic's events; count_tokens answers 42; the key must be
// the configured one.
func anthropicUpstream(t *testing.T, key string) (*httptest.Server, *recorder) {
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := rec.add(r)
		if r.Header.Get("X-Api-Key") != key {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(401)
			_, _ = w.Write([]byte(`{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`))
			return
		}
		if strings.HasSuffix(r.URL.Path, "/count_tokens") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"input_tokens":42}`))
			return
		}
		var req struct {
			Model  string `json:"model"`
			Stream bool   `json:"stream"`
		}
		_ = json.Unmarshal(body, &req)
		if req.Model == "claude-overloaded" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(529)
			_, _ = w.Write([]byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`))
			return
		}
		final := hasToolResult(body)
		usage := `{"input_tokens":11,"cache_creation_input_tokens":3,"cache_read_input_tokens":100,"output_tokens":9}`
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			content := `[{"type":"text","text":"Let me check."},{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]`
			stop := "tool_use"
			if final {
				content, stop = `[{"type":"text","text":"It is sunny."}]`, "end_turn"
			}
			fmt.Fprintf(w, `{"id":"msg_1","type":"message","role":"assistant","model":%q,"content":%s,"stop_reason":%q,"stop_sequence":null,"usage":%s}`, req.Model, content, stop, usage)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		send := func(typ, data string) {
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ, data)
			w.(http.Flusher).Flush()
		}
		send("message_start", `{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"`+req.Model+`","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":11,"cache_creation_input_tokens":3,"cache_read_input_tokens":100,"output_tokens":1}}}`)
		send("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`)
		text, stop := "Let me check.", "tool_use"
		if final {
			text, stop = "It is sunny.", "end_turn"
		}
		send("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"`+text+`"}}`)
		send("content_block_stop", `{"type":"content_block_stop","index":0}`)
		if !final {
			send("content_block_start", `{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}}`)
			for _, p := range []string{`{\"ci`, `ty\":\"Pa`, `ris\"}`} {
				send("content_block_delta", `{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"`+p+`"}}`)
			}
			send("content_block_stop", `{"type":"content_block_stop","index":1}`)
		}
		send("message_delta", `{"type":"message_delta","delta":{"stop_reason":"`+stop+`","stop_sequence":null},"usage":{"output_tokens":9}}`)
		send("message_stop", `{"type":"message_stop"}`)
	}))
	t.Cleanup(srv.Close)
	return srv, rec
}
