package gemini

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

func jsonEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want is not JSON: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestTranslate(t *testing.T) {
	seven := 7
	cases := []struct {
		name, model, in, want string
		topK                  *int
	}{
		{"text and system", "gemini-2.5-flash",
			`{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"developer","content":[{"type":"text","text":"No jokes."}]},{"role":"user","content":"What is 1 + 1?"}]}`,
			`{"contents":[{"role":"user","parts":[{"text":"What is 1 + 1?"}]}],"systemInstruction":{"parts":[{"text":"Be brief."},{"text":"No jokes."}]}}`, nil},
		{"generation config", "gemini-2.5-flash",
			`{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":100,"temperature":0.5,"top_p":0.9,"stop":"END","seed":3,"presence_penalty":0.1,"frequency_penalty":0.2}`,
			`{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"maxOutputTokens":100,"temperature":0.5,"topP":0.9,"topK":7,"stopSequences":["END"],"seed":3,"presencePenalty":0.1,"frequencyPenalty":0.2}}`, &seven},
		{"max_completion_tokens wins", "gemini-2.5-flash",
			`{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":100,"max_completion_tokens":50,"stop":["a","b"]}`,
			`{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"maxOutputTokens":50,"stopSequences":["a","b"]}}`, nil},
		{"json schema", "gemini-2.5-flash",
			`{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","additionalProperties":false}}}}`,
			`{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"responseMimeType":"application/json","responseJsonSchema":{"type":"object","additionalProperties":false}}}`, nil},
		{"json object", "gemini-2.5-flash",
			`{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_object"}}`,
			`{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"responseMimeType":"application/json"}}`, nil},
		{"reasoning 2.5", "gemini-2.5-pro",
			`{"model":"m","messages":[{"role":"user","content":"hi"}],"reasoning_effort":"low"}`,
			`{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"thinkingConfig":{"includeThoughts":true,"thinkingBudget":1024}}}`, nil},
		{"reasoning none", "gemini-2.5-flash",
			`{"model":"m","messages":[{"role":"user","content":"hi"}],"reasoning_effort":"none"}`,
			`{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"thinkingConfig":{"thinkingBudget":0}}}`, nil},
		{"reasoning 3", "gemini-3-pro-preview",
			`{"model":"m","messages":[{"role":"user","content":"hi"}],"reasoning_effort":"high"}`,
			`{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"thinkingConfig":{"includeThoughts":true,"thinkingLevel":"high"}}}`, nil},
		{"images and files", "gemini-2.5-flash",
			`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},{"type":"image_url","image_url":{"url":"gs://bucket/cat.JPG"}},{"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERi0="}},{"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}}]}]}`,
			`{"contents":[{"role":"user","parts":[{"text":"look"},{"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}},{"fileData":{"mimeType":"image/jpeg","fileUri":"gs://bucket/cat.JPG"}},{"inlineData":{"mimeType":"application/pdf","data":"JVBERi0="}},{"inlineData":{"mimeType":"audio/wav","data":"UklGRg=="}}]}]}`, nil},
		{"tools and choice", "gemini-2.5-flash",
			`{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","description":"d","parameters":{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}}},{"type":"function","function":{"name":"g"}}],"tool_choice":{"type":"function","function":{"name":"g"}}}`,
			`{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"tools":[{"functionDeclarations":[{"name":"f","description":"d","parametersJsonSchema":{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}},{"name":"g"}]}],"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["g"]}}}`, nil},
		{"tool_choice modes", "gemini-2.5-flash",
			`{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required"}`,
			`{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"tools":[{"functionDeclarations":[{"name":"f"}]}],"toolConfig":{"functionCallingConfig":{"mode":"ANY"}}}`, nil},
		{"tool round trip", "gemini-2.5-flash",
			`{"model":"m","messages":[{"role":"user","content":"weather?"},
			  {"role":"assistant","content":"Checking.","tool_calls":[{"id":"call_1__thought__c2ln","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},{"id":"call_2","type":"function","function":{"name":"get_time","arguments":""}}]},
			  {"role":"tool","tool_call_id":"call_1__thought__c2ln","content":"sunny, 20C"},
			  {"role":"tool","tool_call_id":"call_2","content":"{\"time\":\"12:00\"}"},
			  {"role":"tool","tool_call_id":"call_2","content":"[1,2]"},
			  {"role":"user","content":"thanks"}]}`,
			`{"contents":[{"role":"user","parts":[{"text":"weather?"}]},
			  {"role":"model","parts":[{"text":"Checking."},{"functionCall":{"name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"c2ln"},{"functionCall":{"name":"get_time","args":{}}}]},
			  {"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"result":"sunny, 20C"}}},{"functionResponse":{"name":"get_time","response":{"time":"12:00"}}},{"functionResponse":{"name":"get_time","response":{"result":[1,2]}}},{"text":"thanks"}]}]}`, nil},
		{"gemini 3 replay without signature", "gemini-3-flash",
			`{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"ok"}]}`,
			`{"contents":[{"role":"user","parts":[{"text":"x"}]},{"role":"model","parts":[{"functionCall":{"name":"f","args":{}},"thoughtSignature":"skip_thought_signature_validator"}]},{"role":"user","parts":[{"functionResponse":{"name":"f","response":{"result":"ok"}}}]}]}`, nil},
		{"empty assistant skipped, html kept", "gemini-2.5-flash",
			`{"model":"m","messages":[{"role":"user","content":"a<b>&"},{"role":"assistant","content":""},{"role":"user","content":"c"}]}`,
			`{"contents":[{"role":"user","parts":[{"text":"a<b>&"},{"text":"c"}]}]}`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, got, err := translate([]byte(c.in), c.model, c.topK)
			if err != nil {
				t.Fatal(err)
			}
			jsonEqual(t, got, c.want)
			if c.name == "empty assistant skipped, html kept" && !strings.Contains(string(got), "a<b>&") {
				t.Fatalf("HTML escaped: %s", got)
			}
		})
	}
}

