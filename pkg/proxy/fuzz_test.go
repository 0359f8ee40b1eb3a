package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
)

// The rewrite must never panic, and whatever it sends upstream is valid JSON
// with exactly one model member, the resolved one.
func FuzzRewriteBody(f *testing.F) {
	for _, s := range []string{
		`{"messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":false},"messages":[1],"top_k":3}`,
		`{"model":"a","model":"b","messages":[{}]}`,
		`{"\u006dodel":"x","messages":[{}]}`,
		`{"messages":[{}],"stream_options":null,"apikey":"k"}`,
		`[]`, `"s"`, `{`, `{"a":{"b":["}"]}}`,
	} {
		f.Add([]byte(s))
	}
	p := &config.Plugin{RouteType: config.RouteChat, ResponseStreaming: config.StreamAllow, Auth: config.Auth{ParamName: "key", ParamValue: "v", ParamLocation: "body"}}
	f.Fuzz(func(t *testing.T, body []byte) {
		rw, e := rewriteBody(p, input{body: body, configured: "gpt-4o", hide: []string{"apikey"}})
		if e != nil {
			return
		}
		if !json.Valid(rw.body) {
			t.Fatalf("invalid upstream JSON %q from %q", rw.body, body)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(rw.body, &m); err != nil {
			t.Fatal(err)
		}
		if string(m["model"]) != `"gpt-4o"` {
			t.Fatalf("upstream model %s from %q", m["model"], body)
		}
		if _, ok := m["apikey"]; ok {
			t.Fatalf("client key member kept in %q", rw.body)
		}
		if bytes.Count(rw.body, []byte(`"model":`)) != 1 {
			t.Fatalf("model member not unique in %q", rw.body)
		}
		// No decoder, however it matches names, reads a controlled member
		// the proxy did not decide.
		fields, err := topLevel(rw.body, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fields {
			for _, name := range controlled {
				if strings.EqualFold(f.key, name) && (f.key != name || f.escaped) {
					t.Fatalf("ambiguous member %q upstream in %q", f.key, rw.body)
				}
			}
		}
	})
}

// The relay must pass every byte of a well-formed stream through unchanged
// (when it hides nothing) however the upstream splits it, and never hang.
func FuzzSSERelay(f *testing.F) {
	f.Add([]byte(chunk1+chunk2+usageOnly+done), uint8(7))
	f.Add([]byte("data: x\r\n\r\ndata: [DONE]\n\n"), uint8(1))
	f.Add([]byte("event: ping\n\n: comment\n\ndata: {\"usage\": {\"total_tokens\": 1}}\n\n"), uint8(3))
	f.Add([]byte("no blank line at all"), uint8(200))
	f.Fuzz(func(t *testing.T, stream []byte, split uint8) {
		n := int(split)%16 + 1
		var parts []string
		for i := 0; i < len(stream); i += n {
			parts = append(parts, string(stream[i:min(i+n, len(stream))]))
		}
		r := newSSERelay(context.Background(), &pieces{parts: parts, err: io.EOF}, &outcome{}, false)
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, stream) {
			t.Fatalf("relayed %q, want %q", got, stream)
		}
	})
}
