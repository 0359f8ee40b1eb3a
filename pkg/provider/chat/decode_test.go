package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// decodeOracle is Decode as it was before fastDecode: encoding/json with
// DisallowUnknownFields, the contract fastDecode must keep. It is kept
// here, apart from decodeStrict, so that a change to either shows.
func decodeOracle(body []byte) (*Request, error) {
	var r Request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, provider.Invalid("", "the request body has data after its JSON object")
	}
	return &r, nil
}

// decodeDocs are requests fastDecode takes (the first ones) and the edges
// where it must leave the decision to encoding/json.
var decodeDocs = []string{
	benchRequest,
	`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
	`{"messages":[{"role":"user","content":[{"type":"text","text":"a","cache_control":{"type":"ephemeral"}},{"type":"input_audio","input_audio":{"data":"AA==","format":"wav"}},{"type":"file","file":{"file_data":"data:x","filename":"f.pdf"}}]}]}`,
	`{"messages":[{"role":"assistant","content":null,"reasoning_content":"r","thinking_blocks":[{"type":"thinking","thinking":"t","signature":"s"},{"type":"redacted_thinking","data":"d"}],"refusal":"no"}],"tool_choice":{"type":"function","function":{"name":"f"}}}`,
	`{"messages":[],"stop":"x","n":1,"logprobs":false,"top_logprobs":0,"seed":-9007199254740993,"presence_penalty":-0.5e1,"frequency_penalty":0,"logit_bias":{"1":2},"metadata":null,"store":true,"service_tier":"auto","modalities":["text"],"functions":null,"function_call":"none","reasoning_effort":"low","max_completion_tokens":5,"top_k":3,"response_format":{"type":"json_schema","json_schema":{"name":"n","schema":{"type":"object"},"strict":true}}}`,
	`{"messages":[{"role":"user","content":"caf\u00e9 \"q\" \ud83d\ude00 \ud800"}],"user":"é"}`,
	" \n{ \"model\" : \"m\" , \"messages\" : [ { \"role\" : \"user\" , \"content\" : [ ] } ] } \r\n\t",
	`{"messages":null,"tools":null,"stop":null,"modalities":null,"tool_choice":null,"stream_options":null,"response_format":null,"max_tokens":null,"model":null,"stream":null}`,
	`{"messages":[null,{"role":null,"content":[null,{"type":"image_url","image_url":null}],"tool_calls":[null,{"index":0,"function":null}]}],"tools":[null,{"function":{"parameters":null,"strict":null}}]}`,
	`{"messages":[{"content":[{"type":"text","text":"x","extra":{"a":[1,{"b":null}]}}]}]}`,
	`{"messages":[{"content":[{"image_url":{"url":"u","extra":1}}]}]}`,
	`{"stop":["a",null,"b"],"modalities":[],"tools":[]}`,
	"{\"messages\":[{\"content\":\"\xff\xfe invalid utf-8\"}]}",
	`{"messages":[{"content":"a\/b\b\f\n\r\t\\ \u0000\u00e9\u20AC\uFFFF é","tool_calls":[{"function":{"arguments":"{\"a\":\"\\\"\"}"}}]}]}`,
	`{"messages":[{"content":"\ud83d\ude00 \ud800\u0041 \udc00 \ud800 \ud83d\ud83d\ude00 x\ud800"}]}`,
	"{\"messages\":[{\"content\":\"\\n \xe9\"}]}",
	// Left to encoding/json:
	`{"model":"m","colour":"blue"}`, `{"Model":"m"}`, `{"model":"a","model":"b"}`, `{"m\u006fdel":"m"}`,
	`{"messages":[{"role":"user","content":"x","colour":1}]}`, `{"messages":[{"role":"user","content":[{"Type":"text"}]}]}`,
	`{"messages":[{"role":"user","role":"system"}]}`, `{"messages":[{"content":[{"type":"a","type":"b"}]}]}`,
	`{"max_tokens":1.0}`, `{"max_tokens":1e2}`, `{"max_tokens":99999999999999999999}`, `{"temperature":1e400}`, `{"max_tokens":"5"}`,
	`{"stream":1}`, `{"messages":{}}`, `{"messages":[1]}`, `{"messages":[{"content":5}]}`, `{"messages":[{"content":{"a":1}}]}`,
	`{"stop":5}`, `{"stop":[1]}`, `{"tool_choice":"sometimes"}`, `{"tool_choice":{"type":"function"}}`, `{"tool_choice":5}`,
	`{"stream_options":{"include_usage":true,"x":1}}`, `{"response_format":{"type":"json_schema","json_schema":{"name":"n","x":1}}}`,
	`{"tools":[{"type":"function","function":{"name":"f","x":1}}]}`, `{"messages":[{"tool_calls":[{"function":{"name":"f","x":1}}]}]}`,
	`{"model":"m"}x`, `{"model":"m"}{}`, `{"model":"m"`, `{"model":"m",}`, `{,}`, `{"a"}`, ``, ` `, `null`, `[]`, `"s"`, `5`,
	`{"model":"\u00"}`, "{\"model\":\"a\tb\"}", `{"metadata":{"a":[1,2,}}`, `{"metadata":[` + strings.Repeat("[", 300) + strings.Repeat("]", 300) + `]}`,
	`{"metadata":01}`, `{"metadata":-}`, `{"metadata":1.}`, `{"metadata":1e}`, `{"metadata":tru}`, `{"metadata":nul}`,
	"{\"mod\u212Ael\":\"m\"}", `{"messages":[{"content":[{"te\u0078t":"x"}]}]}`, "{\"messages\":[{\"content\":[{\"\xc3\xa9\":1}]}]}",
}

// sameDecode fails t when Decode and the oracle differ on doc.
func sameDecode(t *testing.T, doc []byte) {
	t.Helper()
	got, gotErr := Decode(doc)
	want, wantErr := decodeOracle(doc)
	if !reflect.DeepEqual(gotErr, wantErr) {
		t.Fatalf("%q: error %#v, encoding/json %#v", doc, gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: decoded %+v, encoding/json %+v", doc, got, want)
	}
}

// Decode accepts exactly what encoding/json accepts, decodes it the same,
// and refuses the rest with encoding/json's error.
func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for _, doc := range decodeDocs {
		sameDecode(t, []byte(doc))
	}
}

// The requests clients send never need reflection.
func TestFastDecodeTakesUsualRequests(t *testing.T) {
	for _, doc := range decodeDocs[:16] {
		if _, ok := fastDecode([]byte(doc)); !ok {
			t.Errorf("%.80q left to encoding/json", doc)
		}
	}
}

func FuzzDecodeMatchesEncodingJSON(f *testing.F) {
	for _, doc := range decodeDocs {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		sameDecode(t, doc)
	})
}

// decodeSlots are requests with one value left open, so that the fuzzer's
// values land on every field, at every level, rather than mostly breaking
// the JSON around them.
var decodeSlots = []string{
	`{"model":%s,"messages":[]}`, `{"messages":%s}`, `{"messages":[%s]}`, `{"messages":[{"role":"user","content":%s}]}`,
	`{"messages":[{"content":[%s]}]}`, `{"messages":[{"content":[{"type":"image_url","image_url":%s}]}]}`,
	`{"messages":[{"content":[{"type":"text",%s}]}]}`, `{"messages":[{"role":"assistant",%s}]}`,
	`{"messages":[{"tool_calls":[%s]}]}`, `{"messages":[{"tool_calls":[{"id":"c",%s}]}]}`, `{"messages":[{"thinking_blocks":[%s]}]}`,
	`{"tools":[%s]}`, `{"tools":[{"type":"function","function":{"name":"f",%s}}]}`, `{"tool_choice":%s}`, `{"stop":%s}`,
	`{"stream_options":%s}`, `{"response_format":%s}`, `{"response_format":{"type":"json_schema","json_schema":%s}}`,
	`{"max_tokens":%s,"temperature":%[1]s,"seed":%[1]s,"stream":%[1]s,"store":%[1]s}`, `{"modalities":%s,"logit_bias":%[1]s,"metadata":%[1]s}`, `{%s}`,
}

func FuzzDecodeValue(f *testing.F) {
	for i, v := range []string{`"x"`, `null`, `1`, `-1.5e3`, `true`, `[]`, `{}`, `["a",null]`, `"a\"\u00e9\ud83d\ude00"`, `{"type":"function","function":{"name":"f"}}`,
		`{"include_usage":true}`, `"function":{"name":"f","arguments":"{}"}`, `"text":"t","x":[1,{}]`, `"Text":"t"`, `{"url":"u","detail":"low"}`, `"role":"a","role":"b"`} {
		f.Add(v, uint8(i))
	}
	f.Fuzz(func(t *testing.T, v string, slot uint8) {
		sameDecode(t, []byte(fmt.Sprintf(decodeSlots[int(slot)%len(decodeSlots)], v)))
	})
}