func TestTranslateRefuses(t *testing.T) {
	cases := []struct{ name, in, param string }{
		{"http image", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}`, "messages[0].content[0].image_url.url"},
		{"gs unknown ext", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"gs://b/x.bin"}}]}]}`, "messages[0].content[0].image_url.url"},
		{"bad data url", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,abc"}}]}]}`, "messages[0].content[0].image_url.url"},
		{"not an image", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:text/plain;base64,YQ=="}}]}]}`, "messages[0].content[0].image_url.url"},
		{"file id", `{"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"f"}}]}]}`, "messages[0].content[0].file"},
		{"unknown tool result", `{"model":"m","messages":[{"role":"user","content":"x"},{"role":"tool","tool_call_id":"nope","content":"r"}]}`, "messages[1].tool_call_id"},
		{"bad arguments", `{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`, "messages[1].tool_calls[0].function.arguments"},
		{"empty user", `{"model":"m","messages":[{"role":"user","content":""}]}`, "messages[0].content"},
		{"only system", `{"model":"m","messages":[{"role":"system","content":"s"}]}`, "messages"},
		{"n", `{"model":"m","n":2,"messages":[{"role":"user","content":"x"}]}`, "n"},
		{"parallel off", `{"model":"m","parallel_tool_calls":false,"messages":[{"role":"user","content":"x"}]}`, "parallel_tool_calls"},
		{"unknown member", `{"model":"m","web_search_options":{},"messages":[{"role":"user","content":"x"}]}`, "web_search_options"},
		{"tool_choice without tools", `{"model":"m","tool_choice":"required","messages":[{"role":"user","content":"x"}]}`, "tool_choice"},
		{"too many stops", `{"model":"m","stop":["1","2","3","4","5","6"],"messages":[{"role":"user","content":"x"}]}`, "stop"},
		{"effort", `{"model":"m","reasoning_effort":"max","messages":[{"role":"user","content":"x"}]}`, "reasoning_effort"},
		{"role", `{"model":"m","messages":[{"role":"function","content":"x"}]}`, "messages[0].role"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := translate([]byte(c.in), "gemini-2.5-flash", nil)
			pe, ok := err.(*provider.Error)
			if !ok {
				t.Fatalf("want a *provider.Error, got %v", err)
			}
			if pe.Status != 400 || pe.Param != c.param {
				t.Fatalf("got %d param %q (%s), want 400 %q", pe.Status, pe.Param, pe.Message, c.param)
			}
		})
	}
}
