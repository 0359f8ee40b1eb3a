package proxy

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// streamScan feeds doc to a jsonStream in pieces of n bytes and returns it
// with the captured top-level members.
func streamScan(doc string, n int) (*jsonStream, map[string]string) {
	got := map[string]string{}
	s := &jsonStream{sink: captureAll(got)}
	for len(doc) > 0 {
		k := min(n, len(doc))
		_, _ = s.Write([]byte(doc[:k]))
		doc = doc[k:]
	}
	_ = s.Close()
	return s, got
}

var streamDocs = []string{
	`{}`, `[]`, `1`, `-0.5e+3`, `"x"`, `true`, `null`, ` {"a" : 1 , "b":[1,2,{"c":"\u00e9\"\\"}], "d":null}  `,
	`{"model":"gpt-4o","choices":[{"message":{"content":"\"usage\":{}"}}],"usage":{"prompt_tokens":1}}`,
	`{"a":1}x`, `{"a":1,}`, `{"a"}`, `{"a":01}`, `{"a":-}`, `{"a":1.}`, `{"a":1e}`, `[1,]`, `{"a":"\x"}`,
	"{\"a\":\"\x01\"}", `{"a":tru}`, `{"a":"\u12g4"}`, `{`, `{"a":[}`, ``, `  `, `{"a":1}{}`, `[1 2]`, `{"a" 1}`,
	`{"ch\u006fices":[]}`, `12`, `1.5`, `-`, `1e5`, `0x`, `{"n":-12.5E-3,"t":true,"f":false}`,
	strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1),
	strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth),
}

// The stream scanner accepts exactly what encoding/json accepts, however
// the document is split, and captures each top-level member's raw value.
func TestJSONStreamMatchesEncodingJSON(t *testing.T) {
	for _, doc := range streamDocs {
		for _, n := range []int{1, 2, 3, 7, 1 << 20} {
			s, members := streamScan(doc, n)
			if s.valid() != json.Valid([]byte(doc)) {
				t.Errorf("%.60q in pieces of %d: valid = %v", doc, n, s.valid())
			}
			if !s.valid() {
				continue
			}
			fields, err := topLevel([]byte(doc), nil)
			if err != nil {
				if len(members) != 0 {
					t.Errorf("%.60q: members %v of a non-object", doc, members)
				}
				continue
			}
			for _, f := range fields {
				if got := members[f.key]; got != doc[f.start:f.end] {
					t.Errorf("%.60q in pieces of %d: member %q = %q, want %q", doc, n, f.key, got, doc[f.start:f.end])
				}
			}
		}
	}
}

func FuzzJSONStream(f *testing.F) {
	for _, d := range streamDocs[:len(streamDocs)-2] {
		f.Add(d, 3)
	}
	f.Fuzz(func(t *testing.T, doc string, n int) {
		if n <= 0 || n > 64 {
			n = 1
		}
		s, _ := streamScan(doc, n)
		if s.valid() != json.Valid([]byte(doc)) {
			t.Errorf("%q: valid = %v", doc, s.valid())
		}
	})
}

// captureAll captures every top-level member's value.
type captureAll map[string]string

func (c captureAll) sawKey([]byte, byte)            {}
func (c captureAll) wantValue([]byte) int           { return 1 << 20 }
func (c captureAll) gotValue(k, raw []byte, _ bool) { c[string(k)] = string(raw) }

// BenchmarkJSONStream is the scan of a non-streamed answer as answerTap
// runs it: a completion with escapes, numbers and literals, fed whole and
// in the small pieces a slow upstream delivers, capturing "model" and
// "usage" as the tap does.
func BenchmarkJSONStream(b *testing.B) {
	content := strings.Repeat(`word \"quoted\" \u00e9 tok `, 400)
	doc := []byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini",` +
		`"choices":[{"index":0,"message":{"role":"assistant","content":"` + content + `","refusal":null},` +
		`"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":-3.5e+2,"total_tokens":true}}`)
	for _, piece := range []int{len(doc), 512, 7} {
		b.Run("piece="+strconv.Itoa(piece), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(doc)))
			var sink wantTwo
			for b.Loop() {
				s := jsonStream{sink: &sink}
				for rest := doc; len(rest) > 0; {
					k := min(piece, len(rest))
					_, _ = s.Write(rest[:k])
					rest = rest[k:]
				}
				_ = s.Close()
				if !s.valid() || sink.got != 2 {
					b.Fatalf("valid %v, captured %d", s.valid(), sink.got)
				}
				sink.got = 0
			}
		})
	}
}

// wantTwo captures "model" and "usage", the members answerTap asks for.
type wantTwo struct{ got int }

func (w *wantTwo) sawKey([]byte, byte) {}
func (w *wantTwo) wantValue(k []byte) int {
	if string(k) == "model" || string(k) == "usage" {
		return 4 << 10
	}
	return 0
}
func (w *wantTwo) gotValue(_, raw []byte, _ bool) {
	if raw != nil {
		w.got++
	}
}

// A top-level key shorter than maxKey bytes is reported whole, however
// it is split; a longer one is reported as no key at all, never cut to a
// prefix that might match a member the proxy looks for.
func TestJSONStreamKeyLength(t *testing.T) {
	fits, long := strings.Repeat("k", maxKey-1), strings.Repeat("k", maxKey)
	doc := `{"` + fits + `":1,"` + long + `":2,"` + long + `x":3}`
	for _, n := range []int{1, 5, 1 << 20} {
		s, got := streamScan(doc, n)
		if !s.valid() || len(got) != 1 || got[fits] != "1" {
			t.Errorf("pieces of %d: members %v, want only %q", n, got, fits)
		}
	}
}
