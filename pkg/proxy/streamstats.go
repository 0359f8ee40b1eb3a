package proxy

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

// streamCollect gathers, while a stream is relayed, what its statistics
// need besides a usage chunk: the length of the answer's text, for Kong's
// token estimate when the upstream sends no usage, and the start of that
// text, for the payload log. It holds at most keep bytes of text.
type streamCollect struct {
	keep   int
	text   []byte
	length strippedLen
	finish string
}

// newStreamCollect keeps text for the payload log only when it is logged,
// a little beyond the log's cap so that redaction sees a key cut by the cap
// whole.
func newStreamCollect(pl *plan) *streamCollect {
	c := &streamCollect{}
	if pl.plugin.Logging.LogPayloads {
		c.keep = stats.MaxPayloadLog + 1<<10
	}
	return c
}

// add takes one chunk's text: choices[0].delta.content, or
// choices[0].text of a text completion (normalize-sse-chunk.lua).
func (c *streamCollect) add(text string) {
	c.length.add(text)
	if room := c.keep - len(c.text); room > 0 {
		c.text = append(c.text, text[:min(room, len(text))]...)
	}
}

// strippedLen is the byte length the assembled text has once leading and
// trailing white space is stripped, as Kong's strip does, counted without
// keeping the text.
type strippedLen struct {
	n, trail int
	started  bool
}

func (s *strippedLen) add(text string) {
	for i := 0; i < len(text); i++ {
		ws := luaSpace(text[i])
		if !s.started {
			if ws {
				continue
			}
			s.started = true
		}
		s.n++
		if ws {
			s.trail++
		} else {
			s.trail = 0
		}
	}
}

func (s *strippedLen) len() int { return s.n - s.trail }

// luaSpace is Lua's %s and Kong's strip: space and \t \n \v \f \r.
func luaSpace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }

// streamChunk is what the relay reads of a chunk.
type streamChunk struct {
	model   string
	choices bool   // a non-empty "choices"
	text    []byte // the first choice's delta.content or text, as JSON
	finish  []byte // the first choice's finish_reason, as JSON
	usage   []byte // the "usage" value
}

// readChunk reads a chunk's members with the hand-written scanner rather
// than encoding/json: it runs on every chunk of every stream while
// statistics are on, and reflection made it several times slower.
func readChunk(data []byte) (streamChunk, bool) {
	var c streamChunk
	var arr [16]field
	fields, err := topLevel(data, arr[:0])
	if err != nil {
		return c, false
	}
	for _, f := range fields {
		v := data[f.start:f.end]
		switch f.key {
		case "model":
			c.model = jsonString(v)
		case "usage":
			c.usage = v
		case "choices":
			c.choices, c.text, c.finish = firstChoice(v)
		}
	}
	return c, true
}

// firstChoice reads the first element of a valid "choices" array.
func firstChoice(v []byte) (nonEmpty bool, text, finish []byte) {
	if len(v) == 0 || v[0] != '[' {
		return false, nil, nil
	}
	i := skipSpace(v, 1)
	if i >= len(v) || v[i] == ']' {
		return false, nil, nil
	}
	end, _ := scanValue(v, i, 1)
	var arr [8]field
	fields, err := topLevel(v[i:end], arr[:0])
	if err != nil {
		return true, nil, nil
	}
	choice := v[i:end]
	for _, f := range fields {
		switch f.key {
		case "delta":
			var darr [8]field
			delta := choice[f.start:f.end]
			if df, err := topLevel(delta, darr[:0]); err == nil {
				for _, d := range df {
					if d.key == "content" {
						text = delta[d.start:d.end]
					}
				}
			}
		case "text":
			if text == nil {
				text = choice[f.start:f.end]
			}
		case "finish_reason":
			finish = choice[f.start:f.end]
		}
	}
	return true, text, finish
}

// jsonString decodes a JSON string value; anything else is "".
func jsonString(v []byte) string {
	if len(v) < 2 || v[0] != '"' {
		return ""
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return string(v[1 : len(v)-1])
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return ""
	}
	return s
}

