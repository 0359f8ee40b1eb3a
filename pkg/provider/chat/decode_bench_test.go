package chat

import "testing"

// benchRequest is a realistic agent turn for a translating driver: a
// system message, several turns with tool calls and results, an image
// part, and tools whose parameters are JSON schemas.
const benchRequest = `{"model":"m","stream":true,"stream_options":{"include_usage":true},"max_tokens":1024,"temperature":0.2,"top_p":0.9,"stop":["\n\nUser:"],
"messages":[{"role":"system","content":"You are a helpful travel assistant. Answer briefly, use the tools when a fact may have changed, and never invent a booking reference."},
{"role":"user","content":[{"type":"text","text":"What is this building, and what is the weather there today?"},{"type":"image_url","image_url":{"url":"https://example.com/photos/landmark-0423.jpg","detail":"low"}}]},
{"role":"assistant","content":"It looks like the Eiffel Tower. Let me check the weather.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\",\"unit\":\"celsius\"}"}},{"id":"call_2","type":"function","function":{"name":"get_time","arguments":"{\"tz\":\"Europe/Paris\"}"}}]},
{"role":"tool","tool_call_id":"call_1","content":"{\"temp\":18,\"sky\":\"sunny\",\"wind_kmh\":12}"},{"role":"tool","tool_call_id":"call_2","content":"12:04"},
{"role":"assistant","content":"It is 18 °C and sunny in Paris, and just after noon."},
{"role":"user","content":"Thanks! Can you find me a table for two near it tonight at 8pm?"}],
"tools":[{"type":"function","function":{"name":"get_weather","description":"Current weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string","description":"City name"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["city"],"additionalProperties":false}}},
{"type":"function","function":{"name":"get_time","description":"Local time in an IANA time zone","parameters":{"type":"object","properties":{"tz":{"type":"string"}},"required":["tz"]}}},
{"type":"function","function":{"name":"book_table","description":"Book a restaurant table","parameters":{"type":"object","properties":{"near":{"type":"string"},"party":{"type":"integer","minimum":1,"maximum":12},"time":{"type":"string","format":"date-time"},"notes":{"type":"string"}},"required":["near","party","time"]},"strict":true}}],
"tool_choice":"auto","parallel_tool_calls":true,"user":"u-4711"}`

// BenchmarkDecode is the chat request decode every translating driver
// runs first in Prepare: Decode (fastDecode takes this request) and, for
// comparison, decodeStrict, encoding/json's decode it falls back to.
func BenchmarkDecode(b *testing.B) {
	body := []byte(benchRequest)
	for _, c := range []struct {
		name   string
		decode func([]byte) (*Request, error)
	}{{"Decode", Decode}, {"encoding_json", decodeStrict}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := c.decode(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
