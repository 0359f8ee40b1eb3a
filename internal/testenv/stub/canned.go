package stub

import (
	"encoding/json"
	"net/http"
)

// Kong's response fixtures (spec/fixtures/ai-proxy/openai/llm-v1-chat/responses/).
const (
	kongHTML = `<!DOCTYPE html>
<html>
  <head>
    <title>Fake Internal Server Error</title>
  </head>

  <body>
    <p><h1>This is a fake Internal Server Error</h1></p>
    <p>It has come from your Mock AI server.</p>
  </body>
</html>
`
	kongNoChoices = `{
  "nothing_object": {
    "not_interesting_tag_names": "bad string",
    "and_an_array": [
        "because",
        "why",
        "not"
    ]
  }
}
`
)

// canned writes the answer X-Stub-Answer names, if it names one the stub
// answers without reading the request.
func (s *Server) canned(w http.ResponseWriter, r *http.Request) bool {
	switch r.Header.Get("X-Stub-Answer") {
	case "html":
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(kongHTML))
	case "no-choices":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(kongNoChoices))
	case "echo-auth":
		msg, _ := json.Marshal("invalid key " + r.Header.Get("Authorization") + " from query " + r.URL.RawQuery)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":{"message":` + string(msg) + `,"type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`))
	case "echo-auth-sse":
		msg, _ := json.Marshal("invalid key " + r.Header.Get("Authorization") + " from query " + r.URL.RawQuery)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`data: {"error":{"message":` + string(msg) + `,"type":"invalid_request_error","param":null,"code":"invalid_api_key"}}` + "\n\n"))
	default:
		return false
	}
	return true
}