// estimateMissing fills in Kong's estimate for a complete 200 answer that
// carried no usage, for the statistics and the rate limit's settlement. A
// stream: prompt words x 1.8 and the answer's bytes / 4. A JSON answer:
// prompt words x 1.0 and no completion count, as Kong has it
// (normalize-request.lua sets the prompt count before proxying; only the
// answer's usage object replaces it, parse-json-response.lua). An answer
// cut short keeps no usage: how much the upstream generated is unknown.
func estimateMissing(pl *plan, o *outcome) {
	if o.usage != nil || o.status != http.StatusOK {
		return
	}
	switch {
	case o.collect != nil:
		if o.streamDone && o.streamErr == nil {
			o.usage = estimateUsage(pl.body, o.collect)
		}
	case o.tap != nil && o.tap.queue.complete:
		prompt := int(math.Floor(promptCount(pl.body, 1) + 0.5))
		o.usage = &stats.Usage{PromptTokens: prompt, TotalTokens: prompt, Estimated: true}
	}
}

// estimateUsage is Kong's estimate for a stream that carried no usage:
// prompt words x 1.8, rounded (normalize-request.lua, shared.lua
// calculate_cost), and the stripped answer's bytes / 4, rounded up
// (normalize-sse-chunk.lua).
func estimateUsage(upstreamBody []byte, c *streamCollect) *stats.Usage {
	prompt := int(math.Floor(promptCount(upstreamBody, 1.8) + 0.5))
	completion := (c.length.len() + 3) / 4
	return &stats.Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion, Estimated: true}
}

// promptCount is Kong's calculate_cost: the words of each message's content
// (a string, or the text parts of a list) x factor, else those of the
// prompt (a string, or a list of strings, x factor, and token ids, one
// each). A body it cannot read counts 0.
func promptCount(body []byte, factor float64) float64 {
	var req struct {
		Messages []struct {
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		Prompt json.RawMessage `json:"prompt"`
	}
	if json.Unmarshal(body, &req) != nil {
		return 0
	}
	n := 0
	if req.Messages != nil {
		for _, m := range req.Messages {
			n += contentWords(m.Content)
		}
		return float64(n) * factor
	}
	var s string
	if json.Unmarshal(req.Prompt, &s) == nil {
		return float64(luaWords(s)) * factor
	}
	var items []json.RawMessage
	if json.Unmarshal(req.Prompt, &items) != nil {
		return 0
	}
	var count float64
	for _, it := range items {
		var ids []json.Number
		switch {
		case json.Unmarshal(it, &s) == nil:
			count += float64(luaWords(s)) * factor
		case len(it) > 0 && it[0] != '[' && it[0] != '"':
			count++ // a token id
		case json.Unmarshal(it, &ids) == nil:
			count += float64(len(ids))
		}
	}
	return count
}

// contentWords counts a message content: a string, or the "text" of its
// parts of type text.
func contentWords(raw json.RawMessage) int {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return luaWords(s)
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return 0
	}
	n := 0
	for _, p := range parts {
		if p.Type == "text" {
			n += luaWords(p.Text)
		}
	}
	return n
}

// luaWords counts the matches of Lua's %S+.
func luaWords(s string) int {
	n, in := 0, false
	for i := 0; i < len(s); i++ {
		ws := luaSpace(s[i])
		if !ws && !in {
			n++
		}
		in = !ws
	}
	return n
}

// streamPayload is the logged response of a stream: Kong's composite
// answer (normalize-sse-chunk.lua) holding the assembled text.
func streamPayload(c *streamCollect, u *stats.Usage) []byte {
	type message struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	type choice struct {
		FinishReason *string  `json:"finish_reason"`
		Index        int      `json:"index"`
		Logprobs     *float64 `json:"logprobs"`
		Message      message  `json:"message"`
	}
	doc := struct {
		Choices []choice     `json:"choices"`
		Object  string       `json:"object"`
		Usage   *stats.Usage `json:"usage,omitempty"`
	}{Object: "chat.completion", Usage: u}
	var finish *string
	if c.finish != "" {
		finish = &c.finish
	}
	doc.Choices = []choice{{FinishReason: finish, Message: message{Role: "assistant", Content: string(c.text)}}}
	b, _ := json.Marshal(doc)
	return b
}
